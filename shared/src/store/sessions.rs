//! Sessions: the refresh tokens of `POST /login`, `POST /token/refresh` and `POST /logout`.
//!
//! | item          | pk                     | sk        | attributes |
//! |---------------|------------------------|-----------|------------|
//! | session       | `SESSION#<session id>` | `SESSION` | `user_id`, `created_at`, `expires_at`, (`revoked_at`) |
//! | refresh token | `REFRESH#<sha256>`     | `REFRESH` | `session_id`, `user_id`, `created_at`, `expires_at`, `session_expires_at`, (`used_at`) |
//!
//! A login starts a session (the "family" of RFC 9700 §4.14) with its first refresh token.
//! The token itself is never stored: its item is keyed by the token's SHA-256, so the table
//! (and its backups) holds nothing a client could present. Each refresh consumes the token it
//! presents and adds the next one to the session, in one transaction:
//!
//! 1. mark the presented token used, only if it is not (`attribute_not_exists(used_at)`);
//! 2. check the session is neither revoked nor over;
//! 3. put the new token (only if its key is new).
//!
//! So of any number of concurrent refreshes with one token exactly one commits. A token that
//! is presented again after it was used (a replay, or the loser of such a race) revokes its
//! whole session: every token of the family is refused from then on, because every refresh
//! checks the session (step 2). Revocation is one write, however long the family is.
//!
//! Lifetimes: a refresh token is usable for [`SessionConfig::refresh_expire_minutes`] (an idle
//! session ends), and never past its session's end, [`SessionConfig::session_max_minutes`] after
//! the login. Every item carries `expires_at` (epoch seconds), the table's TTL attribute;
//! DynamoDB deletes expired items some time later (it can lag by days), so the code compares
//! `expires_at` itself and never relies on the deletion.

use super::{Store, TxOutcome, classify, from_item, invalid_request, key, n};
use crate::config::SessionConfig;
use crate::domain::{StoreError, UserId};
use crate::ports::SessionStore;
use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

const SESSION_SK: &str = "SESSION";
const REFRESH_SK: &str = "REFRESH";

fn session_pk(id: &str) -> String {
    format!("SESSION#{id}")
}
fn refresh_pk(hash: &str) -> String {
    format!("REFRESH#{hash}")
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionItem {
    pk: String,
    sk: String,
    user_id: UserId,
    created_at: String,
    /// The session's absolute end (and TTL).
    expires_at: u64,
    /// Set once, when the session is revoked (logout, or a used token presented again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefreshTokenItem {
    pk: String,
    sk: String,
    session_id: String,
    user_id: UserId,
    created_at: String,
    /// The token's end (and TTL).
    expires_at: u64,
    /// Its session's end: no token of the session outlives it.
    session_expires_at: u64,
    /// Set when a refresh consumed the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used_at: Option<u64>,
}

/// A refresh token the store has accepted: whose it is and until when it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    /// The session's owner.
    pub user_id: UserId,
    /// The session (family) the token belongs to.
    pub session_id: String,
    /// When the new refresh token stops working (epoch seconds).
    pub expires_at: u64,
}

/// Why a refresh token was refused. Every case answers the same 401; they differ only in
/// what was done and logged.
#[derive(Debug)]
pub enum RefreshError {
    /// Unknown, expired, or its session is over: nothing changed.
    Invalid,
    /// Already used: its session has just been revoked (RFC 9700 §4.14).
    Reused,
    /// Its session was revoked before (logout, or an earlier reuse).
    Revoked,
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for RefreshError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl Store {
    /// [`SessionStore::create_session`]; with `replace_token` the token item may replace one with the
    /// same hash (only the development fixtures of `seed_session` do that).
    pub(super) async fn put_session(
        &self,
        user_id: UserId,
        token_hash: &str,
        now: u64,
        config: &SessionConfig,
        replace_token: bool,
    ) -> Result<RefreshGrant, StoreError> {
        let session_id = crate::auth::random_hex(16);
        let session_expires_at = now + u64::from(config.session_max_minutes) * 60;
        let expires_at =
            (now + u64::from(config.refresh_expire_minutes) * 60).min(session_expires_at);
        let created_at = crate::time::now_rfc3339();
        let session = super::to_item(&SessionItem {
            pk: session_pk(&session_id),
            sk: SESSION_SK.into(),
            user_id,
            created_at: created_at.clone(),
            expires_at: session_expires_at,
            revoked_at: None,
        })?;
        let put_session = self.put_new(session)?;
        let grant = RefreshGrant {
            user_id,
            session_id,
            expires_at,
        };
        let mut put_token = self.put_refresh_token(&grant, token_hash, session_expires_at)?;
        if replace_token && let Some(put) = put_token.put.as_mut() {
            put.condition_expression = None;
        }
        match self.transact(vec![put_session, put_token]).await? {
            TxOutcome::Committed => Ok(grant),
            // 128 random bits for the session and 256 for the token: a collision is a bug.
            TxOutcome::Cancelled(reasons) => Err(StoreError::Other(format!(
                "new session collided with an existing item: {reasons:?}"
            ))),
        }
    }

    /// The put of a new refresh token of `grant`'s session (only if its key is new).
    fn put_refresh_token(
        &self,
        grant: &RefreshGrant,
        token_hash: &str,
        session_expires_at: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = super::to_item(&RefreshTokenItem {
            pk: refresh_pk(token_hash),
            sk: REFRESH_SK.into(),
            session_id: grant.session_id.clone(),
            user_id: grant.user_id,
            created_at: crate::time::now_rfc3339(),
            expires_at: grant.expires_at,
            session_expires_at,
            used_at: None,
        })?;
        self.put_new(item)
    }

    async fn get_refresh_token(&self, hash: &str) -> Result<Option<RefreshTokenItem>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(refresh_pk(hash), REFRESH_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item.map(from_item).transpose()
    }

    /// Marks session `id` revoked (the first time only; later calls change nothing). A session
    /// that is gone (its TTL passed) stays gone.
    async fn revoke(&self, id: &str, now: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(id), SESSION_SK)))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if super::is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }
}

