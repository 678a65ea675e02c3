//! Configuration read once from the environment, in each function's `main`.
//!
//! Each function reads only the parts it needs, so a function that never signs tokens does not
//! need (and is never given) the signing key. A missing or bad value fails the cold start with a
//! message that names the variable, instead of failing later on a request.

use std::str::FromStr;
use std::time::Duration;

/// A setting that is missing or cannot be used.
///
/// `Debug` prints the same one line as `Display`: a function's `main` returns this error
/// (boxed) and Rust prints a failed `main`'s error with `Debug`, so the cold start's last
/// line reads `Error: environment variable JWT_SECRET is invalid: ...`, which the local
/// gateway (and a reader of CloudWatch) can show as it is, not a struct dump.
#[derive(thiserror::Error)]
pub enum ConfigError {
    /// The variable is not set (or is empty).
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    /// The variable is set to a value we cannot use.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// Why the value was refused (never the value itself: it may be a secret).
        reason: String,
    },
}

impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Reads a required variable; an empty value counts as missing.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// Reads an optional variable and parses it, with a default when unset; a set but unparsable
/// value is an error, not a silent default.
pub fn parsed_or<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            })
        }
        _ => Ok(default),
    }
}

/// Settings every HTTP function needs.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `Access-Control-Allow-Origin` on every answer (`CORS_ALLOW_ORIGIN`, default `*`).
    pub cors_allow_origin: String,
}

impl HttpConfig {
    /// Reads `CORS_ALLOW_ORIGIN`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            cors_allow_origin: parsed_or("CORS_ALLOW_ORIGIN", "*".to_string())?,
        })
    }
}

/// Settings of the DynamoDB store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The table that holds every item (`TABLE_NAME`).
    pub table_name: String,
    /// The most one DynamoDB call may take, retries included
    /// (`DYNAMODB_OPERATION_TIMEOUT_MS`, default 2,000): a hung DynamoDB is a 503 after this,
    /// well before the function's own timeout (10 s) or API Gateway's (29 s).
    pub operation_timeout: Duration,
    /// The most one attempt may take (`DYNAMODB_ATTEMPT_TIMEOUT_MS`, default 800): DynamoDB
    /// answers in milliseconds, so a slower attempt is abandoned and retried by the SDK.
    pub attempt_timeout: Duration,
    /// Connection set-up limit (`DYNAMODB_CONNECT_TIMEOUT_MS`, default 500).
    pub connect_timeout: Duration,
    /// The AWS region (`AWS_REGION`, which Lambda sets; else `AWS_DEFAULT_REGION`).
    pub region: String,
    /// Another DynamoDB endpoint (`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`), as the
    /// AWS SDKs read it: the local gateway points it at DynamoDB Local. Unset on AWS.
    pub endpoint_url: Option<String>,
    /// Partitions of the feed index (`FEED_SHARDS`, default [`DEFAULT_FEED_SHARDS`],
    /// 1..=[`MAX_FEED_SHARDS`]): a post is written under one of them, and a page of
    /// `GET /posts` queries them all. May be raised on a live table, never lowered: items keep
    /// the shard they were written with, and readers query every shard below the current
    /// count (see `docs/data-model.md`).
    pub feed_shards: u32,
}

/// Default of [`StoreConfig::feed_shards`] (also the template's `FeedShards` default).
pub const DEFAULT_FEED_SHARDS: u32 = 4;
/// The most feed shards a deployment may have: each page of `GET /posts` costs up to this
/// many concurrent `Query` calls.
pub const MAX_FEED_SHARDS: u32 = 64;

/// Default of [`StoreConfig::operation_timeout`], in milliseconds.
pub const DEFAULT_OPERATION_TIMEOUT_MS: u64 = 2_000;
/// Default of [`StoreConfig::attempt_timeout`], in milliseconds.
pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 800;
/// Default of [`StoreConfig::connect_timeout`], in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 500;

impl StoreConfig {
    /// Reads `TABLE_NAME`, the timeouts, the region and the endpoint. The endpoint variables
    /// are the SDK's own (the local gateway sets `AWS_ENDPOINT_URL_DYNAMODB` to reach DynamoDB
    /// Local), so nothing here is local-only.
    pub fn from_env() -> Result<Self, ConfigError> {
        let ms = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            let v: u64 = parsed_or(name, default)?;
            if !(1..=60_000).contains(&v) {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be between 1 and 60000 (milliseconds)".into(),
                });
            }
            Ok(Duration::from_millis(v))
        };
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            operation_timeout: ms(
                "DYNAMODB_OPERATION_TIMEOUT_MS",
                DEFAULT_OPERATION_TIMEOUT_MS,
            )?,
            attempt_timeout: ms("DYNAMODB_ATTEMPT_TIMEOUT_MS", DEFAULT_ATTEMPT_TIMEOUT_MS)?,
            connect_timeout: ms("DYNAMODB_CONNECT_TIMEOUT_MS", DEFAULT_CONNECT_TIMEOUT_MS)?,
            region: required("AWS_REGION").or_else(|_| required("AWS_DEFAULT_REGION"))?,
            endpoint_url: required("AWS_ENDPOINT_URL_DYNAMODB")
                .or_else(|_| required("AWS_ENDPOINT_URL"))
                .ok(),
            feed_shards: feed_shards()?,
        })
    }
}

