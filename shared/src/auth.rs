//! Access tokens (HS256 JWT) and password hashing (bcrypt).

use crate::config::{HashConfig, JwtConfig};
use crate::error::ApiError;
use crate::validate::MAX_PASSWORD_BYTES;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock skew we tolerate on `exp`, in seconds.
pub const LEEWAY_SECS: u64 = 5;

/// The claims of our access tokens. `user_id` is an integer, as in the course's app, so its
/// clients can keep decoding it; `sub` carries the same id as the standard claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub user_id: u64,
    /// The user's id as a string (standard claim).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub: String,
    /// Issued at (Unix seconds).
    #[serde(default)]
    pub iat: u64,
    /// Expiry (Unix seconds); required.
    pub exp: u64,
}

/// Signs and verifies access tokens with one HS256 key.
#[derive(Clone)]
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime_secs: u64,
}

/// Why a token was refused. Deliberately not more specific towards the client.
#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(String);

impl Jwt {
    /// Builds the signer/verifier from config.
    pub fn new(config: &JwtConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Only HS256: a token whose header names any other algorithm (none, HS512, RS256...)
        // is refused before its signature is even looked at.
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            encoding: EncodingKey::from_secret(&config.secret),
            decoding: DecodingKey::from_secret(&config.secret),
            validation,
            lifetime_secs: u64::from(config.expire_minutes) * 60,
        }
    }

    /// Issues a token for `user_id`, valid for the configured lifetime.
    pub fn issue(&self, user_id: u64) -> Result<String, ApiError> {
        let now = unix_now();
        let claims = Claims {
            user_id,
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.lifetime_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// Verifies signature, algorithm and expiry, and returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| InvalidToken(e.to_string()))
    }
}

/// Extracts the token from an `Authorization` header value: `Bearer <token>`, the scheme
/// case-insensitive. `None` when the header is not a Bearer header.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// bcrypt hashing with a configured cost, always off the async executor (one hash at cost 12
/// is ~0.25 s of CPU, which would stall every other task on the thread).
#[derive(Debug, Clone)]
pub struct Passwords {
    cost: u32,
    /// A real hash of a random password at the same cost, verified against when the e-mail is
    /// unknown, so that answer takes as long as a wrong password (no hint which e-mails exist).
    /// Only login needs it ([`Passwords::for_login`]); sign-up's cold start skips the work.
    dummy_hash: Option<String>,
}

impl Passwords {
    /// A hasher for new passwords (sign-up).
    pub fn new(config: HashConfig) -> Self {
        Self {
            cost: config.bcrypt_cost,
            dummy_hash: None,
        }
    }

    /// A hasher that also verifies (login): computes the dummy hash once, at cold start rather
    /// than on the first request for an unknown e-mail.
    pub async fn for_login(config: HashConfig) -> Result<Self, ApiError> {
        let cost = config.bcrypt_cost;
        let dummy: String = (0..24)
            .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
            .collect();
        let dummy_hash = blocking(move || bcrypt::hash(dummy, cost)).await?;
        Ok(Self {
            cost,
            dummy_hash: Some(dummy_hash),
        })
    }

    /// Hashes a new password. bcrypt reads at most 72 bytes, so anything longer is refused
    /// here rather than silently cut (`bcrypt::non_truncating_hash` would also refuse exactly
    /// 72 bytes, which loses nothing and which the contract accepts).
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(ApiError::internal(
                "refusing to hash a password over 72 bytes",
            ));
        }
        let cost = self.cost;
        blocking(move || bcrypt::hash(password, cost)).await
    }

    /// Checks `password` against `hash`, or against the dummy hash when there is no account,
    /// so both failures cost the same. Returns true only for a real match.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = match (hash, &self.dummy_hash) {
            (Some(h), _) => h,
            (None, Some(dummy)) => dummy.clone(),
            // Built with `new` (sign-up only): hash a throw-away password now; slower than a
            // real check, never faster, so still no hint.
            (None, None) => self.hash("unknown-account".into()).await?,
        };
        // A password bcrypt would truncate can never match: compare it anyway (for timing)
        // but refuse the result.
        let too_long = password.len() > MAX_PASSWORD_BYTES;
        let matched = blocking(move || bcrypt::verify(password, &hash))
            .await
            .unwrap_or(false);
        Ok(known && matched && !too_long)
    }
}

