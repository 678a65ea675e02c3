//! The opaque paging cursor of `GET /posts` (`cursor` query parameter, `X-Next-Cursor`
//! response header).
//!
//! A cursor says "posts older than post X, for search S". It is 32 hex characters: the id X
//! (8 bytes, big-endian) and the first 8 bytes of SHA-256 over a fixed label and S, so a
//! cursor made for one search is refused with another (it would silently skip posts) and a
//! mistyped one is refused rather than read as some other position. It is not a secret and
//! not signed: a client that forges one only pages from another position of the same list,
//! which `skip` lets it do anyway.

use crate::domain::PostId;
use crate::error::ApiError;
use crate::ids::MAX_ID;
use sha2::{Digest, Sha256};

/// The query parameter that carries a cursor.
pub const CURSOR_PARAM: &str = "cursor";
/// The response header that carries the next page's cursor.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";
const LABEL: &[u8] = b"posts-cursor-v1\0";

fn search_tag(search: &str) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(LABEL)
        .chain_update(search.as_bytes())
        .finalize();
    let mut tag = [0; 8];
    tag.copy_from_slice(&digest[..8]);
    tag
}

/// The cursor of the page after one whose last post is `last`, for `search`.
pub fn encode(last: PostId, search: &str) -> String {
    let mut bytes = last.get().to_be_bytes().to_vec();
    bytes.extend_from_slice(&search_tag(search));
    hex::encode(bytes)
}

/// The post a cursor pages after, if `cursor` is one this API made for `search`; else a 422
/// at `["query", "cursor"]`.
pub fn decode(cursor: &str, search: &str) -> Result<PostId, ApiError> {
    let invalid = |msg: &str| ApiError::field("query", CURSOR_PARAM, "value_error", msg);
    let bytes = hex::decode(cursor.trim())
        .ok()
        .filter(|b| b.len() == 16)
        .ok_or_else(|| {
            invalid("Value error, not a cursor of this API: pass X-Next-Cursor as it came")
        })?;
    let (id, tag) = bytes.split_at(8);
    let id = u64::from_be_bytes(id.try_into().unwrap_or_default());
    if id == 0 || id > MAX_ID {
        return Err(invalid(
            "Value error, not a cursor of this API: pass X-Next-Cursor as it came",
        ));
    }
    if tag != search_tag(search) {
        return Err(invalid(
            "Value error, this cursor belongs to another search: page with the search it came with",
        ));
    }
    Ok(PostId::new(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(r: Result<PostId, ApiError>) -> u16 {
        r.unwrap_err().status().as_u16()
    }

    #[test]
    fn a_cursor_reads_back_with_its_search_only() {
        let id = PostId::new(MAX_ID);
        let c = encode(id, "cat");
        assert_eq!(c.len(), 32);
        assert_eq!(decode(&c, "cat").unwrap(), id);
        assert_eq!(status(decode(&c, "Cat")), 422);
        assert_eq!(status(decode(&c, "")), 422);
        assert_eq!(decode(&encode(id, ""), "").unwrap(), id);
    }

    #[test]
    fn the_layout_is_the_id_then_8_bytes_of_the_searchs_hash() {
        // tests/fuzz/hooks.py builds cursors the same way; this pins the layout for both.
        assert_eq!(
            encode(PostId::new(1), "cat"),
            "0000000000000001ec27dd1c2fe1f01f"
        );
    }

    #[test]
    fn anything_else_is_422_never_a_panic() {
        for bad in [
            "",
            "zz",
            "00",
            &"0".repeat(32),
            &"f".repeat(32),
            "é",
            &"a".repeat(33),
        ] {
            assert_eq!(status(decode(bad, "")), 422, "{bad:?}");
        }
    }
}
