//! `DELETE /posts/{id}`.

use shared::ApiError;
use shared::http::{Body, Request, Response, caller, no_content, path_id};
use shared::store::Store;

/// 204 with an empty body; the post's votes go with it. 404 (checked first) or 403.
pub async fn handle(store: &Store, req: Request) -> Result<Response<Body>, ApiError> {
    let me = caller(&req)?;
    let id = path_id(&req, "id")?;
    store
        .delete_post(id, me.id)
        .await
        .map_err(|e| e.answer(id))?;
    no_content()
}
