//! `GET /users/{id}`.

use shared::ApiError;
use shared::answers::user_not_found;
use shared::domain::UserId;
use shared::error::HttpError;
use shared::http::{Body, Request, Response, StatusCode, json, path_id};
use shared::models::UserOut;
use shared::openapi::{TAG_USERS, Unavailable, ValidationFailed};
use shared::ports::UserStore;

/// 200 with the user (one GetItem), 404 when there is none, 422 for a bad id.
#[utoipa::path(
    get,
    path = "/users/{id}",
    operation_id = "get_user",
    tag = TAG_USERS,
    summary = "Get User",
    params(("id" = u64, Path, description = "The user's id", minimum = 1, maximum = 9007199254740991_u64)),
    responses(
        (status = 200, description = "The user", body = UserOut),
        (status = 404, description = "No such user", body = HttpError,
         example = json!({"detail": "User with id: 5 does not exist"})),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(store: &impl UserStore, req: Request) -> Result<Response<Body>, ApiError> {
    let id = UserId::new(path_id(&req, "id")?);
    let user = store
        .get_user(id)
        .await?
        .ok_or_else(|| user_not_found(id))?;
    json(StatusCode::OK, &UserOut::from(&user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::memory::MemoryStore;
    use shared::testing::{
        TestRequest, add_user, body_json, detail, error_locations, header, request, respond,
    };

    fn get(id: impl std::fmt::Display) -> TestRequest {
        request("GET", &format!("/users/{id}")).path_param("id", id)
    }

    #[tokio::test]
    async fn a_user_is_answered_without_a_password() {
        // GIVEN ann signed up
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        // WHEN anyone asks for her (the route is public)
        let answer = respond(handle(&store, get(ann.id).build()).await);
        // THEN 200 with exactly id, email and created_at
        assert_eq!(answer.status(), 200);
        assert_eq!(
            body_json(&answer),
            serde_json::json!({
                "id": ann.id.get(),
                "email": "ann@example.com",
                "created_at": ann.created_at,
            })
        );
    }

    #[tokio::test]
    async fn an_unknown_user_is_404() {
        let store = MemoryStore::new();
        let answer = respond(handle(&store, get(5).build()).await);
        assert_eq!(answer.status(), 404);
        assert_eq!(detail(&answer), "User with id: 5 does not exist");
    }

    #[tokio::test]
    async fn an_id_that_is_not_a_positive_integer_is_422_at_path_id() {
        let store = MemoryStore::new();
        for bad in ["abc", "0", "1.5", "9007199254740992"] {
            let answer = respond(handle(&store, get(bad).build()).await);
            assert_eq!(answer.status(), 422, "{bad}");
            assert_eq!(error_locations(&answer), ["path.id"], "{bad}");
        }
    }

    #[tokio::test]
    async fn get_user_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        store.set_unavailable(true);
        let answer = respond(handle(&store, get(ann.id).build()).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(detail(&answer), "Service Unavailable");
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
