//! `GET /posts`: every user's posts, newest first.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, caller, json, query_int, query_str};
use shared::models::PostOut;
use shared::openapi::{TAG_POSTS, Unauthorized, Unavailable, ValidationFailed};
use shared::store::Store;

/// Largest page a client may ask for.
pub const MAX_LIMIT: i64 = 100;

/// `limit` (default 10, 0..=100), `skip` (default 0, >= 0) and `search` (case-sensitive,
/// literal substring of the title); 200 with `[{"Post": ..., "votes": n}, ...]`.
#[utoipa::path(
    get,
    path = "/posts",
    operation_id = "list_posts",
    tag = TAG_POSTS,
    summary = "Get Posts",
    description = "Every user's posts, published or not, newest first, with their votes.",
    params(
        ("limit" = Option<i64>, Query, description = "Page size", minimum = 0, maximum = 100, example = 10),
        ("skip" = Option<i64>, Query, description = "Posts to skip", minimum = 0, maximum = 2147483647, example = 0),
        ("search" = Option<String>, Query, description = "Case-sensitive, literal substring of the title"),
    ),
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "A page of posts", body = Vec<PostOut>),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(store: &Store, req: Request) -> Result<Response<Body>, ApiError> {
    caller(&req)?;
    let limit = query_int(&req, "limit", 10, 0, MAX_LIMIT)?;
    let skip = query_int(&req, "skip", 0, 0, i64::from(i32::MAX))?;
    let search = query_str(&req, "search").unwrap_or_default();
    let posts = store
        .list_posts(limit as usize, skip as usize, &search)
        .await?;
    let out: Vec<PostOut> = posts.iter().map(PostOut::from).collect();
    json(StatusCode::OK, &out)
}
