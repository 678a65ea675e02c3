//! `GET /posts`: every user's posts, newest first.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, caller, json, query_int, query_str};
use shared::models::PostOut;
use shared::openapi::{TAG_POSTS, Unauthorized, Unavailable, ValidationFailed};
use shared::ports::PostStore;

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
pub async fn handle(store: &impl PostStore, req: Request) -> Result<Response<Body>, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::{Email, Post, PostId, User, UserId};
    use shared::models::{MAX_CONTENT_CHARS, MAX_TITLE_CHARS};
    use shared::validate::is_refused_control;

    /// Lambda's limit on a synchronous response: the whole proxy result, body escaped inside.
    const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

    /// Bytes a text costs in the proxy result: JSON-encoded in the body, and the body again
    /// JSON-encoded as a string of the result (less the quotes around each).
    fn proxy_bytes(text: &str) -> usize {
        let body = serde_json::to_string(text).unwrap();
        serde_json::to_string(&body).unwrap().len() - 6
    }

    #[test]
    fn no_character_a_post_may_hold_costs_more_than_4_bytes_in_the_proxy_result() {
        let worst = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter(|c| !is_refused_control(*c))
            .map(|c| proxy_bytes(c.encode_utf8(&mut [0; 4])))
            .max();
        assert_eq!(worst, Some(4));
        // What the rule keeps out: one control character would cost 7.
        assert_eq!(proxy_bytes("\u{1}"), 7);
    }

    #[tokio::test]
    async fn a_full_page_of_the_most_expensive_posts_fits_lambdas_6_mb_with_margin() {
        // GIVEN 100 posts (the largest `limit`) whose every character costs the most it can
        let owner = User {
            id: UserId::new(shared::ids::MAX_ID),
            email: Email::from_trusted(format!("{}@{}.com", "\"".repeat(64), "x".repeat(185))),
            created_at: "2026-11-22T00:00:00.000000+00:00".into(),
        };
        let post = Post {
            id: PostId::new(shared::ids::MAX_ID),
            title: "\"".repeat(MAX_TITLE_CHARS),
            content: "\\".repeat(MAX_CONTENT_CHARS),
            published: true,
            created_at: "2026-11-22T00:00:00.000000+00:00".into(),
            owner,
            votes: u64::MAX,
        };
        let page: Vec<PostOut> = (0..MAX_LIMIT).map(|_| PostOut::from(&post)).collect();
        // WHEN it is answered and wrapped the way the runtime hands it to API Gateway
        let response = json(StatusCode::OK, &page).unwrap();
        let body = std::str::from_utf8(response.body().as_ref()).unwrap();
        let result = serde_json::json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json", "access-control-allow-origin": "*"},
            "multiValueHeaders": {"content-type": ["application/json"], "access-control-allow-origin": ["*"]},
            "body": body,
            "isBase64Encoded": false,
        });
        let size = serde_json::to_string(&result).unwrap().len();
        // THEN it stays under the 4.5 MB docs/api.md promises: 1.5 MB below Lambda's limit
        println!("worst-case page: {size} bytes");
        assert!(size < 4_500_000, "{size} bytes");
        assert!(size < LAMBDA_RESPONSE_LIMIT);
    }
}
