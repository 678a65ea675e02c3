//! `POST /users`: sign-up.

use shared::ApiError;
use shared::auth::Passwords;
use shared::config::HashConfig;
use shared::error::HttpError;
use shared::http::{Body, LambdaError, Request, Response, StatusCode, body, json};
use shared::models::{NewUser, UserOut};
use shared::openapi::{TAG_USERS, Unavailable, ValidationFailed};
use shared::store::{CreateUserError, Store};

/// What the function keeps between requests.
pub struct State {
    store: Store,
    passwords: Passwords,
}

impl State {
    /// Reads `TABLE_NAME` and `BCRYPT_COST`.
    pub async fn from_env() -> Result<Self, LambdaError> {
        Ok(Self {
            store: Store::from_env().await?,
            passwords: Passwords::new(HashConfig::from_env()?),
        })
    }

    /// State over an existing store (tests, the local gateway).
    pub fn new(store: Store, passwords: Passwords) -> Self {
        Self { store, passwords }
    }
}

/// Validates the body (422), hashes the password off the executor, then creates the user and
/// the e-mail claim in one transaction: 201 with the user, or 409 when the e-mail is taken
/// (exactly one account per e-mail, under any concurrency).
#[utoipa::path(
    post,
    path = "/users",
    operation_id = "create_user",
    tag = TAG_USERS,
    summary = "Create User",
    description = "Sign-up. The e-mail is stored with its domain lower-cased; one account per e-mail.",
    request_body = NewUser,
    responses(
        (status = 201, description = "The new user (never a password)", body = UserOut),
        (status = 409, description = "An account with this e-mail exists", body = HttpError,
         example = json!({"detail": "User with email: ann@example.com already exists"})),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let new = NewUser::from_json(body(&req))?;
    let hash = state.passwords.hash(new.password).await?;
    let user = state
        .store
        .create_user(&new.email, &hash)
        .await
        .map_err(|e| match e {
            CreateUserError::EmailTaken => {
                ApiError::Conflict(format!("User with email: {} already exists", new.email))
            }
            CreateUserError::Store(e) => e.into(),
        })?;
    tracing::info!(user_id = user.id, "user created");
    json(StatusCode::CREATED, &UserOut::from(&user))
}
