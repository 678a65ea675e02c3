//! `PUT /posts/{id}`: full replacement of a post of the caller's.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, body, caller, json, path_id};
use shared::models::{NewPost, PostJson};
use shared::store::{PostChanges, Store};

/// Replaces title, content and published (default true); id, created_at and owner stay.
/// 404 (checked first) or 403 when it is not the caller's.
pub async fn handle(store: &Store, req: Request) -> Result<Response<Body>, ApiError> {
    let me = caller(&req)?;
    let id = path_id(&req, "id")?;
    let new = NewPost::from_json(body(&req))?;
    let changes = PostChanges {
        title: Some(new.title),
        content: Some(new.content),
        published: Some(new.published),
    };
    let post = store
        .update_post(id, me.id, changes)
        .await
        .map_err(|e| e.answer(id))?;
    json(StatusCode::OK, &PostJson::from(&post))
}
