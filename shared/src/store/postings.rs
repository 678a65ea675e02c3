//! The search index: one small "posting" item per distinct n-gram (1, 2 and 3 characters) of
//! a post's title, in the base table.
//!
//! | item    | pk             | sk                   | other |
//! |---------|----------------|----------------------|-------|
//! | posting | `G#<s>#<gram>` | `<id:016>#<version>` | `v`   |
//!
//! `<s>` is the post's feed shard (so one very common gram is spread over the shards, as the
//! feed is), `<id:016>` the post id zero-padded to 16 digits (ids are below 2^53, so a
//! posting list sorts by id as strings sort), `<version>` the title version the posting was
//! written for (the post item's `version`). A posting is a hint, never the truth: a search
//! reads the post and keeps it only if its `version` is the posting's and its title contains
//! the search, so a stale posting costs a read and never a wrong answer. The write protocol
//! that keeps the postings exact (no stale and no missing one once writers are done) is in
//! `docs/data-model.md`, "The search index".
//!
//! The functions a backfill needs are public: [`title_grams`], [`posting_items`],
//! [`Store::put_postings`], [`Store::delete_postings`] and [`Store::index_post`].

use super::posts::{feed_shard_of_item, post_key};
use super::{Item, Store, classify, from_item, invalid_request, n, s};
use crate::domain::{PostId, StoreError};
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use futures_util::StreamExt;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// The longest grams indexed, in characters: a search of up to this many characters reads one
/// posting list, a longer one intersects the lists of its trigrams.
pub const MAX_GRAM_CHARS: usize = 3;
/// The start of every posting item's partition key.
pub const POSTING_PK_PREFIX: &str = "G#";
/// Requests per `BatchWriteItem` (DynamoDB's limit).
const BATCH_WRITE_MAX: usize = 25;
/// `BatchWriteItem` calls in flight at once for one post: a 300-character title has up to
/// ~900 grams (36 calls), so a few at a time keeps one write fast without a burst of
/// connections from one small Lambda.
const CONCURRENT_BATCHES: usize = 4;
/// Rounds of retrying `UnprocessedItems` (with backoff) before giving up as unavailable.
const BATCH_RETRIES: u32 = 8;

/// The feed shard of a new post: a pure function of its id. Ids end in 11 random bits
/// (`crate::ids`), so `id mod n` spreads posts evenly. Items keep the shard they were written
/// with (it is part of their keys), so raising `n` later never moves an old item.
pub fn shard_of(id: PostId, shards: u32) -> u32 {
    (id.get() % u64::from(shards.max(1))) as u32
}

/// Every distinct substring of 1 to [`MAX_GRAM_CHARS`] Unicode scalar values of `title`.
pub fn title_grams(title: &str) -> BTreeSet<String> {
    let chars: Vec<char> = title.chars().collect();
    let mut grams = BTreeSet::new();
    for len in 1..=MAX_GRAM_CHARS {
        for w in chars.windows(len) {
            grams.insert(w.iter().collect());
        }
    }
    grams
}

/// The partition key of the posting list of `gram` in feed shard `shard`.
pub fn posting_pk(shard: u32, gram: &str) -> String {
    format!("{POSTING_PK_PREFIX}{shard}#{gram}")
}

/// The sort key of post `id`'s posting at title version `version`.
pub fn posting_sk(id: PostId, version: u64) -> String {
    format!("{:016}#{version}", id.get())
}

/// The `(id, version)` a posting's sort key names; `None` for anything else.
pub(super) fn parse_posting_sk(sk: &str) -> Option<(PostId, u64)> {
    let (id, version) = sk.split_once('#')?;
    Some((PostId::new(id.parse().ok()?), version.parse().ok()?))
}

/// The keys of the postings of `title` at (`id`, `version`) in shard `shard`.
pub(super) fn posting_keys(shard: u32, id: PostId, version: u64, title: &str) -> Vec<Item> {
    let sk = posting_sk(id, version);
    title_grams(title)
        .into_iter()
        .map(|g| {
            HashMap::from([
                ("pk".into(), s(posting_pk(shard, &g))),
                ("sk".into(), s(&sk)),
            ])
        })
        .collect()
}

/// The posting items of `title` at (`id`, `version`) in shard `shard`, as they are written.
pub fn posting_items(shard: u32, id: PostId, version: u64, title: &str) -> Vec<Item> {
    posting_keys(shard, id, version, title)
        .into_iter()
        .map(|mut k| {
            k.insert("v".into(), n(version));
            k
        })
        .collect()
}

