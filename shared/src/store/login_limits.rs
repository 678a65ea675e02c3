//! Failed-login limits (`POST /login`): counters in the table, each moved by one atomic `ADD`.
//!
//! Three limits, all counted in fixed windows aligned to the clock (window `k` is
//! `[k·w, (k+1)·w)` seconds since the epoch, and the window is part of the counter's key):
//!
//! | counter                | pk                       | sk                              |
//! |------------------------|--------------------------|---------------------------------|
//! | account + source       | `LOGIN#ACCOUNT#<account>` | `FAILS#<window>#SOURCE#<source>` |
//! | account (all sources)  | `LOGIN#ACCOUNT#<account>` | `FAILS#<window>`                |
//! | source (all accounts)  | `LOGIN#SOURCE#<source>`   | `FAILS#<window>`                |
//! | known source (30 days) | `LOGIN#ACCOUNT#<account>` | `KNOWN#SOURCE#<source>`         |
//!
//! `<account>` is the SHA-256 (hex) of the username as the login normalises it, so a key never
//! nears DynamoDB's 2,048-byte limit, whatever a client sends, and the table never stores what
//! strangers typed into the username field (sometimes a password). `<source>` is the client's
//! IPv4 address, or the /64 prefix of its IPv6 address (one subscriber usually holds a whole
//! /64, so a full IPv6 address would be a free new source per attempt).
//!
//! An attempt is counted *before* the password is checked (`ADD failures 1`, returning the new
//! value), and a success takes its count back: so concurrent attempts each see their own
//! number and no more than the limit ever reach bcrypt in a window (a read followed by a write
//! would let a burst through). Every counter carries `expires_at` (the end of its window): TTL
//! deletes old windows, and code never reads them again because the window is in the key.
//!
//! The counters apply to every username, whether an account has it or not, and a refused
//! attempt (429) neither reads the credential nor runs bcrypt: the 429 says nothing about which
//! e-mails exist, in its answer or in its timing.

use super::{Store, classify, is_conditional_failure, key, n};
use crate::config::LoginLimitsConfig;
use crate::domain::StoreError;
use crate::ports::LoginLimitStore;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;

/// How long a source stays "known" for an account after a successful login from it: such a
/// source is not held back by the account-wide limit (OWASP's "device cookie" idea, with the
/// address as the device, since API clients keep no cookie).
pub const KNOWN_SOURCE_SECS: u64 = 30 * 24 * 3600;

/// The counter attribute.
const FAILURES: &str = "failures";
/// The table's TTL attribute (epoch seconds).
const EXPIRES_AT: &str = "expires_at";

/// One login attempt as the limits see it: which account, from where, in which window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    pub(crate) account: String,
    pub(crate) source: String,
    pub(crate) window: u64,
    pub(crate) window_end: u64,
    pub(crate) now: u64,
}

impl LoginAttempt {
    /// An attempt at `username` (as the login normalised it) from `source_ip`
    /// (`requestContext.identity.sourceIp`; `None` or unparsable counts as one `unknown`
    /// source), at `now` (epoch seconds).
    pub fn new(username: &str, source_ip: Option<&str>, window_secs: u64, now: u64) -> Self {
        let window_secs = window_secs.max(1);
        let window = now / window_secs;
        Self {
            account: account_key(username),
            source: source_key(source_ip),
            window,
            window_end: (window + 1) * window_secs,
            now,
        }
    }

    /// [`LoginAttempt::new`] at the current time.
    pub fn now(username: &str, source_ip: Option<&str>, window_secs: u64) -> Self {
        let now = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
        Self::new(username, source_ip, window_secs, now)
    }

    /// Seconds until this attempt's window ends: the `Retry-After` of a refused attempt.
    pub fn retry_after_secs(&self) -> u64 {
        self.window_end.saturating_sub(self.now).max(1)
    }

