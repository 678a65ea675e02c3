//! `PATCH /posts/{id}`: partial update of a post of the caller's.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, body, caller, json, path_id};
use shared::models::{PostJson, PostPatch};
use shared::store::{PostChanges, Store};

/// Changes any subset of title, content and published; the rest stays. Errors as for PUT.
pub async fn handle(store: &Store, req: Request) -> Result<Response<Body>, ApiError> {
    let me = caller(&req)?;
    let id = path_id(&req, "id")?;
    let patch = PostPatch::from_json(body(&req))?;
    let changes = PostChanges {
        title: patch.title,
        content: patch.content,
        published: patch.published,
    };
    let post = store
        .update_post(id, me.id, changes)
        .await
        .map_err(|e| e.answer(id))?;
    json(StatusCode::OK, &PostJson::from(&post))
}