/// What [`Store::index_post`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexed {
    /// The postings of the post's current title and version are in place.
    Indexed {
        /// The title version indexed.
        version: u64,
    },
    /// No such post, or it is being deleted: nothing to index.
    Gone,
    /// The post changed while it was being indexed; its writer indexes the new version.
    Moved,
    /// The post predates the index (no `version`, read as 0): the backfill gives it
    /// `version = 1` (and its `POSTS#<s>` feed key) first, then indexes it.
    Unversioned,
}

impl Store {
    /// Puts the postings of `title` at (`id`, `version`) in shard `shard` (idempotent).
    pub async fn put_postings(
        &self,
        shard: u32,
        id: PostId,
        version: u64,
        title: &str,
    ) -> Result<(), StoreError> {
        let puts = posting_items(shard, id, version, title)
            .into_iter()
            .map(put_request)
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(puts).await
    }

    /// Deletes the postings of `title` at (`id`, `version`) in shard `shard` (idempotent:
    /// deleting a missing item is no error).
    pub async fn delete_postings(
        &self,
        shard: u32,
        id: PostId,
        version: u64,
        title: &str,
    ) -> Result<(), StoreError> {
        let deletes = posting_keys(shard, id, version, title)
            .into_iter()
            .map(delete_request)
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(deletes).await
    }

    /// After a title change to (`id`, `new_version`, `new_title`) whose old state was
    /// (`old_version`, `old_title`): puts the new postings and deletes the old ones, then
    /// [settles](Self::settle_postings) the new ones.
    pub(super) async fn move_postings(
        &self,
        shard: u32,
        id: PostId,
        (old_version, old_title): (u64, &str),
        (new_version, new_title): (u64, &str),
    ) -> Result<(), StoreError> {
        let mut requests = posting_items(shard, id, new_version, new_title)
            .into_iter()
            .map(put_request)
            .collect::<Result<Vec<_>, _>>()?;
        // Version 0 is a post written before the index existed: it has no postings (the
        // backfill indexes such posts at version 1).
        if old_version > 0 {
            for k in posting_keys(shard, id, old_version, old_title) {
                requests.push(delete_request(k)?);
            }
        }
        self.batch_write(requests).await?;
        self.settle_postings(shard, id, new_version, new_title)
            .await
            .map(|_| ())
    }

    /// The last step of every posting write: reads the post (strongly consistent) and, when
    /// it is gone, being deleted or at another version than `version`, deletes the postings of
    /// `title` at `version` that its caller has just written. Whoever moved the post on has
    /// taken over (see `docs/data-model.md`). True when the postings stay.
    pub async fn settle_postings(
        &self,
        shard: u32,
        id: PostId,
        version: u64,
        title: &str,
    ) -> Result<bool, StoreError> {
        let current = self.get_post_item(id).await?;
        if current.is_some_and(|p| !p.deleting && p.version == version) {
            return Ok(true);
        }
        self.delete_postings(shard, id, version, title).await?;
        Ok(false)
    }

    /// Indexes post `id` at its current title version: puts its postings and settles them.
    /// Idempotent, and safe while users edit or delete the post (the same protocol as a
    /// title change). A backfill calls this for each post written before the index existed,
    /// after giving it a `version` (posts without one read as version 0, which is never
    /// indexed).
    pub async fn index_post(&self, id: PostId) -> Result<Indexed, StoreError> {
        let Some(post) = self.get_post_item(id).await? else {
            return Ok(Indexed::Gone);
        };
        if post.deleting {
            return Ok(Indexed::Gone);
        }
        if post.version == 0 {
            return Ok(Indexed::Unversioned);
        }
        let shard = feed_shard_of_item(&post, self.feed_shards);
        self.put_postings(shard, id, post.version, &post.title)
            .await?;
        Ok(
            if self
                .settle_postings(shard, id, post.version, &post.title)
                .await?
            {
                Indexed::Indexed {
                    version: post.version,
                }
            } else {
                Indexed::Moved
            },
        )
    }

