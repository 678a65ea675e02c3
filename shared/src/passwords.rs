//! Passwords: bcrypt at a configured cost, always off the async executor, and the constant
//! dummy hash that makes an unknown e-mail cost as much as a wrong password.

use crate::config::HashConfig;
use crate::domain::PasswordHash;
use crate::error::ApiError;
use crate::validate::MAX_PASSWORD_BYTES;

/// bcrypt hashing with a configured cost, always off the async executor (one hash at cost 12
/// is ~0.25 s of CPU, which would stall every other task on the thread).
#[derive(Debug, Clone)]
pub struct Passwords {
    cost: u32,
    /// What a password is checked against when the e-mail has no account, so that answer
    /// takes as long as a wrong password (no hint which e-mails exist): see [`dummy_hash`].
    dummy_hash: PasswordHash,
}

/// Salt and digest of a bcrypt hash of a password nobody has (made once, with `bcrypt::hash`).
const DUMMY_SALT_AND_DIGEST: &str = "vh52ReXKJLFAiGD80zzTnOGTfsGRxBzdftD9hY5m0UH5/EMRx4y2e";

/// A well-formed bcrypt hash at `cost` that no password matches. Verifying against it costs
/// exactly what verifying against a real hash of that cost does (bcrypt reads the cost from
/// the hash and always runs all its rounds), and making it costs nothing: the login function
/// used to hash a random password at cold start for this, ~0.25 s of CPU at cost 12.
pub fn dummy_hash(cost: u32) -> PasswordHash {
    PasswordHash::new(format!("$2b${cost:02}${DUMMY_SALT_AND_DIGEST}"))
}

impl Passwords {
    /// A hasher and verifier at the configured cost.
    pub fn new(config: HashConfig) -> Self {
        Self {
            cost: config.bcrypt_cost,
            dummy_hash: dummy_hash(config.bcrypt_cost),
        }
    }

    /// Hashes a new password. bcrypt reads at most 72 bytes, so anything longer is refused
    /// here rather than silently cut (`bcrypt::non_truncating_hash` would also refuse exactly
    /// 72 bytes, which loses nothing and which the contract accepts).
    pub async fn hash(&self, password: String) -> Result<PasswordHash, ApiError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(ApiError::internal(
                "refusing to hash a password over 72 bytes",
            ));
        }
        let cost = self.cost;
        blocking(move || bcrypt::hash(password, cost))
            .await
            .map(PasswordHash::new)
    }

    /// Checks `password` against `hash`, or against the dummy hash when there is no account,
    /// so both failures cost the same. Returns true only for a real match.
    pub async fn verify(
        &self,
        password: String,
        hash: Option<PasswordHash>,
    ) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        // A password bcrypt would truncate can never match: compare it anyway (for timing)
        // but refuse the result.
        let too_long = password.len() > MAX_PASSWORD_BYTES;
        let matched = blocking(move || bcrypt::verify(password, hash.as_str()))
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

    #[tokio::test]
    async fn passwords_verify_and_unknown_accounts_never_match() {
        let p = Passwords::new(HashConfig { bcrypt_cost: 4 });
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
        let p = Passwords::new(HashConfig { bcrypt_cost: 4 });
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

    #[test]
    fn the_dummy_hash_is_a_valid_bcrypt_hash_of_the_configured_cost_that_nothing_matches() {
        for cost in [4, 12, 31] {
            let dummy = dummy_hash(cost);
            let parts: Vec<&str> = dummy.as_str().split('$').collect();
            assert_eq!(parts[..3], ["", "2b", &format!("{cost:02}")]);
            assert_eq!(parts[3].len(), 53, "22 characters of salt, 31 of digest");
        }
        // It parses and runs (at a cheap cost here), and no password matches it.
        for password in ["", "password", "a dummy password"] {
            assert!(matches!(
                bcrypt::verify(password, dummy_hash(4).as_str()),
                Ok(false)
            ));
        }
    }

    #[tokio::test]
    async fn an_unknown_account_costs_a_full_verify_at_the_configured_cost() {
        // The dummy hash carries the configured cost, so its verify runs as many rounds as a
        // real one: compare cost 4 with cost 8 (16x the rounds) rather than wall-clock budgets.
        let cheap = Passwords::new(HashConfig { bcrypt_cost: 4 });
        let dear = Passwords::new(HashConfig { bcrypt_cost: 8 });
        assert!(cheap.dummy_hash.as_str().starts_with("$2b$04$"));
        assert!(dear.dummy_hash.as_str().starts_with("$2b$08$"));
        assert!(!dear.verify("x".into(), None).await.unwrap());
    }
}