/// Reads `FEED_SHARDS` (1..=[`MAX_FEED_SHARDS`], default [`DEFAULT_FEED_SHARDS`]).
pub fn feed_shards() -> Result<u32, ConfigError> {
    let n: u32 = parsed_or("FEED_SHARDS", DEFAULT_FEED_SHARDS)?;
    if !(1..=MAX_FEED_SHARDS).contains(&n) {
        return Err(ConfigError::Invalid {
            name: "FEED_SHARDS",
            reason: format!("must be between 1 and {MAX_FEED_SHARDS}"),
        });
    }
    Ok(n)
}

/// The smallest signing key we accept: HS256 keys shorter than the hash output are weak.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The longest access-token lifetime the code accepts, in minutes: 10 years. A deployed stack
/// never comes near it (the template's `AccessTokenExpireMinutes` stops at 1440); only the
/// sample events' token, signed with the public development key of `sam-local-env.json`,
/// lives that long (see the README, "sam local and the sample events").
pub const MAX_ACCESS_TOKEN_EXPIRE_MINUTES: u32 = 10 * 366 * 24 * 60;
/// `iss` of our access tokens when `JWT_ISSUER` is not set.
pub const DEFAULT_JWT_ISSUER: &str = "posts-api";
/// `aud` of our access tokens when `JWT_AUDIENCE` is not set.
pub const DEFAULT_JWT_AUDIENCE: &str = "posts-api";

/// Settings for signing and verifying access tokens.
#[derive(Clone)]
pub struct JwtConfig {
    /// The HS256 key (`JWT_SECRET`, at least 32 bytes).
    pub secret: Vec<u8>,
    /// Token lifetime in minutes (`ACCESS_TOKEN_EXPIRE_MINUTES`, default 30): what login
    /// issues, and the longest `exp - iat` the authorizer accepts.
    pub expire_minutes: u32,
    /// `iss` issued and required (`JWT_ISSUER`, default [`DEFAULT_JWT_ISSUER`]).
    pub issuer: String,
    /// `aud` issued and required (`JWT_AUDIENCE`, default [`DEFAULT_JWT_AUDIENCE`]).
    pub audience: String,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("JwtConfig")
            .field("secret", &"<redacted>")
            .field("expire_minutes", &self.expire_minutes)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl JwtConfig {
    /// A config with the default issuer and audience.
    pub fn new(secret: Vec<u8>, expire_minutes: u32) -> Self {
        Self {
            secret,
            expire_minutes,
            issuer: DEFAULT_JWT_ISSUER.into(),
            audience: DEFAULT_JWT_AUDIENCE.into(),
        }
    }

    /// Reads `JWT_SECRET`, `ACCESS_TOKEN_EXPIRE_MINUTES`, `JWT_ISSUER` and `JWT_AUDIENCE`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let secret = required("JWT_SECRET")?.into_bytes();
        if secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
            });
        }
        let expire_minutes = parsed_or("ACCESS_TOKEN_EXPIRE_MINUTES", 30u32)?;
        if !(1..=MAX_ACCESS_TOKEN_EXPIRE_MINUTES).contains(&expire_minutes) {
            return Err(ConfigError::Invalid {
                name: "ACCESS_TOKEN_EXPIRE_MINUTES",
                reason: format!("must be between 1 and {MAX_ACCESS_TOKEN_EXPIRE_MINUTES}"),
            });
        }
        Ok(Self {
            secret,
            expire_minutes,
            issuer: parsed_or("JWT_ISSUER", DEFAULT_JWT_ISSUER.to_string())?,
            audience: parsed_or("JWT_AUDIENCE", DEFAULT_JWT_AUDIENCE.to_string())?,
        })
    }
}

/// Settings of refresh tokens and the sessions they belong to (`POST /login`,
/// `POST /token/refresh`).
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// How long a refresh token stays usable, in minutes (`REFRESH_TOKEN_EXPIRE_MINUTES`,
    /// default 7 days): a session left unused that long is over.
    pub refresh_expire_minutes: u32,
    /// How long a session lasts at most, however often it is refreshed, in minutes
    /// (`SESSION_MAX_MINUTES`, default 30 days): then the user logs in again.
    pub session_max_minutes: u32,
}

