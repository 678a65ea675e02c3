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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::domain::PostId;
    use shared::memory::MemoryStore;
    use shared::testing::{add_user, body_json, detail, error_locations, header, request, respond};

    #[tokio::test]
    async fn a_new_post_is_answered_201_and_stored_as_the_callers() {
        // GIVEN ann
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        // WHEN she posts
        let req = request("POST", "/posts")
            .json(json!({"title": "hello", "content": "world", "published": false}))
            .as_caller(&ann);
        let answer = respond(handle(&store, req.build()).await);
        // THEN 201 with the post, owned by her
        assert_eq!(answer.status(), 201);
        let body = body_json(&answer);
        assert_eq!(body["title"], "hello");
        assert_eq!(body["content"], "world");
        assert_eq!(body["published"], false);
        assert_eq!(body["owner_id"], ann.id.get());
        assert_eq!(body["owner"]["email"], "ann@example.com");
        // AND the store has it, with no votes
        let id = PostId::new(body["id"].as_u64().expect("an integer id"));
        let stored = store
            .get_post(id)
            .await
            .unwrap()
            .expect("the post is stored");
        assert_eq!(stored.title, "hello");
        assert_eq!(stored.owner, ann);
        assert_eq!(stored.votes, 0);
    }

    #[tokio::test]
    async fn published_defaults_to_true() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let req = request("POST", "/posts")
            .json(json!({"title": "t", "content": "c"}))
            .as_caller(&ann);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 201);
        assert_eq!(body_json(&answer)["published"], true);
    }

    #[tokio::test]
    async fn create_post_without_a_caller_is_401_and_stores_nothing() {
        let store = MemoryStore::new();
        let req = request("POST", "/posts").json(json!({"title": "t", "content": "c"}));
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), shared::answers::NOT_AUTHENTICATED);
        assert!(store.list_posts(10, 0, "", None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_post_with_a_missing_or_too_long_field_is_422_per_field() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let req = request("POST", "/posts")
            .json(json!({"title": "x".repeat(301)}))
            .as_caller(&ann);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["body.title", "body.content"]);
        assert!(store.list_posts(10, 0, "", None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_422() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        for req in [
            request("POST", "/posts").body("application/json", "{not json"),
            // A cross-site "simple request" body is refused even when it parses.
            request("POST", "/posts").body("text/plain", r#"{"title":"t","content":"c"}"#),
        ] {
            let answer = respond(handle(&store, req.as_caller(&ann).build()).await);
            assert_eq!(answer.status(), 422);
            assert_eq!(error_locations(&answer)[0].split('.').next(), Some("body"));
        }
        assert!(store.list_posts(10, 0, "", None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn create_post_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        store.set_unavailable(true);
        let req = request("POST", "/posts")
            .json(json!({"title": "t", "content": "c"}))
            .as_caller(&ann);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
