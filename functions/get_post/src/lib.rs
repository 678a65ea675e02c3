//! `GET /posts/{id}`.

use shared::ApiError;
use shared::answers::post_not_found;
use shared::domain::PostId;
use shared::error::HttpError;
use shared::http::{Body, Request, Response, StatusCode, caller, json, path_id};
use shared::models::PostOut;
use shared::openapi::{TAG_POSTS, Unauthorized, Unavailable, ValidationFailed};
use shared::ports::PostStore;

/// 200 with `{"Post": ..., "votes": n}` (one GetItem), or 404.
#[utoipa::path(
    get,
    path = "/posts/{id}",
    operation_id = "get_post",
    tag = TAG_POSTS,
    summary = "Get Post",
    params(("id" = u64, Path, description = "The post's id", minimum = 1, maximum = 9007199254740991_u64)),
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "The post and its votes", body = PostOut),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such post", body = HttpError,
         example = json!({"detail": "post with id: 5 was not found"})),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(store: &impl PostStore, req: Request) -> Result<Response<Body>, ApiError> {
    caller(&req)?;
    let id = PostId::new(path_id(&req, "id")?);
    let post = store
        .get_post(id)
        .await?
        .ok_or_else(|| post_not_found(id))?;
    json(StatusCode::OK, &PostOut::from(&post))
}