impl SessionConfig {
    /// Reads `REFRESH_TOKEN_EXPIRE_MINUTES` and `SESSION_MAX_MINUTES`.
    pub fn from_env() -> Result<Self, ConfigError> {
        const YEAR: u32 = 366 * 24 * 60;
        let refresh_expire_minutes = parsed_or("REFRESH_TOKEN_EXPIRE_MINUTES", 7 * 24 * 60)?;
        if !(1..=YEAR).contains(&refresh_expire_minutes) {
            return Err(ConfigError::Invalid {
                name: "REFRESH_TOKEN_EXPIRE_MINUTES",
                reason: format!("must be between 1 and {YEAR}"),
            });
        }
        let session_max_minutes = parsed_or("SESSION_MAX_MINUTES", 30 * 24 * 60)?;
        if !(refresh_expire_minutes..=YEAR).contains(&session_max_minutes) {
            return Err(ConfigError::Invalid {
                name: "SESSION_MAX_MINUTES",
                reason: format!("must be between REFRESH_TOKEN_EXPIRE_MINUTES and {YEAR}"),
            });
        }
        Ok(Self {
            refresh_expire_minutes,
            session_max_minutes,
        })
    }
}

/// Settings for password hashing.
#[derive(Debug, Clone, Copy)]
pub struct HashConfig {
    /// bcrypt cost for new hashes (`BCRYPT_COST`, default 12, 4..=31).
    pub bcrypt_cost: u32,
}

impl HashConfig {
    /// Reads `BCRYPT_COST`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let bcrypt_cost = parsed_or("BCRYPT_COST", 12u32)?;
        if !(4..=31).contains(&bcrypt_cost) {
            return Err(ConfigError::Invalid {
                name: "BCRYPT_COST",
                reason: "must be between 4 and 31".into(),
            });
        }
        Ok(Self { bcrypt_cost })
    }
}

/// Limits on failed logins (`POST /login`); `docs/api.md` says what each one is for. Every
/// limit counts within fixed windows of [`LoginLimitsConfig::window_secs`]; a limit of 0 turns
/// that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimitsConfig {
    /// Length of a counting window, in seconds (`LOGIN_FAILURE_WINDOW_SECONDS`, default 900).
    pub window_secs: u64,
    /// Failed logins of one account from one source per window
    /// (`LOGIN_MAX_FAILURES_PER_ACCOUNT_SOURCE`, default 5).
    pub per_account_source: u64,
    /// Failed logins of one account from all sources per window, enforced only on sources the
    /// account has not logged in from lately (`LOGIN_MAX_FAILURES_PER_ACCOUNT`, default 20).
    pub per_account: u64,
    /// Failed logins from one source, whatever the account, per window
    /// (`LOGIN_MAX_FAILURES_PER_SOURCE`, default 100).
    pub per_source: u64,
}

impl Default for LoginLimitsConfig {
    /// The production defaults (also the template's parameter defaults).
    fn default() -> Self {
        Self {
            window_secs: 900,
            per_account_source: 5,
            per_account: 20,
            per_source: 100,
        }
    }
}

impl LoginLimitsConfig {
    /// Reads `LOGIN_FAILURE_WINDOW_SECONDS` (1..=86400) and the three
    /// `LOGIN_MAX_FAILURES_*` limits (0 = off).
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let window_secs = parsed_or("LOGIN_FAILURE_WINDOW_SECONDS", d.window_secs)?;
        if !(1..=86_400).contains(&window_secs) {
            return Err(ConfigError::Invalid {
                name: "LOGIN_FAILURE_WINDOW_SECONDS",
                reason: "must be between 1 and 86400".into(),
            });
        }
        Ok(Self {
            window_secs,
            per_account_source: parsed_or(
                "LOGIN_MAX_FAILURES_PER_ACCOUNT_SOURCE",
                d.per_account_source,
            )?,
            per_account: parsed_or("LOGIN_MAX_FAILURES_PER_ACCOUNT", d.per_account)?,
            per_source: parsed_or("LOGIN_MAX_FAILURES_PER_SOURCE", d.per_source)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named_in_the_message() {
        let err = required("SURELY_NOT_SET_ANYWHERE_42").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable SURELY_NOT_SET_ANYWHERE_42 is required but not set"
        );
    }

    #[test]
    fn a_failed_main_prints_the_message_not_a_struct() {
        // `main` returns the error boxed; Rust prints it with `Debug` after `Error: `.
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(ConfigError::Invalid {
            name: "JWT_SECRET",
            reason: "must be at least 32 bytes".into(),
        });
        assert_eq!(
            format!("{boxed:?}"),
            "environment variable JWT_SECRET is invalid: must be at least 32 bytes"
        );
    }

    #[test]
    fn an_unset_optional_variable_takes_its_default() {
        assert_eq!(parsed_or("SURELY_NOT_SET_ANYWHERE_43", 7u32).unwrap(), 7);
    }

    #[test]
    fn the_jwt_config_debug_output_hides_the_key() {
        let c = JwtConfig::new(b"super-secret-value-that-must-not-leak".to_vec(), 30);
        assert!(!format!("{c:?}").contains("super-secret"));
    }
}
