//! Data no other test uses: unique strings, e-mails, ids that do not exist.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng as _;

/// The largest id the contract allows (ids are below 2^53).
pub const MAX_ID: u64 = (1 << 53) - 1;

pub(crate) fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A string no other test (of this or another process) uses: `<prefix><pid><n><random>`.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random: String = random_alphanumeric(6).to_lowercase();
    format!("{prefix}{:x}x{n}{random}", std::process::id())
}

/// A fresh, valid, all-lowercase e-mail address.
pub fn unique_email() -> String {
    format!("{}@example.com", unique("t"))
}

/// An id that no user or post has: ids are time-ordered and far below the top of the range.
pub fn missing_id() -> u64 {
    MAX_ID - rand::rng().random_range(0..1_000_000)
}

/// Unix time now, in seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
