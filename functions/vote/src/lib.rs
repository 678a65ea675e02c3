//! `POST /vote`.

use shared::ApiError;
use shared::error::HttpError;
use shared::http::{Body, Request, Response, StatusCode, caller, json, json_body};
use shared::models::{Message, VoteDir, VoteRequest};
use shared::openapi::{TAG_VOTE, Unauthorized, Unavailable, ValidationFailed};
use shared::ports::VoteStore;

/// `dir = 1` adds the caller's vote, `dir = 0` removes it; each is one transaction that also
/// moves the post's `votes`, so the count always equals the vote items.
#[utoipa::path(
    post,
    path = "/vote",
    operation_id = "vote",
    tag = TAG_VOTE,
    summary = "Vote",
    description = "`dir: 1` adds the caller's vote on a post, `dir: 0` removes it. One vote per user and post.",
    request_body = VoteRequest,
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 201, description = "Vote added or removed", body = Message,
         example = json!({"message": "successfully added vote"})),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such post, or (`dir: 0`) no such vote", body = HttpError,
         example = json!({"detail": "Post with id: 5 does not exist"})),
        (status = 409, description = "`dir: 1` on a post the caller has voted on", body = HttpError,
         example = json!({"detail": "user 1 has already voted on post 5"})),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(store: &impl VoteStore, req: Request) -> Result<Response<Body>, ApiError> {
    let me = caller(&req)?;
    let vote = VoteRequest::from_json(json_body(&req)?)?;
    let message = match vote.dir {
        VoteDir::Add => {
            store.add_vote(vote.post_id, me.id).await?;
            "successfully added vote"
        }
        VoteDir::Remove => {
            store.remove_vote(vote.post_id, me.id).await?;
            "successfully deleted vote"
        }
    };
    json(StatusCode::CREATED, &Message { message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::answers::{NO_SUCH_VOTE, NOT_AUTHENTICATED};
    use shared::memory::MemoryStore;
    use shared::ports::PostStore;
    use shared::testing::{
        add_post, add_user, body_json, detail, error_locations, header, request, respond,
    };

    fn vote(body: serde_json::Value) -> shared::testing::TestRequest {
        request("POST", "/vote").json(body)
    }

    async fn votes_on(store: &MemoryStore, post: shared::domain::PostId) -> u64 {
        store.get_post(post).await.unwrap().unwrap().votes
    }

    #[tokio::test]
    async fn dir_1_adds_the_callers_vote_and_moves_the_count() {
        // GIVEN ann's post without votes
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let bob = add_user(&store, "bob@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        // WHEN bob votes for it
        let req = vote(json!({"post_id": post.id.get(), "dir": 1})).as_caller(&bob);
        let answer = respond(handle(&store, req.build()).await);
        // THEN 201, and the post has one vote, recorded
        assert_eq!(answer.status(), 201);
        assert_eq!(
            body_json(&answer),
            json!({"message": "successfully added vote"})
        );
        assert_eq!(votes_on(&store, post.id).await, 1);
        assert_eq!(store.count_votes(post.id), 1);
    }

    #[tokio::test]
    async fn dir_0_removes_the_callers_vote_and_moves_the_count_back() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        store.add_vote(post.id, ann.id).await.unwrap();
        let req = vote(json!({"post_id": post.id.get(), "dir": 0})).as_caller(&ann);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 201);
        assert_eq!(
            body_json(&answer),
            json!({"message": "successfully deleted vote"})
        );
        assert_eq!(votes_on(&store, post.id).await, 0);
        assert_eq!(store.count_votes(post.id), 0);
    }

    #[tokio::test]
    async fn a_vote_without_a_caller_is_401_and_counts_nothing() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        let req = vote(json!({"post_id": post.id.get(), "dir": 1}));
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), NOT_AUTHENTICATED);
        assert_eq!(votes_on(&store, post.id).await, 0);
    }

    #[tokio::test]
    async fn a_vote_on_an_unknown_post_is_404_in_either_direction() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        for dir in [0, 1] {
            let req = vote(json!({"post_id": 5, "dir": dir})).as_caller(&ann);
            let answer = respond(handle(&store, req.build()).await);
            assert_eq!(answer.status(), 404, "dir {dir}");
            assert_eq!(
                detail(&answer),
                "Post with id: 5 does not exist",
                "dir {dir}"
            );
        }
    }

    #[tokio::test]
    async fn removing_a_vote_the_caller_never_made_is_404() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let bob = add_user(&store, "bob@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        // ann's vote is not bob's to remove
        store.add_vote(post.id, ann.id).await.unwrap();
        let req = vote(json!({"post_id": post.id.get(), "dir": 0})).as_caller(&bob);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 404);
        assert_eq!(detail(&answer), NO_SUCH_VOTE);
        assert_eq!(votes_on(&store, post.id).await, 1);
    }

    #[tokio::test]
    async fn a_second_vote_on_the_same_post_is_409_and_counts_once() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let bob = add_user(&store, "bob@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        store.add_vote(post.id, bob.id).await.unwrap();
        let req = vote(json!({"post_id": post.id.get(), "dir": 1})).as_caller(&bob);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 409);
        assert_eq!(
            detail(&answer),
            format!("user {} has already voted on post {}", bob.id, post.id)
        );
        assert_eq!(votes_on(&store, post.id).await, 1);
    }

    #[tokio::test]
    async fn a_vote_with_dir_or_post_id_out_of_range_is_422_per_field() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let req = vote(json!({"post_id": 0, "dir": 2})).as_caller(&ann);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["body.post_id", "body.dir"]);
        let req = vote(json!({})).as_caller(&ann);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["body.post_id", "body.dir"]);
    }

    #[tokio::test]
    async fn vote_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        store.set_unavailable(true);
        let req = vote(json!({"post_id": post.id.get(), "dir": 1})).as_caller(&ann);
        let answer = respond(handle(&store, req.build()).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
