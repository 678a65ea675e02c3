//! The contract's answers, in one place: every `detail` string a handler sends, and how each
//! store outcome ([`SignUpError`], [`PostWriteError`], [`VoteError`], [`RefreshError`],
//! [`StoreError`]) becomes an [`ApiError`]. Handlers then read as the happy path with `?`.
//!
//! The wording is the course's, inconsistencies included (`post with id: 5 was not found` for
//! a read, `post with id: 5 does not exist` for a write, `Post with ...` for a vote): clients
//! written against it may compare these strings.

use crate::domain::{PostId, PostWriteError, SignUpError, StoreError, UserId, VoteError};
use crate::error::ApiError;
use crate::store::RefreshError;

/// 401 for a refused token (access or refresh), whatever the reason: uninformative on purpose.
pub const INVALID_TOKEN: &str = "Could not validate credentials";
/// 401 for a protected route reached without an authenticated caller.
pub const NOT_AUTHENTICATED: &str = "Not authenticated";
/// 403 for an unknown e-mail or a wrong password (the same answer for both).
pub const INVALID_CREDENTIALS: &str = "Invalid Credentials";
/// 403 for a write to someone else's post.
pub const NOT_YOURS: &str = "Not authorized to perform requested action";
/// 404 for `dir: 0` without a vote.
pub const NO_SUCH_VOTE: &str = "Vote does not exist";
/// 429 for a login past the failed-login limits.
pub const TOO_MANY_FAILED_LOGINS: &str = "Too many failed logins: try again later";

/// 404 of `GET /users/{id}`.
pub fn user_not_found(id: UserId) -> ApiError {
    ApiError::NotFound(format!("User with id: {id} does not exist"))
}

/// 404 of `GET /posts/{id}`.
pub fn post_not_found(id: PostId) -> ApiError {
    ApiError::NotFound(format!("post with id: {id} was not found"))
}

/// 401 for a refused token.
pub fn invalid_token() -> ApiError {
    ApiError::Unauthorized(INVALID_TOKEN.into())
}

/// 401 for a missing caller.
pub fn not_authenticated() -> ApiError {
    ApiError::Unauthorized(NOT_AUTHENTICATED.into())
}

/// 403 of `POST /login`.
pub fn invalid_credentials() -> ApiError {
    ApiError::Forbidden(INVALID_CREDENTIALS.into())
}

/// 429 of `POST /login`, retryable after `retry_after_secs`.
pub fn too_many_failed_logins(retry_after_secs: u64) -> ApiError {
    ApiError::TooManyRequests {
        detail: TOO_MANY_FAILED_LOGINS.into(),
        retry_after_secs,
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable(Box::new(e)),
            StoreError::Other(_) => ApiError::Internal(Box::new(e)),
        }
    }
}

impl From<SignUpError> for ApiError {
    fn from(e: SignUpError) -> Self {
        match e {
            SignUpError::EmailTaken(email) => {
                ApiError::Conflict(format!("User with email: {email} already exists"))
            }
            SignUpError::Store(e) => e.into(),
        }
    }
}

impl From<PostWriteError> for ApiError {
    fn from(e: PostWriteError) -> Self {
        match e {
            PostWriteError::NotFound(id) => {
                ApiError::NotFound(format!("post with id: {id} does not exist"))
            }
            PostWriteError::Forbidden(_) => ApiError::Forbidden(NOT_YOURS.into()),
            PostWriteError::Store(e) => e.into(),
        }
    }
}

impl From<VoteError> for ApiError {
    fn from(e: VoteError) -> Self {
        match e {
            VoteError::PostNotFound(id) => {
                ApiError::NotFound(format!("Post with id: {id} does not exist"))
            }
            VoteError::AlreadyVoted { user, post } => {
                ApiError::Conflict(format!("user {user} has already voted on post {post}"))
            }
            VoteError::VoteNotFound => ApiError::NotFound(NO_SUCH_VOTE.into()),
            VoteError::Store(e) => e.into(),
        }
    }
}

/// A refused refresh token is a 401 for every reason (logged; a reuse as a warning, since it
/// may be a stolen token); a store failure is a 503 or 500.
impl From<RefreshError> for ApiError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Invalid => tracing::info!("refresh token unknown or expired"),
            RefreshError::Revoked => tracing::info!("refresh token of a revoked or ended session"),
            RefreshError::Reused => {
                tracing::warn!("refresh token presented after it was used: its session is revoked")
            }
            RefreshError::Store(e) => return e.into(),
        }
        invalid_token()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;
    use lambda_http::http::StatusCode;

    /// An answer as status and body text.
    type Answer = (StatusCode, String);

    fn answer(e: impl Into<ApiError>) -> Answer {
        let e = e.into();
        let status = e.status();
        let body = e.into_response();
        (status, String::from_utf8_lossy(body.body().as_ref()).into())
    }

    #[test]
    fn each_store_outcome_answers_the_contracts_status_and_detail() {
        let post = PostId::new(5);
        let cases: Vec<(Answer, (u16, &str))> = vec![
            (
                answer(SignUpError::EmailTaken(Email::from_trusted("a@b.co"))),
                (409, "User with email: a@b.co already exists"),
            ),
            (
                answer(PostWriteError::NotFound(post)),
                (404, "post with id: 5 does not exist"),
            ),
            (answer(PostWriteError::Forbidden(post)), (403, NOT_YOURS)),
            (
                answer(VoteError::PostNotFound(post)),
                (404, "Post with id: 5 does not exist"),
            ),
            (
                answer(VoteError::AlreadyVoted {
                    user: UserId::new(1),
                    post,
                }),
                (409, "user 1 has already voted on post 5"),
            ),
            (answer(VoteError::VoteNotFound), (404, NO_SUCH_VOTE)),
            (answer(RefreshError::Reused), (401, INVALID_TOKEN)),
            (
                answer(StoreError::Unavailable("x".into())),
                (503, "Service Unavailable"),
            ),
            (
                answer(StoreError::Other("x".into())),
                (500, "Internal Server Error"),
            ),
        ];
        for ((status, body), (want_status, want_detail)) in cases {
            assert_eq!(status.as_u16(), want_status, "{body}");
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["detail"], want_detail);
        }
    }
}
