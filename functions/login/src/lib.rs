//! `POST /login`: the OAuth2 password form in, an access token out.

use shared::ApiError;
use shared::auth::{Jwt, Passwords};
use shared::config::{HashConfig, JwtConfig};
use shared::error::HttpError;
use shared::http::{Body, LambdaError, Request, Response, StatusCode, body, json};
use shared::models::LoginFormFields;
use shared::models::{LoginForm, Token};
use shared::openapi::{TAG_AUTHENTICATION, Unavailable, ValidationFailed};
use shared::store::Store;
use shared::validate::normalize_email;

/// What the function keeps between requests.
pub struct State {
    store: Store,
    passwords: Passwords,
    jwt: Jwt,
}

impl State {
    /// Reads `TABLE_NAME`, `BCRYPT_COST`, `JWT_SECRET` and `ACCESS_TOKEN_EXPIRE_MINUTES`.
    pub async fn from_env() -> Result<Self, LambdaError> {
        Ok(Self {
            store: Store::from_env().await?,
            passwords: Passwords::for_login(HashConfig::from_env()?).await?,
            jwt: Jwt::new(&JwtConfig::from_env()?),
        })
    }
}

/// One GetItem for the e-mail's credential, one bcrypt verify (against a dummy hash when the
/// e-mail is unknown), then 200 with a token or 403 `Invalid Credentials`: the same answer,
/// in about the same time, for an unknown e-mail and a wrong password.
/// The form may be url-encoded or multipart, as its Content-Type says (as FastAPI reads it).
#[utoipa::path(
    post,
    path = "/login",
    operation_id = "login",
    tag = TAG_AUTHENTICATION,
    summary = "Login",
    description = "OAuth2 password flow: `username` is the e-mail. The token goes in `Authorization: Bearer <token>`.",
    request_body(content(
        (LoginFormFields = "application/x-www-form-urlencoded"),
        (LoginFormFields = "multipart/form-data"),
    )),
    responses(
        (status = 200, description = "An access token", body = Token),
        (status = 403, description = "Unknown e-mail or wrong password (the same answer for both)",
         body = HttpError, example = json!({"detail": "Invalid Credentials"})),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let form = LoginForm::from_request(content_type, body(&req)).await?;
    // Sign-up stores only valid addresses (at most 254 bytes), so anything else is no account:
    // no lookup (DynamoDB refuses a key over 2,048 bytes), but the same dummy bcrypt verify.
    let credential = match normalize_email(&form.username) {
        Ok(email) => state.store.get_credential(&email).await?,
        Err(_) => None,
    };
    let (user_id, hash) = match credential {
        Some(c) => (Some(c.user_id), Some(c.password_hash)),
        None => (None, None),
    };
    let ok = state.passwords.verify(form.password, hash).await?;
    match user_id {
        Some(user_id) if ok => json(
            StatusCode::OK,
            &Token {
                access_token: state.jwt.issue(user_id)?,
                token_type: "bearer",
            },
        ),
        _ => Err(ApiError::Forbidden("Invalid Credentials".into())),
    }
}
