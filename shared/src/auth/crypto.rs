//! The JWT crypto: HMAC only (HS256, HS384, HS512), on ring, installed as jsonwebtoken's
//! process-wide provider.
//!
//! jsonwebtoken needs a crypto backend. Its own two would each cost the binaries more than
//! this file: `aws_lc_rs` links aws-lc (~2 MB, the largest part of a function before, measured
//! in docs/performance.md), and `rust_crypto` links RSA and elliptic-curve code that an
//! HS256-only service never runs. ring is already linked for the DynamoDB client's TLS.
//! HS384/HS512 are here so a token signed with them is refused by [`super::Jwt`]'s algorithm
//! check (and so tests can make such tokens), not by a missing backend.

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// One HMAC key for one algorithm: signs, and verifies in constant time (`ring::hmac::verify`).
struct Hmac {
    algorithm: Algorithm,
    key: ring::hmac::Key,
}

impl Hmac {
    fn new(algorithm: Algorithm, secret: &[u8]) -> Result<Self> {
        let ring_algorithm = match algorithm {
            Algorithm::HS256 => ring::hmac::HMAC_SHA256,
            Algorithm::HS384 => ring::hmac::HMAC_SHA384,
            Algorithm::HS512 => ring::hmac::HMAC_SHA512,
            _ => return Err(ErrorKind::InvalidAlgorithm.into()),
        };
        Ok(Self {
            algorithm,
            key: ring::hmac::Key::new(ring_algorithm, secret),
        })
    }
}

impl Signer<Vec<u8>> for Hmac {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        Ok(ring::hmac::sign(&self.key, message).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hmac {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), SignatureError> {
        ring::hmac::verify(&self.key, message, signature).map_err(|_| SignatureError::new())
    }
}

impl JwtSigner for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl JwtVerifier for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: |algorithm, key: &EncodingKey| {
        Ok(Box::new(Hmac::new(*algorithm, key.try_get_hmac_secret()?)?))
    },
    verifier_factory: |algorithm, key: &DecodingKey| {
        Ok(Box::new(Hmac::new(*algorithm, key.try_get_hmac_secret()?)?))
    },
    // No JWKs: the keys are shared secrets from the configuration.
    jwk_utils: JwkUtils::new_unimplemented(),
};

/// Makes [`PROVIDER`] jsonwebtoken's provider for this process. Idempotent: every
/// [`super::Jwt`] calls it, and code that calls `jsonwebtoken` directly (the API tests'
/// hand-made tokens) calls it first.
pub fn install() {
    // An error means a provider is installed already: this one, as nothing else installs one.
    let _ = PROVIDER.install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_matches_the_rfc_4231_test_vector() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let mac = Hmac::new(Algorithm::HS256, b"Jefe").unwrap();
        let tag = mac.try_sign(b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex::encode(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(mac.verify(b"what do ya want for nothing?", &tag).is_ok());
        assert!(mac.verify(b"what do ya want for nothing!", &tag).is_err());
    }

    #[test]
    fn only_hmac_algorithms_are_provided() {
        for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            assert!(Hmac::new(alg, b"key").is_err(), "{alg:?}");
        }
    }
}
