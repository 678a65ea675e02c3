//! `POST /token/refresh`: a refresh token in, a new access token and a new refresh token out.
//!
//! Rotation (RFC 9700 §4.14): each refresh token works once. The one presented is consumed
//! and the next one of its session issued in one DynamoDB transaction, so of any number of
//! concurrent refreshes with one token exactly one succeeds; a token presented after it was
//! used (a replay, or the loser of such a race) revokes its whole session. Every refusal is
//! the same 401.

use shared::ApiError;
use shared::auth::{Jwt, new_refresh_token, refresh_token_hash, unix_now};
use shared::config::{JwtConfig, SessionConfig};
use shared::error::HttpError;
use shared::http::{Body, LambdaError, Request, Response, StatusCode, json, json_body};
use shared::models::{RefreshTokenRequest, Token};
use shared::openapi::{TAG_AUTHENTICATION, Unavailable, ValidationFailed};
use shared::ports::SessionStore;
use shared::session;
use shared::store::Store;

/// What the function keeps between requests.
pub struct State<S = Store> {
    store: S,
    jwt: Jwt,
    sessions: SessionConfig,
}

impl State {
    /// Reads `TABLE_NAME`, `JWT_SECRET`, `ACCESS_TOKEN_EXPIRE_MINUTES`, `JWT_ISSUER`,
    /// `JWT_AUDIENCE`, `REFRESH_TOKEN_EXPIRE_MINUTES` and `SESSION_MAX_MINUTES`.
    pub async fn from_env() -> Result<Self, LambdaError> {
        Ok(Self {
            store: Store::from_env().await?,
            jwt: Jwt::new(&JwtConfig::from_env()?),
            sessions: SessionConfig::from_env()?,
        })
    }
}

impl<S> State<S> {
    /// State over any store and settings (tests, the local gateway).
    pub fn new(store: S, jwt: Jwt, sessions: SessionConfig) -> Self {
        Self {
            store,
            jwt,
            sessions,
        }
    }
}

/// One consistent GetItem of the presented token (by its SHA-256), one TransactWriteItems
/// (consume it, check its session, add the next token), then 200 with the new pair. A used
/// token costs one more UpdateItem: its session is revoked.
#[utoipa::path(
    post,
    path = "/token/refresh",
    operation_id = "refresh_token",
    tag = TAG_AUTHENTICATION,
    summary = "Refresh Token",
    description = "Trades a refresh token (from `POST /login` or an earlier refresh) for a new access token and a new refresh token. Each refresh token works once: presenting one that was already used revokes its session, and every refresh token of that session is refused from then on (log in again). Access tokens already issued stay valid until they expire.",
    request_body(content((RefreshTokenRequest = "application/json"))),
    responses(
        (status = 200, description = "A new access token and a new refresh token", body = Token),
        (status = 401, description = "The refresh token is unknown, expired, already used, or its session was revoked (the same answer for all)",
         body = HttpError,
         headers(("WWW-Authenticate" = String, description = "Always `Bearer`")),
         example = json!({"detail": "Could not validate credentials"})),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(
    state: &State<impl SessionStore>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let request = RefreshTokenRequest::from_json(json_body(&req)?)?;
    let next = new_refresh_token();
    let grant = state
        .store
        .rotate_refresh_token(
            &refresh_token_hash(&request.refresh_token),
            &refresh_token_hash(&next),
            unix_now(),
            u64::from(state.sessions.refresh_expire_minutes) * 60,
        )
        .await?;
    json(StatusCode::OK, &session::tokens(&state.jwt, next, &grant)?)
}
