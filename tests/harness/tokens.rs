//! Access tokens made by the tests: minted with the API's key, signed with others, unsigned,
//! and read without checking anything.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::data::{now, unique};
use crate::target::jwt_secret;

/// An access token signed by the API's key (HS256, `typ: at+jwt`, as login issues them), or
/// `None` when the key is unknown (remote runs without `JWT_SECRET`).
pub fn mint_token(claims: &Value) -> Option<String> {
    mint_typed_token(Some(ACCESS_TOKEN_TYP), claims)
}

/// A token signed by the API's key with any `typ` header (or none).
pub fn mint_typed_token(typ: Option<&str>, claims: &Value) -> Option<String> {
    Some(sign_typed_token(
        Algorithm::HS256,
        typ,
        jwt_secret()?.as_bytes(),
        claims,
    ))
}

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The `iss` of the API's access tokens: `JWT_ISSUER` when set (a deployed stage), else the
/// template's value.
pub fn token_issuer() -> String {
    std::env::var("JWT_ISSUER").unwrap_or_else(|_| "posts-api".into())
}

/// The `aud` of the API's access tokens: `JWT_AUDIENCE` when set, else the template's value.
pub fn token_audience() -> String {
    std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "posts-api".into())
}

/// Valid claims for `user_id`, as login issues them: issued now, expiring in 15 minutes (the
/// API's lifetime is 30), with the API's issuer and audience and a fresh `jti`.
pub fn claims_for(user_id: u64) -> Value {
    let now = now();
    json!({
        "user_id": user_id, "sub": user_id.to_string(), "iat": now, "exp": now + 900,
        "iss": token_issuer(), "aud": token_audience(), "jti": unique("jti"),
    })
}

/// `claims_for(user_id)` with some claims replaced (`null` removes one).
pub fn claims_with(user_id: u64, changes: Value) -> Value {
    let mut claims = claims_for(user_id);
    for (key, value) in changes.as_object().expect("an object of changes") {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

/// A JWT signed with any HMAC algorithm and key, `typ: at+jwt`.
pub fn sign_token(algorithm: Algorithm, key: &[u8], claims: &Value) -> String {
    sign_typed_token(algorithm, Some(ACCESS_TOKEN_TYP), key, claims)
}

/// A JWT signed with any HMAC algorithm and key, and any `typ` header (or none).
pub fn sign_typed_token(
    algorithm: Algorithm,
    typ: Option<&str>,
    key: &[u8],
    claims: &Value,
) -> String {
    shared::auth::crypto::install();
    let header = jsonwebtoken::Header {
        typ: typ.map(str::to_owned),
        ..jsonwebtoken::Header::new(algorithm)
    };
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .expect("encode a JWT")
}

/// An unsigned `alg: none` JWT (the classic bypass attempt): `header.claims.` with no signature.
pub fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// The claims of a JWT, read without checking anything.
pub fn token_claims(token: &str) -> Value {
    let payload = token
        .split('.')
        .nth(1)
        .unwrap_or_else(|| panic!("not a JWT: {token:?}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("JWT payload is not base64url ({e}): {token:?}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT payload is not JSON ({e})"))
}

/// The header of a JWT, read without checking anything.
pub fn token_header(token: &str) -> Value {
    let header = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("JWT header is not base64url ({e}): {token:?}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT header is not JSON ({e})"))
}
