//! Access tokens (HS256 JWT, checked as RFC 8725 asks), the opaque refresh tokens, and
//! password hashing (bcrypt).

use crate::config::JwtConfig;
use crate::error::ApiError;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub mod crypto;

/// Clock skew we tolerate on `exp`, `nbf`, `iat` and the lifetime, in seconds.
pub const LEEWAY_SECS: u64 = 5;

/// The `typ` header of our access tokens (RFC 9068 §2.1): a token of another type (an ID
/// token, a refresh token someone made a JWT of, a plain `JWT`) is never taken for one.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of our access tokens. `user_id` is an integer, as in the course's app, so its
/// clients can keep decoding it; `sub` carries the same id as the standard claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub user_id: u64,
    /// The user's id as a string (standard claim; must match `user_id`).
    pub sub: String,
    /// Who issued it (`JWT_ISSUER`).
    pub iss: String,
    /// Who it is for (`JWT_AUDIENCE`).
    pub aud: String,
    /// Issued at (Unix seconds); required, never in the future.
    pub iat: u64,
    /// Expiry (Unix seconds); required, at most the configured lifetime after `iat`.
    pub exp: u64,
    /// A random id, unique per token (128 bits, hex).
    pub jti: String,
}

/// Signs and verifies access tokens with one HS256 key.
#[derive(Clone)]
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime_secs: u64,
    issuer: String,
    audience: String,
}

/// Why a token was refused. Deliberately not more specific towards the client.
#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(String);

impl Jwt {
    /// Builds the signer/verifier from config.
    pub fn new(config: &JwtConfig) -> Self {
        crypto::install();
        let mut validation = Validation::new(Algorithm::HS256);
        // Only HS256: a token whose header names any other algorithm (none, HS512, RS256...)
        // is refused before its signature is even looked at.
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(&config.secret),
            decoding: DecodingKey::from_secret(&config.secret),
            validation,
            lifetime_secs: u64::from(config.expire_minutes) * 60,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        }
    }

    /// The lifetime of the tokens this issues, in seconds (`expires_in` of the answers).
    pub fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    /// Issues a token for `user_id`, valid for the configured lifetime.
    pub fn issue(&self, user: crate::domain::UserId) -> Result<String, ApiError> {
        let now = unix_now();
        let user_id = user.get();
        let claims = Claims {
            user_id,
            sub: user_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.lifetime_secs,
            jti: random_hex(16),
        };
        let header = Header {
            typ: Some(ACCESS_TOKEN_TYP.into()),
            ..Header::new(Algorithm::HS256)
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Verifies the token in full and returns its claims: HS256 signature, `typ`, `iss`,
    /// `aud`, `exp` and `nbf` (5 s leeway), `iat` present and not in the future, a lifetime
    /// (`exp - iat`) no longer than ours, a `jti`, and `sub` naming the same user as `user_id`.
    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        let refuse = |why: &str| InvalidToken(why.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|e| InvalidToken(e.to_string()))?;
        let typ = header.typ.as_deref().unwrap_or_default();
        // RFC 9068 §4: `at+jwt`, or its full media type; compared case-insensitively.
        let typ = typ.strip_prefix("application/").unwrap_or(typ);
        if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) {
            return Err(refuse("typ is not at+jwt"));
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| InvalidToken(e.to_string()))?;
        let now = unix_now();
        if claims.iat > now.saturating_add(LEEWAY_SECS) {
            return Err(refuse("iat is in the future"));
        }
        if claims.exp <= claims.iat {
            return Err(refuse("exp is not after iat"));
        }
        if claims.exp - claims.iat > self.lifetime_secs.saturating_add(LEEWAY_SECS) {
            return Err(refuse("lifetime longer than the configured one"));
        }
        if claims.jti.is_empty() {
            return Err(refuse("no jti"));
        }
        if claims.sub != claims.user_id.to_string() {
            return Err(refuse("sub and user_id name different users"));
        }
        Ok(claims)
    }
}

