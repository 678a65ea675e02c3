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
