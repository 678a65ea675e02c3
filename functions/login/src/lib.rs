//! `POST /login`: the OAuth2 password form in, an access token (and a refresh token) out.

use shared::ApiError;
use shared::answers::{invalid_credentials, too_many_failed_logins};
use shared::auth::{Jwt, new_refresh_token, refresh_token_hash, unix_now};
use shared::config::{HashConfig, JwtConfig, LoginLimitsConfig, SessionConfig};
use shared::domain::Email;
use shared::error::HttpError;
use shared::http::{Body, LambdaError, Request, Response, StatusCode, body, json, source_ip};
use shared::models::LoginFormFields;
use shared::models::{LoginForm, Token};
use shared::openapi::{TAG_AUTHENTICATION, Unavailable, ValidationFailed};
use shared::passwords::Passwords;
use shared::ports::{LoginLimitStore, SessionStore, UserStore};
use shared::session;
use shared::store::{LoginAttempt, LoginGate, Store};

/// What the function keeps between requests (the store is DynamoDB in the function, the
/// in-memory store in unit tests).
pub struct State<S = Store> {
    store: S,
    passwords: Passwords,
    jwt: Jwt,
    limits: LoginLimitsConfig,
    sessions: SessionConfig,
}

impl State {
    /// Reads `TABLE_NAME`, `BCRYPT_COST`, `JWT_SECRET`, `ACCESS_TOKEN_EXPIRE_MINUTES` and the
    /// `LOGIN_*` failed-login limits, `JWT_ISSUER`, `JWT_AUDIENCE`,
    /// `REFRESH_TOKEN_EXPIRE_MINUTES` and `SESSION_MAX_MINUTES`.
    pub async fn from_env() -> Result<Self, LambdaError> {
        Ok(Self {
            store: Store::from_env().await?,
            passwords: Passwords::new(HashConfig::from_env()?),
            jwt: Jwt::new(&JwtConfig::from_env()?),
            limits: LoginLimitsConfig::from_env()?,
            sessions: SessionConfig::from_env()?,
        })
    }
}

impl<S> State<S> {
    /// State over any store and settings (tests, the local gateway).
    pub fn new(
        store: S,
        passwords: Passwords,
        jwt: Jwt,
        limits: LoginLimitsConfig,
        sessions: SessionConfig,
    ) -> Self {
        Self {
            store,
            passwords,
            jwt,
            limits,
            sessions,
        }
    }
}

