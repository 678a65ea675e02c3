//! The backfill of posts written before the sharded feed and the search index existed
//! (`gsi1pk = POSTS`, no `version`, no postings): what `local_gateway migrate` calls, one
//! post at a time, safe while the functions serve. Nothing on a request path calls this
//! module (it scans), so no function's role is granted `Scan`.
//!
//! Per post, [`Store::backfill_post`]:
//! 1. gives a post of the old layout its feed key and a title version with one conditional
//!    `UpdateItem`: `gsi1pk = POSTS#<shard_of(id, N)>` (only where it is still `POSTS`: a
//!    post that has a shard keeps it) and `version = if_not_exists(version, 1)` (a legacy post
//!    whose title was edited since already has one), conditioned on the post existing and
//!    not being deleted;
//! 2. checks that every posting of its current title and version exists (`BatchGetItem` of
//!    the keys, eventually consistent: a posting of a live post's current version is never
//!    deleted, so a stale "present" cannot happen), puts the missing ones and settles them
//!    as every posting writer does (`docs/data-model.md`, "The search index"). Checking first
//!    costs half a read unit per posting where rewriting would cost a write unit (5x the
//!    price on demand), and tells a repair from a post that needed nothing.

use super::postings::{Indexed, posting_keys, put_request, shard_of};
use super::posts::{PostItem, feed_pk, feed_shard_of_item, feed_shard_of_pk, post_key};
use super::{Item, Store, classify, is_conditional_failure, n, s};
use crate::domain::{PostId, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// The `gsi1pk` of every post before the feed was sharded.
pub const LEGACY_FEED_PK: &str = "POSTS";
/// Keys per `BatchGetItem` (DynamoDB's limit).
const BATCH_GET_MAX: usize = 100;
/// Attempts at the key update of a post that keeps changing under it.
const UPGRADE_ATTEMPTS: usize = 4;

/// Where a scan of the table stands: the key of the last item a page evaluated (DynamoDB's
/// `LastEvaluatedKey`), what a checkpoint file keeps to resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPosition {
    /// `pk` of the last item evaluated.
    pub pk: String,
    /// `sk` of the last item evaluated.
    pub sk: String,
}

/// A post item as a scan sees it: only what the backfill decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedPost {
    /// The post's id.
    pub id: PostId,
    /// Its feed shard (`gsi1pk = POSTS#<s>`), `None` for the old layout (`POSTS`).
    pub feed_shard: Option<u32>,
    /// Its title version, 0 when it has none (the old layout).
    pub version: u64,
    /// Being deleted.
    pub deleting: bool,
}

impl ScannedPost {
    /// True when the post still has the old layout (no feed shard or no version).
    pub fn is_legacy(&self) -> bool {
        self.feed_shard.is_none() || self.version == 0
    }
}

/// One page of a scan segment.
#[derive(Debug, Clone, Default)]
pub struct PostScanPage {
    /// The post items of the page (other items are filtered out by DynamoDB).
    pub posts: Vec<ScannedPost>,
    /// Items DynamoDB evaluated for the page (`ScannedCount`: posts, votes, users, postings...).
    pub scanned: usize,
    /// Where the next page starts; `None` when the segment is done.
    pub next: Option<ScanPosition>,
}

/// What [`Store::backfill_post`] did (or, in a dry run, would do) to one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfilled {
    /// The post had the old layout and now has its feed shard and a version.
    pub migrated: bool,
    /// Postings that were missing and have been put (in a dry run: would be).
    pub postings_written: usize,
    /// The state of its postings afterwards (as [`Store::index_post`] reports it).
    pub index: Indexed,
}

