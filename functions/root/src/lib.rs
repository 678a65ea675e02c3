//! `GET /`: a welcome message, so a client (or a smoke test) can see the API is up.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, json};
use shared::models::Message;

/// Answers 200 `{"message": "Hello World"}` (the course's root answer).
#[utoipa::path(
    get,
    path = "/",
    operation_id = "root",
    summary = "Root",
    description = "A welcome message: the API is up.",
    responses((status = 200, description = "Hello World", body = Message)),
)]
pub async fn handle(_state: &(), _req: Request) -> Result<Response<Body>, ApiError> {
    json(
        StatusCode::OK,
        &Message {
            message: "Hello World",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::testing::{body_json, request, respond};

    #[tokio::test]
    async fn the_root_says_hello_world_to_anyone() {
        let answer = respond(handle(&(), request("GET", "/").build()).await);
        assert_eq!(answer.status(), 200);
        assert_eq!(
            body_json(&answer),
            serde_json::json!({"message": "Hello World"})
        );
    }
}