    pub(crate) fn account_pk(&self) -> String {
        format!("LOGIN#ACCOUNT#{}", self.account)
    }
    pub(crate) fn pair(&self) -> (String, String) {
        (
            self.account_pk(),
            format!("FAILS#{}#SOURCE#{}", self.window, self.source),
        )
    }
    pub(crate) fn account_total(&self) -> (String, String) {
        (self.account_pk(), format!("FAILS#{}", self.window))
    }
    pub(crate) fn source_total(&self) -> (String, String) {
        (
            format!("LOGIN#SOURCE#{}", self.source),
            format!("FAILS#{}", self.window),
        )
    }
    pub(crate) fn known_source(&self) -> (String, String) {
        (self.account_pk(), format!("KNOWN#SOURCE#{}", self.source))
    }
}

/// Whether a login attempt may go on to the password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGate {
    /// Under every limit.
    Open,
    /// Over a limit: answer 429 with this `Retry-After`.
    Closed {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
}

/// The counter key of a username: SHA-256, hex.
fn account_key(username: &str) -> String {
    hex::encode(Sha256::digest(username.as_bytes()))
}

/// The counter key of a client address: IPv4 as is (also when mapped into IPv6), IPv6 by its
/// /64 prefix, anything else `unknown`.
fn source_key(ip: Option<&str>) -> String {
    match ip.and_then(|s| s.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".into(),
    }
}

/// True when a counter at `count` is past `limit` (0 = no limit).
pub(crate) fn over(limit: u64, count: u64) -> bool {
    limit > 0 && count > limit
}

impl Store {
    /// `ADD failures 1` on one counter (creating it with its window's `expires_at`); the new
    /// count. Nothing is written for a limit that is off.
    async fn count_login_failure(
        &self,
        limit: u64,
        (pk, sk): (String, String),
        attempt: &LoginAttempt,
    ) -> Result<u64, StoreError> {
        if limit == 0 {
            return Ok(0);
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, &sk)))
            .update_expression("ADD #failures :one SET #expires_at = :expires_at")
            .set_expression_attribute_names(Some(names()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires_at", n(attempt.window_end))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(classify)?;
        let count = out
            .attributes
            .as_ref()
            .and_then(|a| a.get(FAILURES))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| StoreError::Other("login counter without a count".into()))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// `ADD failures -1` on a counter that still exists (never creates one below zero).
    async fn take_back_login_attempt(
        &self,
        limit: u64,
        (pk, sk): (String, String),
    ) -> Result<(), StoreError> {
        if limit == 0 {
            return Ok(());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, &sk)))
            .update_expression("ADD #failures :minus_one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#failures", FAILURES)
            .expression_attribute_values(":minus_one", n(-1))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Gone already (its window ended and TTL removed it): nothing to take back.
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    /// Whether the attempt's source logged into its account within [`KNOWN_SOURCE_SECS`].
    async fn is_known_login_source(&self, attempt: &LoginAttempt) -> Result<bool, StoreError> {
        let (pk, sk) = attempt.known_source();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, &sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        // TTL deletion can lag by days: an item past its `expires_at` counts as gone.
        let expires_at = out
            .item
            .as_ref()
            .and_then(|i| i.get(EXPIRES_AT))
            .and_then(|v: &AttributeValue| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok());
        Ok(expires_at.is_some_and(|t| t > attempt.now))
    }
}

impl LoginLimitStore for Store {
    /// Counts `attempt` against the login limits and says whether it may go on.
    ///
    /// One `UpdateItem` per counter: account + source and source (together), then, only when
    /// both are under their limits, the account's total; when that is over its limit, one
    /// `GetItem` tells whether the source is known for the account (known sources go on).
    /// An attempt refused by the first two never counts against the account's total, so one
    /// source cannot close an account to others.
    async fn check_login_limits(
        &self,
        limits: &LoginLimitsConfig,
        attempt: &LoginAttempt,
    ) -> Result<LoginGate, StoreError> {
        let closed = LoginGate::Closed {
            retry_after_secs: attempt.retry_after_secs(),
        };
        let (pair, source) = tokio::join!(
            self.count_login_failure(limits.per_account_source, attempt.pair(), attempt),
            self.count_login_failure(limits.per_source, attempt.source_total(), attempt),
        );
        if over(limits.per_account_source, pair?) || over(limits.per_source, source?) {
            return Ok(closed);
        }
        let account = self
            .count_login_failure(limits.per_account, attempt.account_total(), attempt)
            .await?;
        if over(limits.per_account, account) && !self.is_known_login_source(attempt).await? {
            return Ok(closed);
        }
        Ok(LoginGate::Open)
    }