async fn blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::EncodingKey;

    fn jwt() -> Jwt {
        Jwt::new(&JwtConfig {
            secret: b"0123456789abcdef0123456789abcdef-test".to_vec(),
            expire_minutes: 30,
        })
    }

    fn sign(alg: Algorithm, key: &[u8], claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_and_carries_the_user_id() {
        let j = jwt();
        let claims = j.verify(&j.issue(42).unwrap()).unwrap();
        assert_eq!(claims.user_id, 42);
        assert_eq!(claims.sub, "42");
        assert!(claims.exp > claims.iat);
    }

    #[test]
    fn expired_wrong_key_hs512_none_and_missing_claims_are_refused() {
        let j = jwt();
        let key = b"0123456789abcdef0123456789abcdef-test";
        let now = unix_now();
        let expired = serde_json::json!({"user_id": 1, "exp": now - 10});
        assert!(j.verify(&sign(Algorithm::HS256, key, &expired)).is_err());
        let ok = serde_json::json!({"user_id": 1, "exp": now + 60});
        assert!(j.verify(&sign(Algorithm::HS256, key, &ok)).is_ok());
        assert!(
            j.verify(&sign(
                Algorithm::HS256,
                b"another-key-another-key-another-key",
                &ok
            ))
            .is_err()
        );
        assert!(j.verify(&sign(Algorithm::HS512, key, &ok)).is_err());
        let no_exp = serde_json::json!({"user_id": 1});
        assert!(j.verify(&sign(Algorithm::HS256, key, &no_exp)).is_err());
        let no_user = serde_json::json!({"exp": now + 60});
        assert!(j.verify(&sign(Algorithm::HS256, key, &no_user)).is_err());
        // alg "none": header {"alg":"none","typ":"JWT"}, the payload, and an empty signature.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJ1c2VyX2lkIjoxLCJleHAiOjQxMDI0NDQ4MDB9.";
        assert!(j.verify(none).is_err());
        assert!(j.verify("garbage").is_err());
    }

    #[test]
    fn the_leeway_is_at_most_five_seconds() {
        let j = jwt();
        let key = b"0123456789abcdef0123456789abcdef-test";
        let stale = serde_json::json!({"user_id": 1, "exp": unix_now() - LEEWAY_SECS - 2});
        assert!(j.verify(&sign(Algorithm::HS256, key, &stale)).is_err());
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bEaReR abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    #[tokio::test]
    async fn passwords_verify_and_unknown_accounts_never_match() {
        let p = Passwords::for_login(HashConfig { bcrypt_cost: 4 })
            .await
            .unwrap();
        let h = p.hash("correct horse".into()).await.unwrap();
        assert!(
            p.verify("correct horse".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!p.verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!p.verify("correct horse".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn passwords_over_72_bytes_are_never_hashed_truncated() {
        let p = Passwords::for_login(HashConfig { bcrypt_cost: 4 })
            .await
            .unwrap();
        assert!(p.hash("x".repeat(73)).await.is_err());
        // Exactly 72 bytes is accepted, and every byte counts.
        let h = p.hash("y".repeat(72)).await.unwrap();
        assert!(p.verify("y".repeat(72), Some(h.clone())).await.unwrap());
        assert!(
            !p.verify(format!("{}z", "y".repeat(71)), Some(h.clone()))
                .await
                .unwrap()
        );
        // A longer password sharing the first 72 bytes must not log in.
        assert!(!p.verify("y".repeat(80), Some(h)).await.unwrap());
    }
}
