//! `POST /vote`.

use shared::ApiError;
use shared::http::{Body, Request, Response, StatusCode, body, caller, json};
use shared::models::{Message, VoteDir, VoteRequest};
use shared::store::{Store, VoteError};

/// `dir = 1` adds the caller's vote, `dir = 0` removes it; each is one transaction that also
/// moves the post's `votes`, so the count always equals the vote items.
pub async fn handle(store: &Store, req: Request) -> Result<Response<Body>, ApiError> {
    let me = caller(&req)?;
    let vote = VoteRequest::from_json(body(&req))?;
    let post_id = vote.post_id;
    let (result, message) = match vote.dir {
        VoteDir::Add => (
            store.add_vote(post_id, me.id).await,
            "successfully added vote",
        ),
        VoteDir::Remove => (
            store.remove_vote(post_id, me.id).await,
            "successfully deleted vote",
        ),
    };
    result.map_err(|e| match e {
        VoteError::PostNotFound => {
            ApiError::NotFound(format!("Post with id: {post_id} does not exist"))
        }
        VoteError::AlreadyVoted => ApiError::Conflict(format!(
            "user {} has already voted on post {post_id}",
            me.id
        )),
        VoteError::VoteNotFound => ApiError::NotFound("Vote does not exist".into()),
        VoteError::Store(e) => e.into(),
    })?;
    json(StatusCode::CREATED, &Message { message })
}