    /// After a successful login: clears the account + source counter, takes the attempt back
    /// from the two totals (a success is no failure), and remembers the source as known for
    /// the account for [`KNOWN_SOURCE_SECS`]. One write per counter, all at once.
    async fn record_login_success(
        &self,
        limits: &LoginLimitsConfig,
        attempt: &LoginAttempt,
    ) -> Result<(), StoreError> {
        let reset = async {
            if limits.per_account_source == 0 {
                return Ok(());
            }
            let (pk, sk) = attempt.pair();
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(pk, &sk)))
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        };
        let remember = async {
            if limits.per_account == 0 {
                return Ok(());
            }
            let (pk, sk) = attempt.known_source();
            let mut item = key(pk, &sk);
            item.insert(EXPIRES_AT.into(), n(attempt.now + KNOWN_SOURCE_SECS));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        };
        let (a, b, c, d) = tokio::join!(
            reset,
            self.take_back_login_attempt(limits.per_source, attempt.source_total()),
            self.take_back_login_attempt(limits.per_account, attempt.account_total()),
            remember,
        );
        a.and(b).and(c).and(d)
    }
}

fn names() -> HashMap<String, String> {
    HashMap::from([
        ("#failures".to_string(), FAILURES.to_string()),
        ("#expires_at".to_string(), EXPIRES_AT.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_to_the_clock_and_retry_after_is_what_is_left_of_one() {
        let a = LoginAttempt::new("ann@example.com", Some("203.0.113.7"), 900, 900 * 10 + 1);
        assert_eq!(a.window, 10);
        assert_eq!(a.retry_after_secs(), 899);
        let last = LoginAttempt::new("ann@example.com", Some("203.0.113.7"), 900, 900 * 11 - 1);
        assert_eq!(last.window, 10);
        assert_eq!(last.retry_after_secs(), 1);
        let next = LoginAttempt::new("ann@example.com", Some("203.0.113.7"), 900, 900 * 11);
        assert_eq!(next.window, 11);
        assert_eq!(next.retry_after_secs(), 900);
    }

    #[test]
    fn keys_stay_short_whatever_the_username() {
        let a = LoginAttempt::new(&"é".repeat(100_000), Some("203.0.113.7"), 900, 0);
        for (pk, sk) in [
            a.pair(),
            a.account_total(),
            a.source_total(),
            a.known_source(),
        ] {
            assert!(pk.len() + sk.len() < 200, "{pk} / {sk}");
        }
        assert_eq!(a.account.len(), 64);
        assert_ne!(
            account_key("ann@example.com"),
            account_key("Ann@example.com"),
            "the local part is case-sensitive, as sign-up stores it"
        );
    }

    #[test]
    fn ipv6_sources_count_by_their_64_prefix_and_mapped_ipv4_as_ipv4() {
        assert_eq!(source_key(Some("203.0.113.7")), "203.0.113.7");
        assert_eq!(
            source_key(Some("2001:db8:1:2:aaaa::1")),
            source_key(Some("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_eq!(source_key(Some("2001:db8:1:2::9")), "2001:db8:1:2::/64");
        assert_ne!(
            source_key(Some("2001:db8:1:2::1")),
            source_key(Some("2001:db8:1:3::1"))
        );
        assert_eq!(source_key(Some("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(source_key(None), "unknown");
        assert_eq!(source_key(Some("not an address")), "unknown");
    }

    #[test]
    fn a_limit_of_zero_is_off() {
        assert!(!over(0, 1_000_000));
        assert!(!over(5, 5));
        assert!(over(5, 6));
    }
}
