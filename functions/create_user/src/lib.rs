//! `POST /users`: sign-up.

use shared::ApiError;
use shared::config::{HashConfig, LoginLimitsConfig};
use shared::domain::{Email, SignUpError, User};
use shared::error::HttpError;
use shared::http::{Body, LambdaError, Request, Response, StatusCode, json, json_body, source_ip};
use shared::models::{NewUser, UserOut};
use shared::openapi::{TAG_USERS, Unavailable, ValidationFailed};
use shared::passwords::Passwords;
use shared::ports::{LoginLimitStore, UserStore};
use shared::store::{LoginAttempt, LoginGate, Store};

/// What the function keeps between requests (the store is DynamoDB in the function, the
/// in-memory store in unit tests).
pub struct State<S = Store> {
    store: S,
    passwords: Passwords,
    limits: LoginLimitsConfig,
}

impl State {
    /// Reads `TABLE_NAME`, `BCRYPT_COST` and the `LOGIN_*` failed-login limits (a repeated
    /// sign-up checks a password, so it counts as a login attempt).
    pub async fn from_env() -> Result<Self, LambdaError> {
        Ok(Self {
            store: Store::from_env().await?,
            passwords: Passwords::new(HashConfig::from_env()?),
            limits: LoginLimitsConfig::from_env()?,
        })
    }
}

impl<S> State<S> {
    /// State over any store (tests, the local gateway).
    pub fn new(store: S, passwords: Passwords, limits: LoginLimitsConfig) -> Self {
        Self {
            store,
            passwords,
            limits,
        }
    }
}

