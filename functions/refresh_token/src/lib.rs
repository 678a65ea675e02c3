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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::answers::INVALID_TOKEN;
    use shared::memory::MemoryStore;
    use shared::store::RefreshGrant;
    use shared::testing::{
        add_user, body_json, detail, error_locations, header, request, respond, test_jwt,
        test_sessions,
    };

    /// A state whose store has ann with one session, and that session's refresh token.
    async fn with_session() -> (
        State<MemoryStore>,
        shared::domain::User,
        String,
        RefreshGrant,
    ) {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let token = new_refresh_token();
        let grant = store
            .create_session(
                ann.id,
                &refresh_token_hash(&token),
                unix_now(),
                &test_sessions(),
            )
            .await
            .unwrap();
        (
            State::new(store, test_jwt(), test_sessions()),
            ann,
            token,
            grant,
        )
    }

    fn refresh(token: &str) -> Request {
        request("POST", "/token/refresh")
            .json(json!({"refresh_token": token}))
            .build()
    }

    #[tokio::test]
    async fn a_refresh_token_is_traded_for_a_new_pair_of_the_same_session() {
        let (state, ann, token, grant) = with_session().await;
        let answer = respond(handle(&state, refresh(&token)).await);
        assert_eq!(answer.status(), 200);
        let body = body_json(&answer);
        assert_eq!(body["token_type"], "bearer");
        let claims = test_jwt()
            .verify(body["access_token"].as_str().unwrap())
            .expect("a valid access token");
        assert_eq!(claims.user_id, ann.id.get());
        let next = body["refresh_token"].as_str().unwrap();
        assert_ne!(next, token);
        assert!(body["refresh_expires_in"].as_u64().unwrap() > 0);
        // AND the new one works in turn; the session is still alive
        assert_eq!(respond(handle(&state, refresh(next)).await).status(), 200);
        let active = state.store.session_is_active(&grant.session_id, unix_now());
        assert!(active.await.unwrap());
    }

    #[tokio::test]
    async fn a_used_refresh_token_presented_again_is_401_and_revokes_its_session() {
        // GIVEN ann's token, already traded once
        let (state, _, token, grant) = with_session().await;
        let first = body_json(&respond(handle(&state, refresh(&token)).await));
        let next = first["refresh_token"].as_str().unwrap().to_string();
        // WHEN the used token comes back (a replay, or a stolen copy)
        let answer = respond(handle(&state, refresh(&token)).await);
        // THEN 401, and the whole session is over: its newer token is refused too
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), INVALID_TOKEN);
        assert_eq!(header(&answer, "www-authenticate"), Some("Bearer"));
        let active = state.store.session_is_active(&grant.session_id, unix_now());
        assert!(!active.await.unwrap());
        assert_eq!(respond(handle(&state, refresh(&next)).await).status(), 401);
    }

    #[tokio::test]
    async fn an_unknown_refresh_token_is_401() {
        let (state, _, _, _) = with_session().await;
        let answer = respond(handle(&state, refresh(&new_refresh_token())).await);
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), INVALID_TOKEN);
    }

    #[tokio::test]
    async fn a_refresh_token_of_a_logged_out_session_is_401() {
        let (state, _, token, _) = with_session().await;
        let revoked = state
            .store
            .revoke_session(&refresh_token_hash(&token), unix_now())
            .await;
        assert!(revoked.unwrap());
        let answer = respond(handle(&state, refresh(&token)).await);
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), INVALID_TOKEN);
    }

    #[tokio::test]
    async fn a_missing_or_too_long_refresh_token_is_422() {
        let (state, _, _, _) = with_session().await;
        let req = request("POST", "/token/refresh").json(json!({})).build();
        let answer = respond(handle(&state, req).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["body.refresh_token"]);
        let answer = respond(handle(&state, refresh(&"x".repeat(257))).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["body.refresh_token"]);
    }

    #[tokio::test]
    async fn refresh_is_503_with_retry_after_when_the_store_is_unavailable_and_keeps_the_token() {
        let (state, _, token, _) = with_session().await;
        state.store.set_unavailable(true);
        let answer = respond(handle(&state, refresh(&token)).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
        // AND the token was not spent (the store refused before changing anything): it works
        // once the store is back
        state.store.set_unavailable(false);
        assert_eq!(respond(handle(&state, refresh(&token)).await).status(), 200);
    }
}
