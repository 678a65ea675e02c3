//! `GET /posts`: every user's posts, newest first.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, caller, json, query_int, query_str};
use shared::models::PostOut;
use shared::store::Store;

/// Largest page a client may ask for.
pub const MAX_LIMIT: i64 = 100;

/// `limit` (default 10, 0..=100), `skip` (default 0, >= 0) and `search` (case-sensitive,
/// literal substring of the title); 200 with `[{"Post": ..., "votes": n}, ...]`.
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
