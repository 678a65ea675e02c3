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
