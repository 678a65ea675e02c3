//! `DELETE /posts/{id}`.

use shared::ApiError;
use shared::domain::PostId;
use shared::http::{Body, Request, Response, caller, no_content, path_id};
use shared::openapi::{
    NoSuchPost, NotYours, TAG_POSTS, Unauthorized, Unavailable, ValidationFailed,
};
use shared::ports::PostStore;

/// 204 with an empty body; the post's votes go with it. 404 (checked first) or 403.
#[utoipa::path(
    delete,
    path = "/posts/{id}",
    operation_id = "delete_post",
    tag = TAG_POSTS,
    summary = "Delete Post",
    description = "Deletes one of the caller's posts, and its votes with it.",
    params(("id" = u64, Path, description = "The post's id", minimum = 1, maximum = 9007199254740991_u64)),
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 204, description = "Deleted; no body"),
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
    store.delete_post(id, me.id).await?;
    no_content()
}
