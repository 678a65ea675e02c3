//! Server-assigned ids: positive integers below 2^53, ordered by creation time.
//!
//! An id is `(milliseconds since 2020-01-01) << 11 | 11 random bits`. That gives
//! - ids that are JSON integers safe in JavaScript for ~139 years (2^42 ms);
//! - newest-first listing by sorting on the id alone (the GSI sort key), a stable total order;
//! - no counter item, so sign-up and post creation stay a single write. The random part makes a
//!   collision (same millisecond, same 11 bits) rare, and the store's `attribute_not_exists`
//!   condition makes it harmless: the writer retries with a fresh id.

use rand::Rng;

/// 2020-01-01T00:00:00Z in Unix milliseconds.
const EPOCH_MS: u64 = 1_577_836_800_000;
const RANDOM_BITS: u32 = 11;

/// The largest id a client may send (ids are below 2^53).
pub const MAX_ID: u64 = (1 << 53) - 1;

/// A fresh id for a new user or post.
pub fn new_id() -> u64 {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(EPOCH_MS);
    let elapsed = now_ms.saturating_sub(EPOCH_MS) & ((1 << 42) - 1);
    let random: u64 = rand::rng().random_range(0..(1 << RANDOM_BITS));
    // Never 0: ids are positive.
    ((elapsed << RANDOM_BITS) | random).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_and_safe_in_javascript() {
        for _ in 0..1000 {
            let id = new_id();
            assert!(id > 0 && id <= MAX_ID);
        }
    }

    #[test]
    fn a_later_id_is_larger() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let b = new_id();
        assert!(b > a, "{b} should be greater than {a}");
    }
}