    /// Writes `requests` with `BatchWriteItem`, 25 per call and a few calls at a time,
    /// retrying `UnprocessedItems` with jittered exponential backoff.
    pub(super) async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let chunks: Vec<Vec<WriteRequest>> = requests
            .chunks(BATCH_WRITE_MAX)
            .map(<[WriteRequest]>::to_vec)
            .collect();
        let mut calls = futures_util::stream::iter(chunks)
            .map(|chunk| self.batch_write_chunk(chunk))
            .buffer_unordered(CONCURRENT_BATCHES);
        let mut first_error = None;
        while let Some(result) = calls.next().await {
            if let (Err(e), None) = (result, &first_error) {
                first_error = Some(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn batch_write_chunk(&self, mut chunk: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..=BATCH_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, chunk)
                .send()
                .await
                .map_err(classify)?;
            chunk = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if chunk.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "BatchWriteItem left items unprocessed after retries".into(),
        ))
    }

    /// The post items of `ids` (at most 100, no duplicates), strongly consistent, with one
    /// `BatchGetItem` (more only for `UnprocessedKeys`). Missing posts are simply absent.
    pub(super) async fn batch_get_posts(
        &self,
        ids: &[PostId],
    ) -> Result<HashMap<PostId, super::posts::PostItem>, StoreError> {
        let keys = ids.iter().map(|id| post_key(*id)).collect();
        let mut found = HashMap::new();
        for item in self.batch_get(keys, true, None).await? {
            let post: super::posts::PostItem = from_item(item)?;
            found.insert(post.id, post);
        }
        Ok(found)
    }

    /// The items of `keys` (at most 100, no duplicates) that exist, with one `BatchGetItem`
    /// (more only for `UnprocessedKeys`, retried with backoff), strongly `consistent` or not,
    /// only the attributes of `projection` when given.
    pub(super) async fn batch_get(
        &self,
        mut keys: Vec<Item>,
        consistent: bool,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::with_capacity(keys.len());
        for attempt in 0..=BATCH_RETRIES {
            if keys.is_empty() {
                return Ok(found);
            }
            if attempt > 0 {
                backoff(attempt).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(consistent)
                .set_projection_expression(projection.map(str::to_string))
                .build()
                .map_err(invalid_request)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(classify)?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            keys = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        Err(StoreError::Unavailable(
            "BatchGetItem left keys unprocessed after retries".into(),
        ))
    }
}

pub(super) fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(invalid_request)?;
    Ok(WriteRequest::builder().put_request(put).build())
}

fn delete_request(key: Item) -> Result<WriteRequest, StoreError> {
    let delete = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(invalid_request)?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

/// 25 ms, 50 ms, ... up to 1.6 s, each with up to 50% jitter.
pub(super) async fn backoff(attempt: u32) {
    let base = 25u64 << attempt.min(6);
    let jitter = rand::random_range(0..=base / 2);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_has_one_gram_per_distinct_substring_of_up_to_3_characters() {
        let grams: Vec<String> = title_grams("abab").into_iter().collect();
        assert_eq!(grams, ["a", "ab", "aba", "b", "ba", "bab"]);
        assert!(title_grams("").is_empty());
        // Characters, not bytes: "é" is one character of two bytes.
        assert_eq!(title_grams("é!").len(), 3);
        assert_eq!(title_grams(&"x".repeat(300)).len(), 3);
    }

    #[test]
    fn a_300_character_title_has_at_most_897_grams() {
        let title: String = (0..300u32)
            .map(|i| char::from_u32(0x4e00 + i).unwrap())
            .collect();
        assert_eq!(title_grams(&title).len(), 300 + 299 + 298);
    }

    #[test]
    fn posting_sort_keys_sort_by_id_and_parse_back() {
        let small = posting_sk(PostId::new(99), 3);
        let big = posting_sk(PostId::new(100), 1);
        assert!(small < big);
        assert_eq!(small, "0000000000000099#3");
        assert_eq!(parse_posting_sk(&big), Some((PostId::new(100), 1)));
        assert_eq!(parse_posting_sk("junk"), None);
        let max = posting_sk(PostId::new(crate::ids::MAX_ID), 1);
        assert_eq!(max.split('#').next().unwrap().len(), 16);
    }

    #[test]
    fn the_shard_is_a_pure_function_of_the_id() {
        let id = PostId::new(1_234_567);
        assert_eq!(shard_of(id, 4), shard_of(id, 4));
        assert!(shard_of(id, 4) < 4);
        assert_eq!(shard_of(id, 1), 0);
        assert_eq!(shard_of(id, 0), 0);
    }
}
