//! `GET /posts`: every user's posts, newest first.

use shared::ApiError;
use shared::cursor::{self, CURSOR_PARAM, NEXT_CURSOR_HEADER};
use shared::http::{Body, Request, Response, StatusCode, caller, json, query_int, query_str};
use shared::models::PostOut;
use shared::openapi::{TAG_POSTS, Unauthorized, Unavailable, ValidationFailed};
use shared::ports::PostStore;

/// Largest page a client may ask for.
pub const MAX_LIMIT: i64 = 100;

/// `limit` (default 10, 0..=100), `skip` (default 0, >= 0), `search` (case-sensitive,
/// literal substring of the title) and `cursor` (from the previous page's `X-Next-Cursor`);
/// 200 with `[{"Post": ..., "votes": n}, ...]`, and `X-Next-Cursor` when the page is full.
#[utoipa::path(
    get,
    path = "/posts",
    operation_id = "list_posts",
    tag = TAG_POSTS,
    summary = "Get Posts",
    description = "Every user's posts, published or not, newest first, with their votes. \
        A full page carries an `X-Next-Cursor` header: pass it back as `cursor` (with the same \
        `search`) for the next page, which then costs the same however deep it is.",
    params(
        ("limit" = Option<i64>, Query, description = "Page size", minimum = 0, maximum = 100, example = 10),
        ("skip" = Option<i64>, Query, description = "Posts to skip (after the cursor's position, with a cursor)", minimum = 0, maximum = 2147483647, example = 0),
        ("search" = Option<String>, Query, description = "Case-sensitive, literal substring of the title"),
        ("cursor" = Option<String>, Query, description = "Opaque: the X-Next-Cursor of the previous page, for the same search; anything else is 422", pattern = "^[0-9a-f]{32}$"),
    ),
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "A page of posts", body = Vec<PostOut>,
            headers(("X-Next-Cursor" = String, description = "Present when the page is full: the `cursor` of the next page"))),
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
    let before = query_str(&req, CURSOR_PARAM)
        .map(|c| cursor::decode(&c, &search))
        .transpose()?;
    let posts = store
        .list_posts(limit as usize, skip as usize, &search, before)
        .await?;
    let out: Vec<PostOut> = posts.iter().map(PostOut::from).collect();
    let mut response = json(StatusCode::OK, &out)?;
    // A full page may have a next one; a short page is the last. (A full last page is
    // followed by an empty one.)
    if let (Some(last), true) = (posts.last(), posts.len() == limit as usize) {
        let headers = response.headers_mut();
        let value = cursor::encode(last.id, &search);
        headers.insert(
            NEXT_CURSOR_HEADER,
            value.parse().map_err(ApiError::internal)?,
        );
        // Without it a browser hides the header from a page of another origin (CORS).
        headers.insert(
            "access-control-expose-headers",
            shared::http::HeaderValue::from_static("X-Next-Cursor"),
        );
    }
    Ok(response)
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

/// The handler against the in-memory store: one test per answer of the contract.
#[cfg(test)]
mod handler_tests {
    use super::*;
    use shared::domain::{Post, User};
    use shared::memory::MemoryStore;
    use shared::ports::VoteStore;
    use shared::testing::{
        TestRequest, add_post, add_user, body_json, detail, error_locations, header, request,
        respond,
    };

    fn list() -> TestRequest {
        request("GET", "/posts")
    }

    /// Posts of `owner`'s, one per title, each a few milliseconds after the last: ids order
    /// posts by creation time only to the millisecond (`shared::ids`), so posts made within
    /// one millisecond have no defined order.
    async fn add_posts_in_order(store: &MemoryStore, owner: &User, titles: &[&str]) -> Vec<Post> {
        let mut posts = Vec::new();
        for title in titles {
            std::thread::sleep(std::time::Duration::from_millis(2));
            posts.push(add_post(store, owner, title).await);
        }
        posts
    }

    fn titles(answer: &Response<Body>) -> Vec<String> {
        body_json(answer)
            .as_array()
            .expect("a list of posts")
            .iter()
            .map(|p| p["Post"]["title"].as_str().unwrap().to_string())
            .collect()
    }

    #[tokio::test]
    async fn every_users_posts_are_listed_newest_first_with_their_votes() {
        // GIVEN ann's and bob's posts, the first with bob's vote
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let bob = add_user(&store, "bob@example.com").await;
        let first = add_posts_in_order(&store, &ann, &["first"]).await.remove(0);
        add_posts_in_order(&store, &bob, &["second"]).await;
        add_posts_in_order(&store, &ann, &["third"]).await;
        store.add_vote(first.id, bob.id).await.unwrap();
        // WHEN bob lists posts
        let answer = respond(handle(&store, list().as_caller(&bob).build()).await);
        // THEN all three, newest first, each with its owner and votes
        assert_eq!(answer.status(), 200);
        assert_eq!(titles(&answer), ["third", "second", "first"]);
        let body = body_json(&answer);
        assert_eq!(body[2]["votes"], 1);
        assert_eq!(body[2]["Post"]["owner"]["email"], "ann@example.com");
        assert_eq!(body[0]["votes"], 0);
    }

