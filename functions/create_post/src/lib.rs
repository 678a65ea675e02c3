//! `POST /posts`.

use shared::ApiError;
use shared::domain::PostDraft;
use shared::http::{Body, Request, Response, StatusCode, caller, json, json_body};
use shared::models::{NewPost, PostJson};
use shared::openapi::{TAG_POSTS, Unauthorized, Unavailable, ValidationFailed};
use shared::ports::PostStore;

/// 201 with the new post, owned by the caller (one conditional PutItem). The owner's e-mail
/// and creation time come from the authorizer context, so no user read is needed.
#[utoipa::path(
    post,
    path = "/posts",
    operation_id = "create_post",
    tag = TAG_POSTS,
    summary = "Create Posts",
    description = "A post owned by the caller.",
    request_body = NewPost,
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 201, description = "The new post", body = PostJson),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(store: &impl PostStore, req: Request) -> Result<Response<Body>, ApiError> {
    let owner = caller(&req)?;
    let new = NewPost::from_json(json_body(&req)?)?;
    let post = store
        .create_post(
            &owner,
            PostDraft {
                title: new.title,
                content: new.content,
                published: new.published,
            },
        )
        .await?;
    json(StatusCode::CREATED, &PostJson::from(&post))
}
