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

#[cfg(test)]
mod tests {
    use super::*;
    use shared::memory::MemoryStore;
    use shared::ports::VoteStore;
    use shared::testing::{
        add_post, add_user, body_json, detail, error_locations, header, request, respond,
    };

    fn get(id: impl std::fmt::Display) -> shared::testing::TestRequest {
        request("GET", &format!("/posts/{id}")).path_param("id", id)
    }

    #[tokio::test]
    async fn a_post_is_answered_with_its_owner_and_votes() {
        // GIVEN ann's post with one vote (bob's)
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let bob = add_user(&store, "bob@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        store.add_vote(post.id, bob.id).await.unwrap();
        // WHEN bob reads it
        let answer = respond(handle(&store, get(post.id).as_caller(&bob).build()).await);
        // THEN 200 with the post, its owner and the count
        assert_eq!(answer.status(), 200);
        let body = body_json(&answer);
        assert_eq!(body["votes"], 1);
        assert_eq!(body["Post"]["id"], post.id.get());
        assert_eq!(body["Post"]["title"], "hello");
        assert_eq!(body["Post"]["content"], "content of hello");
        assert_eq!(body["Post"]["published"], true);
        assert_eq!(body["Post"]["owner_id"], ann.id.get());
        assert_eq!(body["Post"]["owner"]["email"], "ann@example.com");
    }

    #[tokio::test]
    async fn get_post_without_a_caller_is_401() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        let answer = respond(handle(&store, get(post.id).build()).await);
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), shared::answers::NOT_AUTHENTICATED);
        assert_eq!(header(&answer, "www-authenticate"), Some("Bearer"));
    }

    #[tokio::test]
    async fn an_unknown_post_is_404_was_not_found() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let answer = respond(handle(&store, get(5).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 404);
        assert_eq!(detail(&answer), "post with id: 5 was not found");
    }

    #[tokio::test]
    async fn an_id_that_is_not_a_positive_integer_is_422_at_path_id() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        for bad in ["abc", "0", "-1", "9007199254740992"] {
            let answer = respond(handle(&store, get(bad).as_caller(&ann).build()).await);
            assert_eq!(answer.status(), 422, "{bad}");
            assert_eq!(error_locations(&answer), ["path.id"], "{bad}");
        }
    }

    #[tokio::test]
    async fn get_post_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        store.set_unavailable(true);
        let answer = respond(handle(&store, get(post.id).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(detail(&answer), "Service Unavailable");
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