/// `n` random bytes from the thread's CSPRNG (ChaCha, seeded by the OS), as lower-case hex.
pub fn random_hex(n: usize) -> String {
    use rand::RngCore as _;
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new refresh token: 256 random bits as 64 hex characters. Opaque on purpose (not a JWT):
/// it means something only to our table, which keeps nothing but its [`refresh_token_hash`].
pub fn new_refresh_token() -> String {
    random_hex(32)
}

/// SHA-256 of a refresh token, hex: what the table stores and looks tokens up by, so a copy
/// of the table (a backup, an export) holds no usable token. A fast hash is enough: the token
/// has 256 random bits, nothing to guess.
pub fn refresh_token_hash(token: &str) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A request that carries more than one `Authorization` header. Which one would count is a
/// guess that two parts of a system can make differently (API Gateway, the authorizer, a
/// handler, a proxy in between), so such a request is refused (401) everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more than one Authorization header")]
pub struct RepeatedAuthorization;

/// The request's one `Authorization` header value: `Ok(None)` without one (or with one that
/// is not visible ASCII, which is no Bearer header either), `Err` with more than one.
pub fn single_authorization(
    headers: &lambda_http::http::HeaderMap,
) -> Result<Option<&str>, RepeatedAuthorization> {
    let mut values = headers
        .get_all(lambda_http::http::header::AUTHORIZATION)
        .iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(RepeatedAuthorization);
    }
    Ok(first.and_then(|v| v.to_str().ok()))
}

