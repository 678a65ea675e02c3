//! `GET /posts/{id}`.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, caller, json, path_id};
use shared::models::PostOut;
use shared::store::Store;

/// 200 with `{"Post": ..., "votes": n}` (one GetItem), or 404.
pub async fn handle(store: &Store, req: Request) -> Result<Response<Body>, ApiError> {
    caller(&req)?;
    let id = path_id(&req, "id")?;
    let post = store
        .get_post(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("post with id: {id} was not found")))?;
    json(StatusCode::OK, &PostOut::from(&post))
}
