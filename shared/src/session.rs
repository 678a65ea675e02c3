//! Token pairs: what `POST /login` and `POST /token/refresh` answer (an access token and a
//! refresh token of the same session). The sessions themselves are in the store
//! (`ports::SessionStore`, implemented in `store/sessions.rs`), which the functions call directly, so each function's calls (and
//! its IAM policy) show in its own code.

use crate::auth::Jwt;
use crate::error::ApiError;
use crate::models::Token;
use crate::store::RefreshGrant;

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