/// Validates the body (422), hashes the password off the executor, then creates the user and
/// the e-mail claim in one transaction: 201 with the user, or 409 when the e-mail is taken
/// (exactly one account per e-mail, under any concurrency) unless the call repeats a recent
/// sign-up with the same password (see [`replayed`]).
#[utoipa::path(
    post,
    path = "/users",
    operation_id = "create_user",
    tag = TAG_USERS,
    summary = "Create User",
    description = "Sign-up. The e-mail is stored with its domain lower-cased; one account per e-mail. \
                   Safe to retry: the same e-mail and password within 10 minutes of the sign-up \
                   get the same account again (201), so a client that lost the first answer is not \
                   locked out by a 409.",
    request_body = NewUser,
    responses(
        (status = 201, description = "The new user (never a password)", body = UserOut),
        (status = 409, description = "An account with this e-mail exists", body = HttpError,
         example = json!({"detail": "User with email: ann@example.com already exists"})),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle<S: UserStore + LoginLimitStore>(
    state: &State<S>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let new = NewUser::from_json(json_body(&req)?)?;
    let hash = state.passwords.hash(new.password.clone()).await?;
    let user = match state.store.create_user(&new.email, &hash).await {
        Ok(user) => {
            tracing::info!(user_id = %user.id, "user created");
            user
        }
        Err(SignUpError::EmailTaken(email)) => {
            match replayed(state, &email, new.password, source_ip(&req)).await? {
                Some(user) => {
                    tracing::info!(user_id = %user.id, "sign-up repeated: answered as the first");
                    user
                }
                None => return Err(SignUpError::EmailTaken(email).into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    json(StatusCode::CREATED, &UserOut::from(&user))
}

/// How long after a sign-up the same e-mail and password are answered 201 with that account
/// again, rather than 409.
pub const REPLAY_WINDOW: time::Duration = time::Duration::minutes(10);

/// The account a repeated sign-up refers to, when it is one: same e-mail, same password, made
/// within [`REPLAY_WINDOW`].
///
/// A client whose first sign-up got no answer (a timeout, a 503 after DynamoDB committed, a
/// dropped connection) cannot know whether the account exists; it retries, and would get a 409
/// for its own account and no way to learn its id. Answering the retry like the first call
/// makes sign-up safe to retry. It tells nothing new: whoever knows the e-mail and password
/// could log in. A different password, or a later attempt, still gets the contract's 409.
///
/// Checking the password makes this a login attempt, so it goes through the same failed-login
/// counters as `POST /login` (counted before bcrypt runs; a closed gate is a plain 409 without
/// any check): otherwise sign-up would be an unlimited password oracle for its window.
async fn replayed<S: UserStore + LoginLimitStore>(
    state: &State<S>,
    email: &Email,
    password: String,
    source_ip: Option<&str>,
) -> Result<Option<User>, ApiError> {
    let Some(credential) = state.store.get_credential(email).await? else {
        return Ok(None);
    };
    let attempt = LoginAttempt::now(email.as_str(), source_ip, state.limits.window_secs);
    let gate = state
        .store
        .check_login_limits(&state.limits, &attempt)
        .await?;
    if let LoginGate::Closed { .. } = gate {
        return Ok(None);
    }
    if !state
        .passwords
        .verify(password, Some(credential.password_hash))
        .await?
    {
        return Ok(None);
    }
    if let Err(e) = state
        .store
        .record_login_success(&state.limits, &attempt)
        .await
    {
        tracing::warn!(error = %e, "repeated sign-up recognised but its counters were not cleared");
    }
    let Some(user) = state.store.get_user(credential.user_id).await? else {
        return Ok(None);
    };
    let created = time::OffsetDateTime::parse(
        &user.created_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(ApiError::internal)?;
    Ok((time::OffsetDateTime::now_utc() - created <= REPLAY_WINDOW).then_some(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::memory::MemoryStore;
    use shared::testing::{
        add_user, body_json, detail, error_locations, header, request, respond, test_passwords,
        tiny_login_limits,
    };

    fn state(store: MemoryStore) -> State<MemoryStore> {
        State::new(store, test_passwords(), LoginLimitsConfig::default())
    }

    fn sign_up(email: &str, password: &str) -> Request {
        request("POST", "/users")
            .json(json!({"email": email, "password": password}))
            .build()
    }

    #[tokio::test]
    async fn a_sign_up_creates_the_account_and_answers_201_without_the_password() {
        let state = state(MemoryStore::new());
        // WHEN ann signs up, her domain in capitals
        let answer = respond(handle(&state, sign_up("Ann@Example.COM", "correct horse")).await);
        // THEN 201 with id, the normalised e-mail and created_at only
        assert_eq!(answer.status(), 201);
        let body = body_json(&answer);
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["created_at", "email", "id"]);
        assert_eq!(body["email"], "Ann@example.com");
        // AND the store has the user, and a bcrypt hash of the password that verifies
        let email = Email::parse("Ann@example.com").unwrap();
        let credential = state.store.get_credential(&email).await.unwrap().unwrap();
        assert_eq!(Some(credential.user_id.get()), body["id"].as_u64());
        assert_ne!(credential.password_hash.as_str(), "correct horse");
        let passwords = test_passwords();
        let verified = passwords.verify("correct horse".into(), Some(credential.password_hash));
        assert!(verified.await.unwrap());
    }

    #[tokio::test]
    async fn a_sign_up_with_a_taken_email_is_409() {
        // GIVEN an account for ann (with another password)
        let store = MemoryStore::new();
        add_user(&store, "ann@example.com").await;
        let state = state(store);
        // WHEN someone signs up with her e-mail, the domain spelled differently
        let answer = respond(handle(&state, sign_up("ann@EXAMPLE.com", "correct horse")).await);
        // THEN 409 naming the e-mail as stored
        assert_eq!(answer.status(), 409);
        assert_eq!(
            detail(&answer),
            "User with email: ann@example.com already exists"
        );
    }

    #[tokio::test]
    async fn a_repeated_sign_up_with_the_same_password_answers_the_same_account() {
        let state = state(MemoryStore::new());
        let first = respond(handle(&state, sign_up("ann@example.com", "correct horse")).await);
        let again = respond(handle(&state, sign_up("ann@example.com", "correct horse")).await);
        assert_eq!(again.status(), 201);
        assert_eq!(body_json(&again), body_json(&first));
    }

    #[tokio::test]
    async fn a_repeated_sign_up_with_the_right_password_is_409_past_the_failed_login_limit() {
        // GIVEN ann's account, and one failed login allowed per window
        let store = MemoryStore::new();
        let state = State::new(store, test_passwords(), tiny_login_limits(1));
        let first = respond(handle(&state, sign_up("ann@example.com", "correct horse")).await);
        assert_eq!(first.status(), 201);
        // WHEN a repeat with a wrong password uses up the limit, then one with the right one
        let wrong = respond(handle(&state, sign_up("ann@example.com", "wrong password")).await);
        let right = respond(handle(&state, sign_up("ann@example.com", "correct horse")).await);
        // THEN both are the contract's 409: sign-up is no password oracle past the limit
        assert_eq!(wrong.status(), 409);
        assert_eq!(right.status(), 409);
        assert_eq!(
            detail(&right),
            "User with email: ann@example.com already exists"
        );
    }

    #[tokio::test]
    async fn a_sign_up_with_an_invalid_email_or_password_is_422_and_creates_nothing() {
        let state = state(MemoryStore::new());
        let answer = respond(handle(&state, sign_up("not an address", "short")).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["body.email", "body.password"]);
        let text_plain = request("POST", "/users")
            .body(
                "text/plain",
                r#"{"email": "ann@example.com", "password": "correct horse"}"#,
            )
            .build();
        let answer = respond(handle(&state, text_plain).await);
        assert_eq!(answer.status(), 422);
        let email = Email::parse("ann@example.com").unwrap();
        assert!(state.store.get_credential(&email).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn sign_up_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        store.set_unavailable(true);
        let state = state(store);
        let answer = respond(handle(&state, sign_up("ann@example.com", "correct horse")).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
