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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::auth::new_refresh_token;
    use shared::memory::MemoryStore;
    use shared::testing::{add_user, error_locations, header, request, respond, test_sessions};

    fn logout(refresh_token: &str) -> Request {
        request("POST", "/logout")
            .json(json!({"refresh_token": refresh_token}))
            .build()
    }

    #[tokio::test]
    async fn logout_revokes_the_session_of_the_refresh_token_with_204() {
        // GIVEN ann's session and its refresh token
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let token = new_refresh_token();
        let session = store
            .create_session(
                ann.id,
                &refresh_token_hash(&token),
                unix_now(),
                &test_sessions(),
            )
            .await
            .unwrap();
        // WHEN she logs out with it
        let answer = respond(handle(&store, logout(&token)).await);
        // THEN 204 with no body, and the session is over
        assert_eq!(answer.status(), 204);
        assert!(answer.body().is_empty());
        let active = store.session_is_active(&session.session_id, unix_now());
        assert!(!active.await.unwrap());
    }

    #[tokio::test]
    async fn logging_out_twice_or_with_an_unknown_token_is_also_204() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let token = new_refresh_token();
        let hash = refresh_token_hash(&token);
        let sessions = test_sessions();
        store
            .create_session(ann.id, &hash, unix_now(), &sessions)
            .await
            .unwrap();
        for token in [token.as_str(), token.as_str(), "never-issued"] {
            let answer = respond(handle(&store, logout(token)).await);
            assert_eq!(answer.status(), 204, "{token}");
            assert!(answer.body().is_empty());
        }
    }

    #[tokio::test]
    async fn logout_without_a_refresh_token_is_422() {
        let store = MemoryStore::new();
        let req = request("POST", "/logout").json(json!({})).build();
        let answer = respond(handle(&store, req).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["body.refresh_token"]);
    }

    #[tokio::test]
    async fn logout_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        store.set_unavailable(true);
        let answer = respond(handle(&store, logout(&new_refresh_token())).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
