//! `POST /logout`: ends the session of a refresh token.
//!
//! It takes the refresh token, not the access token: the refresh token names the session
//! (the access token is a stateless JWT and may already have expired when the user logs out),
//! and whoever holds it could keep the session going, so holding it is enough to end it. The
//! route is public and needs no signing key. Access tokens already issued stay valid until
//! they expire (`ACCESS_TOKEN_EXPIRE_MINUTES`, 30 by default): the authorizer checks no
//! revocation list, to stay at one read per request.

use shared::ApiError;
use shared::auth::{refresh_token_hash, unix_now};
use shared::http::{Body, Request, Response, json_body, no_content};
use shared::models::RefreshTokenRequest;
use shared::openapi::{TAG_AUTHENTICATION, Unavailable, ValidationFailed};
use shared::ports::SessionStore;

/// One consistent GetItem of the token (by its SHA-256), and when it exists one UpdateItem
/// that marks its session revoked. 204 in every case: logging out twice, or with an unknown or
/// expired token, is not an error, and the answer says nothing about which tokens exist.
#[utoipa::path(
    post,
    path = "/logout",
    operation_id = "logout",
    tag = TAG_AUTHENTICATION,
    summary = "Logout",
    description = "Revokes the session of a refresh token: that token and every other refresh token of the session are refused from then on. Idempotent: an unknown, expired or already revoked token gets the same 204. Access tokens already issued stay valid until they expire.",
    request_body(content((RefreshTokenRequest = "application/json"))),
    responses(
        (status = 204, description = "The session is over (or there was none)"),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(store: &impl SessionStore, req: Request) -> Result<Response<Body>, ApiError> {
    let request = RefreshTokenRequest::from_json(json_body(&req)?)?;
    let hash = refresh_token_hash(&request.refresh_token);
    if store.revoke_session(&hash, unix_now()).await? {
        tracing::info!("session revoked by logout");
    }
    no_content()
}