impl Store {
    /// One page of segment `segment` of `segments` of a parallel `Scan` of the table, keeping
    /// only post items (`sk = POST`, `pk` starting with `POST#`), from `start` (the previous
    /// page's [`PostScanPage::next`]); `page_size` is the scan's `Limit` (items evaluated, not
    /// posts returned). Eventually consistent: a post changed since is re-read before any write.
    pub async fn scan_posts(
        &self,
        segment: u32,
        segments: u32,
        start: Option<&ScanPosition>,
        page_size: u32,
    ) -> Result<PostScanPage, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment as i32)
            .total_segments(segments.max(1) as i32)
            .filter_expression("sk = :post AND begins_with(pk, :prefix)")
            .projection_expression("pk, sk, id, gsi1pk, #version, deleting")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":post", s("POST"))
            .expression_attribute_values(":prefix", s("POST#"))
            .limit(page_size.clamp(1, i32::MAX as u32) as i32)
            .set_exclusive_start_key(
                start.map(|p| HashMap::from([("pk".into(), s(&p.pk)), ("sk".into(), s(&p.sk))])),
            )
            .send()
            .await
            .map_err(classify)?;
        let posts = out
            .items
            .unwrap_or_default()
            .iter()
            .map(scanned_post)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key {
            Some(k) if !k.is_empty() => Some(ScanPosition {
                pk: string_attr(&k, "pk")?,
                sk: string_attr(&k, "sk")?,
            }),
            _ => None,
        };
        Ok(PostScanPage {
            posts,
            scanned: out.scanned_count.max(0) as usize,
            next,
        })
    }

    /// The highest feed shard at or above `from` (up to [`crate::config::MAX_FEED_SHARDS`])
    /// that holds any post, with one `Query` (`Limit` 1) per shard on `gsi1`. A backfill
    /// with N shards refuses to run when this finds one: readers with N shards would never
    /// list those posts (N may only grow).
    pub async fn highest_feed_shard_from(&self, from: u32) -> Result<Option<u32>, StoreError> {
        let shards: Vec<u32> = (from..crate::config::MAX_FEED_SHARDS).collect();
        let used = futures_util::future::join_all(shards.iter().map(|&shard| async move {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(super::POSTS_INDEX)
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", s(feed_pk(shard)))
                .projection_expression("pk")
                .limit(1)
                .send()
                .await
                .map_err(classify)?;
            Ok::<_, StoreError>((shard, out.count > 0))
        }))
        .await;
        let mut highest = None;
        for r in used {
            if let (shard, true) = r? {
                highest = highest.max(Some(shard));
            }
        }
        Ok(highest)
    }

    /// Backfills one post (see the module documentation): gives a post of the old layout its
    /// feed key and version 1, then puts whatever postings of its current title are missing.
    /// Idempotent, and safe while users edit or delete the post. `seen` is what a scan saw
    /// (it may be stale: every write is conditioned and re-read). With `dry_run`, only reads.
    pub async fn backfill_post(
        &self,
        seen: &ScannedPost,
        dry_run: bool,
    ) -> Result<Backfilled, StoreError> {
        let gone = Backfilled {
            migrated: false,
            postings_written: 0,
            index: Indexed::Gone,
        };
        let mut state = *seen;
        let mut migrated = false;
        for attempt in 0..=UPGRADE_ATTEMPTS {
            if state.deleting {
                return Ok(gone);
            }
            if !state.is_legacy() {
                break;
            }
            if dry_run {
                migrated = true;
                break;
            }
            if attempt == UPGRADE_ATTEMPTS {
                return Err(StoreError::Unavailable(format!(
                    "post {} kept changing during its backfill",
                    state.id
                )));
            }
            if self.upgrade_post_keys(&state).await? {
                migrated = true;
                break;
            }
            // Changed since the scan (edited, migrated by another run, deleted): look again.
            match self.get_post_item(state.id).await? {
                Some(item) => state = scanned_from_item(&item),
                None => return Ok(gone),
            }
        }
        let (index, postings_written) = self.repair_postings(state.id, dry_run).await?;
        Ok(Backfilled {
            migrated,
            postings_written,
            index,
        })
    }

    /// The key update of step 1; false when its condition failed (the post is not as `seen`).
    async fn upgrade_post_keys(&self, seen: &ScannedPost) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(post_key(seen.id)))
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":one", n(1));
        let update = if seen.feed_shard.is_none() {
            update
                .update_expression("SET gsi1pk = :feed, #version = if_not_exists(#version, :one)")
                .condition_expression(
                    "attribute_exists(pk) AND attribute_not_exists(deleting) AND gsi1pk = :legacy",
                )
                .expression_attribute_values(
                    ":feed",
                    s(feed_pk(shard_of(seen.id, self.feed_shards))),
                )
                .expression_attribute_values(":legacy", s(LEGACY_FEED_PK))
        } else {
            update
                .update_expression("SET #version = if_not_exists(#version, :one)")
                .condition_expression(
                    "attribute_exists(pk) AND attribute_not_exists(deleting) AND attribute_not_exists(#version)",
                )
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    /// Puts the postings of post `id`'s current title and version that are missing, then
    /// settles them; returns the index state and how many were put. In a dry run it only
    /// counts them (for a post still of the old layout, as version 1 in its future shard).
    async fn repair_postings(
        &self,
        id: PostId,
        dry_run: bool,
    ) -> Result<(Indexed, usize), StoreError> {
        let Some(post) = self.get_post_item(id).await? else {
            return Ok((Indexed::Gone, 0));
        };
        if post.deleting {
            return Ok((Indexed::Gone, 0));
        }
        let version = match (post.version, dry_run) {
            (0, false) => return Ok((Indexed::Unversioned, 0)),
            (0, true) => 1,
            (v, _) => v,
        };
        let shard = feed_shard_of_item(&post, self.feed_shards);
        let missing = self
            .missing_items(posting_keys(shard, id, version, &post.title))
            .await?;
        let count = missing.len();
        if count == 0 || dry_run {
            return Ok((Indexed::Indexed { version }, count));
        }
        let puts = missing
            .into_iter()
            .map(|mut k| {
                k.insert("v".into(), n(version));
                put_request(k)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(puts).await?;
        let kept = self
            .settle_postings(shard, id, version, &post.title)
            .await?;
        Ok((
            if kept {
                Indexed::Indexed { version }
            } else {
                Indexed::Moved
            },
            count,
        ))
    }

    /// The keys of `keys` that have no item (`BatchGetItem`, eventually consistent, keys only).
    async fn missing_items(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found: HashSet<(String, String)> = HashSet::new();
        for chunk in keys.chunks(BATCH_GET_MAX) {
            for item in self
                .batch_get(chunk.to_vec(), false, Some("pk, sk"))
                .await?
            {
                found.insert((string_attr(&item, "pk")?, string_attr(&item, "sk")?));
            }
        }
        Ok(keys
            .into_iter()
            .filter(|k| {
                let pk = string_attr(k, "pk").unwrap_or_default();
                let sk = string_attr(k, "sk").unwrap_or_default();
                !found.contains(&(pk, sk))
            })
            .collect())
    }
}

fn string_attr(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Other(format!("bad item: no string {name}"))),
    }
}

/// A scanned post item (projected on `pk, sk, id, gsi1pk, version, deleting`).
fn scanned_post(item: &Item) -> Result<ScannedPost, StoreError> {
    let pk = string_attr(item, "pk")?;
    let bad = |what: &str| StoreError::Other(format!("bad post item {pk}: {what}"));
    let id = match item.get("id") {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| bad("id"))?,
        _ => return Err(bad("no id")),
    };
    let gsi1pk = string_attr(item, "gsi1pk").map_err(|_| bad("no gsi1pk"))?;
    let version = match item.get("version") {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| bad("version"))?,
        _ => 0,
    };
    Ok(ScannedPost {
        id: PostId::new(id),
        feed_shard: feed_shard_of_pk(&gsi1pk),
        version,
        deleting: matches!(item.get("deleting"), Some(AttributeValue::Bool(true))),
    })
}

fn scanned_from_item(item: &PostItem) -> ScannedPost {
    ScannedPost {
        id: item.id,
        feed_shard: feed_shard_of_pk(&item.gsi1pk),
        version: item.version,
        deleting: item.deleting,
    }
}