impl SessionStore for Store {
    /// Starts a session for `user_id` with its first refresh token (stored as `token_hash`),
    /// at `now` (epoch seconds): the session and the token in one transaction, each only if
    /// its key is new.
    async fn create_session(
        &self,
        user_id: UserId,
        token_hash: &str,
        now: u64,
        config: &SessionConfig,
    ) -> Result<RefreshGrant, StoreError> {
        self.put_session(user_id, token_hash, now, config, false)
            .await
    }

    /// Trades the refresh token whose hash is `presented` for a new one (`new_hash`) of the
    /// same session, usable for `refresh_secs` (never past the session's end). See the module
    /// doc for the transaction; a token presented after it was used revokes its session.
    async fn rotate_refresh_token(
        &self,
        presented: &str,
        new_hash: &str,
        now: u64,
        refresh_secs: u64,
    ) -> Result<RefreshGrant, RefreshError> {
        let Some(old) = self.get_refresh_token(presented).await? else {
            return Err(RefreshError::Invalid);
        };
        if old.expires_at <= now {
            return Err(RefreshError::Invalid);
        }
        if old.used_at.is_some() {
            self.revoke(&old.session_id, now).await?;
            return Err(RefreshError::Reused);
        }
        let grant = RefreshGrant {
            user_id: old.user_id,
            session_id: old.session_id.clone(),
            expires_at: (now + refresh_secs).min(old.session_expires_at),
        };
        if grant.expires_at <= now {
            return Err(RefreshError::Invalid);
        }
        let consume = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(refresh_pk(presented), REFRESH_SK)))
            .update_expression("SET used_at = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(used_at)")
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(invalid_request)?;
        let session_alive = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(&old.session_id), SESSION_SK)))
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(revoked_at) AND expires_at > :now \
                 AND user_id = :user",
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":user", n(old.user_id))
            .build()
            .map_err(invalid_request)?;
        // The account must still exist: a session must not outlive its user (the authorizer
        // refuses a deleted user's access tokens; this keeps its refresh tokens from rotating).
        let user_exists = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(super::user_pk(old.user_id), super::USER_SK)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(invalid_request)?;
        let actions = vec![
            TransactWriteItem::builder().update(consume).build(),
            TransactWriteItem::builder()
                .condition_check(session_alive)
                .build(),
            self.put_refresh_token(&grant, new_hash, old.session_expires_at)?,
            TransactWriteItem::builder()
                .condition_check(user_exists)
                .build(),
        ];
        match self.transact(actions).await? {
            TxOutcome::Committed => Ok(grant),
            // Another refresh consumed it between our read and our write: from here that is
            // indistinguishable from a stolen copy being used, so the session ends.
            outcome if outcome.failed(0) => {
                self.revoke(&old.session_id, now).await?;
                Err(RefreshError::Reused)
            }
            outcome if outcome.failed(1) => Err(RefreshError::Revoked),
            // The user is gone: end the session too.
            outcome if outcome.failed(3) => {
                self.revoke(&old.session_id, now).await?;
                Err(RefreshError::Revoked)
            }
            TxOutcome::Cancelled(r) => Err(RefreshError::Store(StoreError::Other(format!(
                "new refresh token collided with an existing item: {r:?}"
            )))),
        }
    }

    /// Logout: revokes the session of the refresh token whose hash is `presented`, whether
    /// the token is current, used or expired. Returns whether such a token exists; an unknown
    /// token changes nothing (and the caller answers the same either way).
    async fn revoke_session(&self, presented: &str, now: u64) -> Result<bool, StoreError> {
        match self.get_refresh_token(presented).await? {
            Some(token) => {
                self.revoke(&token.session_id, now).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Whether session `id` exists and is neither revoked nor over at `now` (for tests and
    /// audits; no request path uses it).
    async fn session_is_active(&self, id: &str, now: u64) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(id), SESSION_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let session: Option<SessionItem> = out.item.map(from_item).transpose()?;
        Ok(session.is_some_and(|s| s.revoked_at.is_none() && s.expires_at > now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_hold_the_token_itself() {
        let token = crate::auth::new_refresh_token();
        let hash = crate::auth::refresh_token_hash(&token);
        let pk = refresh_pk(&hash);
        assert!(!pk.contains(&token));
        assert_eq!(pk.len(), "REFRESH#".len() + 64);
        assert_eq!(session_pk("ab"), "SESSION#ab");
    }

    #[test]
    fn optional_attributes_are_absent_until_set() {
        let item = crate::store::to_item(&RefreshTokenItem {
            pk: refresh_pk("h"),
            sk: REFRESH_SK.into(),
            session_id: "s".into(),
            user_id: UserId::new(1),
            created_at: "t".into(),
            expires_at: 2,
            session_expires_at: 3,
            used_at: None,
        })
        .unwrap();
        // A NULL `used_at` would make `attribute_not_exists(used_at)` false: never write one.
        assert!(!item.contains_key("used_at"));
        assert_eq!(item["expires_at"], n(2), "a Number, as TTL requires");
    }
}