    #[tokio::test]
    async fn limit_skip_and_search_select_the_page() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        add_posts_in_order(&store, &ann, &["cat 1", "dog 1", "cat 2", "cat 3", "Cat 4"]).await;
        let req = list()
            .query("search", "cat")
            .query("skip", 1)
            .query("limit", 1)
            .as_caller(&ann);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 200);
        // "cat 3", "cat 2", "cat 1" match (case-sensitive); skip one, take one.
        assert_eq!(titles(&answer), ["cat 2"]);
    }

    #[tokio::test]
    async fn the_page_is_10_posts_by_default() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        for i in 0..12 {
            add_post(&store, &ann, &format!("post {i}")).await;
        }
        let answer = respond(handle(&store, list().as_caller(&ann).build()).await);
        assert_eq!(titles(&answer).len(), 10);
        let answer =
            respond(handle(&store, list().query("limit", 0).as_caller(&ann).build()).await);
        assert_eq!(body_json(&answer), serde_json::json!([]));
    }

    #[tokio::test]
    async fn a_full_page_carries_a_cursor_that_pages_on_like_skip() {
        // GIVEN five posts
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        add_posts_in_order(&store, &ann, &["p1", "p2", "p3", "p4", "p5"]).await;
        let page = |cursor: Option<String>| {
            let mut req = list().query("limit", 2).as_caller(&ann);
            if let Some(c) = cursor {
                req = req.query("cursor", c);
            }
            req.build()
        };
        // WHEN pages of two are read by following X-Next-Cursor
        let first = respond(handle(&store, page(None)).await);
        assert_eq!(titles(&first), ["p5", "p4"]);
        assert_eq!(
            header(&first, "access-control-expose-headers"),
            Some("X-Next-Cursor")
        );
        let next = header(&first, "x-next-cursor").unwrap().to_string();
        let second = respond(handle(&store, page(Some(next))).await);
        assert_eq!(titles(&second), ["p3", "p2"]);
        let next = header(&second, "x-next-cursor").unwrap().to_string();
        let third = respond(handle(&store, page(Some(next))).await);
        // THEN the last, short page has no cursor
        assert_eq!(titles(&third), ["p1"]);
        assert_eq!(header(&third, "x-next-cursor"), None);
    }

    #[tokio::test]
    async fn a_malformed_cursor_or_one_of_another_search_is_422_at_query_cursor() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        add_posts_in_order(&store, &ann, &["cat 1", "cat 2", "dog"]).await;
        let req = list()
            .query("search", "cat")
            .query("limit", 1)
            .as_caller(&ann);
        let first = respond(handle(&store, req.build()).await);
        let cursor = header(&first, "x-next-cursor").unwrap().to_string();
        for (search, cursor) in [
            ("dog", cursor.as_str()),
            ("", cursor.as_str()),
            ("cat", "not-a-cursor"),
            ("cat", ""),
            ("cat", &cursor[..31]),
        ] {
            let req = list()
                .query("search", search)
                .query("cursor", cursor)
                .as_caller(&ann);
            let answer = respond(handle(&store, req.build()).await);
            assert_eq!(answer.status(), 422, "search {search:?} cursor {cursor:?}");
            assert_eq!(error_locations(&answer), ["query.cursor"]);
        }
    }

    #[tokio::test]
    async fn list_posts_without_a_caller_is_401() {
        let store = MemoryStore::new();
        let answer = respond(handle(&store, list().build()).await);
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), shared::answers::NOT_AUTHENTICATED);
    }

    #[tokio::test]
    async fn a_limit_or_skip_out_of_range_or_not_a_number_is_422() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        for (name, value) in [
            ("limit", "101"),
            ("limit", "-1"),
            ("limit", "ten"),
            ("skip", "-1"),
        ] {
            let req = list().query(name, value).as_caller(&ann);
            let answer = respond(handle(&store, req.build()).await);
            assert_eq!(answer.status(), 422, "{name}={value}");
            assert_eq!(error_locations(&answer), [format!("query.{name}")]);
        }
    }

    #[tokio::test]
    async fn list_posts_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        store.set_unavailable(true);
        let answer = respond(handle(&store, list().as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
