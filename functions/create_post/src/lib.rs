//! `POST /posts`.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, body, caller, json};
use shared::models::{NewPost, PostJson};
use shared::store::Store;

/// 201 with the new post, owned by the caller (one conditional PutItem). The owner's e-mail
/// and creation time come from the authorizer context, so no user read is needed.
pub async fn handle(store: &Store, req: Request) -> Result<Response<Body>, ApiError> {
    let owner = caller(&req)?;
    let new = NewPost::from_json(body(&req))?;
    let post = store
        .create_post(&owner, new.title, new.content, new.published)
        .await?;
    json(StatusCode::CREATED, &PostJson::from(&post))
}