/// Extracts the token from an `Authorization` header value: `Bearer <token>`, the scheme
/// case-insensitive. `None` when the header is not a Bearer header.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Now, in Unix seconds (the unit of `iat`, `exp` and the table's `expires_at`).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;
    use jsonwebtoken::EncodingKey;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test";

    fn jwt() -> Jwt {
        Jwt::new(&JwtConfig::new(KEY.to_vec(), 30))
    }

    fn sign(alg: Algorithm, key: &[u8], claims: &serde_json::Value) -> String {
        sign_typed(alg, Some("at+jwt"), key, claims)
    }

    fn sign_typed(
        alg: Algorithm,
        typ: Option<&str>,
        key: &[u8],
        claims: &serde_json::Value,
    ) -> String {
        crypto::install();
        let header = Header {
            typ: typ.map(str::to_string),
            ..Header::new(alg)
        };
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key)).unwrap()
    }

    /// Claims exactly as `issue` makes them, for `user_id`, issued `age` seconds ago.
    fn good(user_id: u64) -> serde_json::Value {
        let now = unix_now();
        serde_json::json!({
            "user_id": user_id, "sub": user_id.to_string(), "iss": "posts-api",
            "aud": "posts-api", "iat": now, "exp": now + 60, "jti": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        })
    }

    fn with(
        mut claims: serde_json::Value,
        key: &str,
        value: serde_json::Value,
    ) -> serde_json::Value {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value;
        }
        claims
    }

    #[test]
    fn an_issued_token_verifies_and_carries_every_claim() {
        let j = jwt();
        let token = j.issue(UserId::new(42)).unwrap();
        let claims = j.verify(&token).unwrap();
        assert_eq!(claims.user_id, 42);
        assert_eq!(claims.sub, "42");
        assert_eq!(claims.iss, "posts-api");
        assert_eq!(claims.aud, "posts-api");
        assert_eq!(claims.exp - claims.iat, 30 * 60);
        assert_eq!(claims.jti.len(), 32);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::HS256);
        // Every token has its own id.
        assert_ne!(
            j.verify(&j.issue(UserId::new(42)).unwrap()).unwrap().jti,
            claims.jti
        );
    }

    #[test]
    fn expired_wrong_key_hs512_none_and_missing_claims_are_refused() {
        let j = jwt();
        let now = unix_now();
        let expired = with(
            with(good(1), "iat", (now - 100).into()),
            "exp",
            (now - 10).into(),
        );
        assert!(j.verify(&sign(Algorithm::HS256, KEY, &expired)).is_err());
        assert!(j.verify(&sign(Algorithm::HS256, KEY, &good(1))).is_ok());
        assert!(
            j.verify(&sign(
                Algorithm::HS256,
                b"another-key-another-key-another-key",
                &good(1)
            ))
            .is_err()
        );
        assert!(j.verify(&sign(Algorithm::HS512, KEY, &good(1))).is_err());
        for claim in ["user_id", "sub", "iss", "aud", "iat", "exp", "jti"] {
            let missing = with(good(1), claim, serde_json::Value::Null);
            assert!(
                j.verify(&sign(Algorithm::HS256, KEY, &missing)).is_err(),
                "a token without {claim} must be refused"
            );
        }
        // alg "none": header {"alg":"none","typ":"at+jwt"}, the payload, and an empty signature.
        let none =
            "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJ1c2VyX2lkIjoxLCJleHAiOjQxMDI0NDQ4MDB9.";
        assert!(j.verify(none).is_err());
        assert!(j.verify("garbage").is_err());
    }

    #[test]
    fn a_foreign_issuer_or_audience_is_refused() {
        let j = jwt();
        for (claim, value) in [
            ("iss", serde_json::json!("https://evil.example.com")),
            ("aud", serde_json::json!("another-api")),
            ("aud", serde_json::json!(["another-api"])),
            ("iss", serde_json::json!("")),
        ] {
            let claims = with(good(1), claim, value.clone());
            assert!(
                j.verify(&sign(Algorithm::HS256, KEY, &claims)).is_err(),
                "{claim} = {value} must be refused"
            );
        }
        let other = Jwt::new(&JwtConfig {
            issuer: "staging-login".into(),
            ..JwtConfig::new(KEY.to_vec(), 30)
        });
        assert!(j.verify(&other.issue(UserId::new(1)).unwrap()).is_err());
    }

    #[test]
    fn only_access_tokens_are_taken_for_access_tokens() {
        let j = jwt();
        for typ in [Some("refresh+jwt"), Some("JWT"), Some("id+jwt"), None] {
            let token = sign_typed(Algorithm::HS256, typ, KEY, &good(1));
            assert!(j.verify(&token).is_err(), "typ {typ:?} must be refused");
        }
        for typ in ["AT+JWT", "application/at+jwt"] {
            let token = sign_typed(Algorithm::HS256, Some(typ), KEY, &good(1));
            assert!(j.verify(&token).is_ok(), "typ {typ} is RFC 9068's");
        }
    }

    #[test]
    fn iat_in_the_future_and_lifetimes_beyond_the_configured_one_are_refused() {
        let j = jwt();
        let now = unix_now();
        let year = 365 * 24 * 3600;
        let cases = [
            ("iat a year ahead", now + year, now + year + 60),
            ("iat 30 s ahead", now + 30, now + 90),
            ("exp = 2^63", now, 1u64 << 63),
            ("31 minutes", now, now + 31 * 60),
            ("exp before iat", now, now - 1),
        ];
        for (what, iat, exp) in cases {
            let claims = with(with(good(1), "iat", iat.into()), "exp", exp.into());
            assert!(
                j.verify(&sign(Algorithm::HS256, KEY, &claims)).is_err(),
                "{what} must be refused"
            );
        }
        // Within the leeway: issued 3 s "ahead", exactly the configured lifetime.
        let ok = with(
            with(good(1), "iat", (now + 3).into()),
            "exp",
            (now + 3 + 1800).into(),
        );
        assert!(j.verify(&sign(Algorithm::HS256, KEY, &ok)).is_ok());
    }

    #[test]
    fn sub_must_name_the_same_user_as_user_id_and_jti_must_not_be_empty() {
        let j = jwt();
        let other_sub = with(good(1), "sub", "2".into());
        assert!(j.verify(&sign(Algorithm::HS256, KEY, &other_sub)).is_err());
        let no_jti = with(good(1), "jti", "".into());
        assert!(j.verify(&sign(Algorithm::HS256, KEY, &no_jti)).is_err());
    }

    #[test]
    fn the_leeway_is_at_most_five_seconds() {
        let j = jwt();
        let now = unix_now();
        let stale = with(
            with(good(1), "iat", (now - 60).into()),
            "exp",
            (now - LEEWAY_SECS - 2).into(),
        );
        assert!(j.verify(&sign(Algorithm::HS256, KEY, &stale)).is_err());
    }

    #[test]
    fn refresh_tokens_are_256_random_bits_and_stored_as_their_sha256() {
        let a = new_refresh_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_refresh_token());
        // SHA-256("abc"), FIPS 180-2's test vector.
        assert_eq!(
            refresh_token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(refresh_token_hash(&a), a);
    }

    #[test]
    fn one_authorization_header_is_read_and_two_are_refused() {
        use lambda_http::http::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        assert_eq!(single_authorization(&h), Ok(None));
        h.append("authorization", HeaderValue::from_static("Bearer a"));
        assert_eq!(single_authorization(&h), Ok(Some("Bearer a")));
        h.append("Authorization", HeaderValue::from_static("Bearer b"));
        assert_eq!(single_authorization(&h), Err(RepeatedAuthorization));
        // Even the same value twice: the request is ambiguous either way.
        let mut twice = HeaderMap::new();
        twice.append("authorization", HeaderValue::from_static("Bearer a"));
        twice.append("authorization", HeaderValue::from_static("Bearer a"));
        assert_eq!(single_authorization(&twice), Err(RepeatedAuthorization));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bEaReR abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
