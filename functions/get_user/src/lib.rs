//! `GET /users/{id}`.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, json, path_id};
use shared::models::UserOut;
use shared::store::Store;

/// 200 with the user (one GetItem), 404 when there is none, 422 for a bad id.
pub async fn handle(store: &Store, req: Request) -> Result<Response<Body>, ApiError> {
    let id = path_id(&req, "id")?;
    let user = store
        .get_user(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("User with id: {id} does not exist")))?;
    json(StatusCode::OK, &UserOut::from(&user))
}
