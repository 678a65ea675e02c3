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
