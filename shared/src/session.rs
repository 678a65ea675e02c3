//! Token pairs: what `POST /login` and `POST /token/refresh` answer (an access token and a
//! refresh token of the same session). The sessions themselves are in the store
//! (`store/sessions.rs`), which the functions call directly, so each function's calls (and
//! its IAM policy) show in its own code.

use crate::auth::Jwt;
use crate::error::ApiError;
use crate::models::Token;
use crate::store::{RefreshError, RefreshGrant};

/// The `detail` of a refused refresh token, whatever the reason (unknown, expired, used,
/// revoked): the same as for a refused access token, and as uninformative.
pub const REFUSED: &str = "Could not validate credentials";

/// The answer for a session's new `refresh_token` (stored as `grant`): a fresh access token
/// for the session's user beside it.
pub fn tokens(jwt: &Jwt, refresh_token: String, grant: &RefreshGrant) -> Result<Token, ApiError> {
    Ok(Token {
        access_token: jwt.issue(grant.user_id)?,
        token_type: "bearer",
        expires_in: jwt.lifetime_secs(),
        refresh_token,
        refresh_expires_in: grant.expires_at.saturating_sub(crate::auth::unix_now()),
    })
}

/// The answer for a refused refresh token: a 401 for every reason (logged, a reuse as a
/// warning: it may be a stolen token), a 503/500 for a store failure.
pub fn refused(e: RefreshError) -> ApiError {
    match e {
        RefreshError::Invalid => tracing::info!("refresh token unknown or expired"),
        RefreshError::Revoked => tracing::info!("refresh token of a revoked or ended session"),
        RefreshError::Reused => {
            tracing::warn!("refresh token presented after it was used: its session is revoked")
        }
        RefreshError::Store(e) => return e.into(),
    }
    ApiError::Unauthorized(REFUSED.into())
}
