//! `PUT /posts/{id}`: full replacement of a post of the caller's.

use shared::ApiError;
use shared::domain::{PostChanges, PostId};
use shared::http::{Body, Request, Response, StatusCode, caller, json, json_body, path_id};
use shared::models::{NewPost, PostJson};
use shared::openapi::{
    NoSuchPost, NotYours, TAG_POSTS, Unauthorized, Unavailable, ValidationFailed,
};
use shared::ports::PostStore;

/// Replaces title, content and published (default true); id, created_at and owner stay.
/// 404 (checked first) or 403 when it is not the caller's.
#[utoipa::path(
    put,
    path = "/posts/{id}",
    operation_id = "update_post",
    tag = TAG_POSTS,
    summary = "Update Post",
    description = "Replaces title, content and published (`published` defaults to true) of one of the caller's posts.",
    params(("id" = u64, Path, description = "The post's id", minimum = 1, maximum = 9007199254740991_u64)),
    request_body = NewPost,
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "The post as it is now", body = PostJson),
        (status = 401, response = Unauthorized),
        (status = 403, response = NotYours),
        (status = 404, response = NoSuchPost),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(store: &impl PostStore, req: Request) -> Result<Response<Body>, ApiError> {
    let me = caller(&req)?;
    let id = PostId::new(path_id(&req, "id")?);
    let new = NewPost::from_json(json_body(&req)?)?;
    let changes = PostChanges {
        title: Some(new.title),
        content: Some(new.content),
        published: Some(new.published),
    };
    let post = store.update_post(id, me.id, changes).await?;
    json(StatusCode::OK, &PostJson::from(&post))
}
