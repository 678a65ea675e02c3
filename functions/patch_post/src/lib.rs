//! `PATCH /posts/{id}`: partial update of a post of the caller's.

use shared::ApiError;
use shared::domain::{PostChanges, PostId};
use shared::http::{Body, Request, Response, StatusCode, caller, json, json_body, path_id};
use shared::models::{PostJson, PostPatch};
use shared::openapi::{
    NoSuchPost, NotYours, TAG_POSTS, Unauthorized, Unavailable, ValidationFailed,
};
use shared::ports::PostStore;

/// Changes any subset of title, content and published; the rest stays. Errors as for PUT.
#[utoipa::path(
    patch,
    path = "/posts/{id}",
    operation_id = "patch_post",
    tag = TAG_POSTS,
    summary = "Patch Post",
    description = "Changes any subset of title, content and published of one of the caller's posts; the rest stays.",
    params(("id" = u64, Path, description = "The post's id", minimum = 1, maximum = 9007199254740991_u64)),
    request_body = PostPatch,
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
    let patch = PostPatch::from_json(json_body(&req)?)?;
    let changes = PostChanges {
        title: patch.title,
        content: patch.content,
        published: patch.published,
    };
    let post = store.update_post(id, me.id, changes).await?;
    json(StatusCode::OK, &PostJson::from(&post))
}