/// One GetItem for the e-mail's credential, one bcrypt verify (against a dummy hash when the
/// e-mail is unknown), then 200 with a token or 403 `Invalid Credentials`: the same answer,
/// in about the same time, for an unknown e-mail and a wrong password.
/// The form may be url-encoded or multipart, as its Content-Type says (as FastAPI reads it).
///
/// Before any of that the attempt is counted against the failed-login limits (see
/// `shared::store::LoginAttempt`); over a limit it is a 429 with `Retry-After`, without reading
/// the credential or running bcrypt, whether the account exists or not. A success takes the
/// attempt back and clears the account's count for this source.
#[utoipa::path(
    post,
    path = "/login",
    operation_id = "login",
    tag = TAG_AUTHENTICATION,
    summary = "Login",
    description = "OAuth2 password flow: `username` is the e-mail. The token goes in `Authorization: Bearer <token>`.\n\nFailed logins are limited per account and source address, per account and per source address (defaults: 5, 20 and 100 per 15-minute window); past a limit every attempt, right password or not, is answered 429 with `Retry-After` until the window ends.",
    request_body(content(
        (LoginFormFields = "application/x-www-form-urlencoded"),
        (LoginFormFields = "multipart/form-data"),
    )),
    responses(
        (status = 200, description = "An access token, and a refresh token for `POST /token/refresh`", body = Token),
        (status = 403, description = "Unknown e-mail or wrong password (the same answer for both)",
         body = HttpError, example = json!({"detail": "Invalid Credentials"})),
        (status = 422, response = ValidationFailed),
        (status = 429, description = "Too many failed logins: try again after `Retry-After` seconds",
         body = HttpError,
         headers(("Retry-After" = String, description = "Seconds until the counting window ends")),
         example = json!({"detail": "Too many failed logins: try again later"})),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle<S: UserStore + LoginLimitStore + SessionStore>(
    state: &State<S>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let form = LoginForm::from_request(content_type, body(&req)).await?;
    let attempt = LoginAttempt::now(&form.username, source_ip(&req), state.limits.window_secs);
    let gate = state
        .store
        .check_login_limits(&state.limits, &attempt)
        .await?;
    if let LoginGate::Closed { retry_after_secs } = gate {
        return Err(too_many_failed_logins(retry_after_secs));
    }
    // Sign-up stores only valid addresses (at most 254 bytes), so anything else is no account:
    // no lookup (DynamoDB refuses a key over 2,048 bytes), but the same dummy bcrypt verify.
    let credential = match Email::parse(&form.username) {
        Ok(email) => state.store.get_credential(&email).await?,
        Err(_) => None,
    };
    let (user_id, hash) = match credential {
        Some(c) => (Some(c.user_id), Some(c.password_hash)),
        None => (None, None),
    };
    let ok = state.passwords.verify(form.password, hash).await?;
    match user_id {
        Some(user_id) if ok => {
            // Only this source's count is cleared: failures from elsewhere stay counted.
            // Failing to clear costs the user one counted attempt, not the login.
            let recorded = state.store.record_login_success(&state.limits, &attempt);
            if let Err(e) = recorded.await {
                tracing::warn!(error = %e, "login succeeded but its counters were not cleared");
            }
            // A new session: its refresh token is the way to the next access tokens.
            let refresh_token = new_refresh_token();
            let hash = refresh_token_hash(&refresh_token);
            let session = state
                .store
                .create_session(user_id, &hash, unix_now(), &state.sessions);
            let tokens = session::tokens(&state.jwt, refresh_token, &session.await?)?;
            json(StatusCode::OK, &tokens)
        }
        _ => Err(invalid_credentials()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::answers::{INVALID_CREDENTIALS, TOO_MANY_FAILED_LOGINS};
    use shared::memory::MemoryStore;
    use shared::testing::{
        add_user_with_password, body_json, detail, error_locations, header, request, respond,
        test_jwt, test_passwords, test_sessions, tiny_login_limits,
    };

    async fn state(store: MemoryStore, limits: LoginLimitsConfig) -> State<MemoryStore> {
        State::new(store, test_passwords(), test_jwt(), limits, test_sessions())
    }

    /// A state whose store has ann, password `correct horse`.
    async fn with_ann(limits: LoginLimitsConfig) -> (State<MemoryStore>, shared::domain::User) {
        let store = MemoryStore::new();
        let ann = add_user_with_password(&store, "ann@example.com", "correct horse").await;
        (state(store, limits).await, ann)
    }

    fn login(username: &str, password: &str) -> Request {
        request("POST", "/login")
            .form(&[("username", username), ("password", password)])
            .build()
    }

    #[tokio::test]
    async fn the_right_password_answers_an_access_token_and_starts_a_session() {
        let (state, ann) = with_ann(LoginLimitsConfig::default()).await;
        // WHEN ann logs in, her domain in capitals
        let answer = respond(handle(&state, login("ann@EXAMPLE.com", "correct horse")).await);
        // THEN 200 with a bearer token for her and a refresh token
        assert_eq!(answer.status(), 200);
        let body = body_json(&answer);
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 30 * 60);
        let claims = test_jwt()
            .verify(body["access_token"].as_str().unwrap())
            .expect("a valid access token");
        assert_eq!(claims.user_id, ann.id.get());
        assert_eq!(body["refresh_token"].as_str().unwrap().len(), 64);
        // AND the refresh token belongs to a live session of hers: it can be traded once
        let refresh = body["refresh_token"].as_str().unwrap();
        let grant = state
            .store
            .rotate_refresh_token(&refresh_token_hash(refresh), "next", unix_now(), 60)
            .await
            .expect("the refresh token is stored");
        assert_eq!(grant.user_id, ann.id);
        let active = state.store.session_is_active(&grant.session_id, unix_now());
        assert!(active.await.unwrap());
    }

    #[tokio::test]
    async fn a_multipart_form_logs_in_too() {
        let (state, _) = with_ann(LoginLimitsConfig::default()).await;
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nann@example.com\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\ncorrect horse\r\n\
                    --XyZ--\r\n";
        let req = request("POST", "/login")
            .body("multipart/form-data; boundary=XyZ", body)
            .build();
        let answer = respond(handle(&state, req).await);
        assert_eq!(answer.status(), 200);
    }

    #[tokio::test]
    async fn a_wrong_password_is_403() {
        let (state, _) = with_ann(LoginLimitsConfig::default()).await;
        let answer = respond(handle(&state, login("ann@example.com", "wrong password")).await);
        assert_eq!(answer.status(), 403);
        assert_eq!(detail(&answer), INVALID_CREDENTIALS);
    }

    #[tokio::test]
    async fn an_unknown_email_is_the_same_403() {
        let (state, _) = with_ann(LoginLimitsConfig::default()).await;
        for username in ["bob@example.com", "not an address"] {
            let answer = respond(handle(&state, login(username, "correct horse")).await);
            assert_eq!(answer.status(), 403, "{username}");
            assert_eq!(detail(&answer), INVALID_CREDENTIALS, "{username}");
        }
    }

    #[tokio::test]
    async fn a_form_without_its_fields_or_with_another_grant_type_is_422() {
        let (state, _) = with_ann(LoginLimitsConfig::default()).await;
        let req = request("POST", "/login")
            .form(&[("grant_type", "client_credentials")])
            .build();
        let answer = respond(handle(&state, req).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(
            error_locations(&answer),
            ["body.username", "body.password", "body.grant_type"]
        );
    }

    #[tokio::test]
    async fn the_right_password_past_the_failed_login_limit_is_429_with_retry_after() {
        // GIVEN two failed logins allowed per account and source
        let (state, _) = with_ann(tiny_login_limits(2)).await;
        for _ in 0..2 {
            let answer = respond(handle(&state, login("ann@example.com", "wrong password")).await);
            assert_eq!(answer.status(), 403);
        }
        // WHEN a third attempt comes from the same source, with the right password
        let answer = respond(handle(&state, login("ann@example.com", "correct horse")).await);
        // THEN 429, retry when the 15-minute window ends
        assert_eq!(answer.status(), 429);
        assert_eq!(detail(&answer), TOO_MANY_FAILED_LOGINS);
        let retry_after: u64 = header(&answer, "retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry_after), "{retry_after}");
        // AND another source is not held back by this one's failures
        let elsewhere = request("POST", "/login")
            .form(&[
                ("username", "ann@example.com"),
                ("password", "correct horse"),
            ])
            .from_ip("198.51.100.9")
            .build();
        assert_eq!(respond(handle(&state, elsewhere).await).status(), 200);
    }

    #[tokio::test]
    async fn a_successful_login_takes_its_attempt_back() {
        // GIVEN two failed logins allowed, one used
        let (state, _) = with_ann(tiny_login_limits(2)).await;
        let failed = respond(handle(&state, login("ann@example.com", "wrong password")).await);
        assert_eq!(failed.status(), 403);
        // WHEN ann then logs in three times in a row
        for _ in 0..3 {
            let answer = respond(handle(&state, login("ann@example.com", "correct horse")).await);
            // THEN none is refused: successes do not count as failures
            assert_eq!(answer.status(), 200);
        }
    }

    #[tokio::test]
    async fn login_is_503_with_retry_after_when_the_store_is_unavailable() {
        let (state, _) = with_ann(LoginLimitsConfig::default()).await;
        state.store.set_unavailable(true);
        let answer = respond(handle(&state, login("ann@example.com", "correct horse")).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
