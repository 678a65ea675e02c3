//! Posts, and the sharded index that lists them newest first.
//!
//! | item | pk          | sk     | gsi1 (pk / sk)       |
//! |------|-------------|--------|----------------------|
//! | post | `POST#<id>` | `POST` | `POSTS#<s>` / `<id>` |
//!
//! `<s>` is the post's feed shard, [`shard_of`]`(id, FEED_SHARDS)` when it is created, and
//! kept for the post's life. A post also has one search posting per n-gram of its title
//! (`postings.rs`), written outside its own item with the protocol of `docs/data-model.md`;
//! `version` (the title's version, 1 at creation, +1 on every title change) ties the postings
//! to the title they were made from.
//!
//! Every write to a post is conditioned on `owner_id = :caller`; a failed condition is
//! explained by one read (missing is checked before "not yours"). A delete first marks the
//! post `deleting` and then removes its votes in bounded transactions (see [`Store::delete_post`]
//! in `PostStore`), so no vote item is ever orphaned.

use super::postings::shard_of;
use super::votes::VOTE_SK_PREFIX;
use super::{
    Item, Store, TxOutcome, classify, from_item, invalid_request, is_conditional_failure, key, n,
    s, to_item,
};
use crate::domain::{
    Email, Post, PostChanges, PostDraft, PostId, PostWriteError, StoreError, User, UserId,
};
use crate::ids::new_id;
use crate::ports::PostStore;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The GSI that lists posts newest first.
pub const POSTS_INDEX: &str = "gsi1";
/// The start of the partition keys of [`POSTS_INDEX`]: `POSTS#<shard>`.
const FEED_PK_PREFIX: &str = "POSTS#";
const POST_SK: &str = "POST";
/// Vote items deleted per transaction (one more action is the post itself). DynamoDB allows 100
/// actions per transaction, but DynamoDB Local 1.11 (our test server) allows 10; we stay within
/// 10 so the code path we test is the one we deploy. Only deletes of posts with many votes pay
/// for it, with more rounds.
const MAX_VOTES_PER_TRANSACTION: usize = 9;

pub(super) fn post_pk(id: PostId) -> String {
    format!("POST#{id}")
}
pub(super) fn post_key(id: PostId) -> Item {
    key(post_pk(id), POST_SK)
}

/// The partition key, in [`POSTS_INDEX`], of feed shard `shard`.
pub fn feed_pk(shard: u32) -> String {
    format!("{FEED_PK_PREFIX}{shard}")
}

/// The feed shard a post item was written to. An item of the layout before sharding
/// (`gsi1pk = POSTS`) has none yet: it gets the shard a new post with its id would get, which
/// is where the backfill moves it.
pub(super) fn feed_shard_of_item(item: &PostItem, shards: u32) -> u32 {
    feed_shard_of_pk(&item.gsi1pk).unwrap_or_else(|| shard_of(item.id, shards))
}

/// The shard a feed key `POSTS#<s>` names; `None` for the layout before sharding (`POSTS`).
pub(super) fn feed_shard_of_pk(gsi1pk: &str) -> Option<u32> {
    gsi1pk.strip_prefix(FEED_PK_PREFIX)?.parse().ok()
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PostItem {
    pk: String,
    sk: String,
    pub(super) gsi1pk: String,
    gsi1sk: PostId,
    pub(super) id: PostId,
    /// Absent when empty: DynamoDB Local 1.11 refuses an empty string in any attribute (real
    /// DynamoDB takes them outside keys), so `""` is never written and a missing attribute
    /// reads back as `""`. The same code then runs on both engines.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(super) title: String,
    /// Absent when empty, as `title`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    content: String,
    published: bool,
    created_at: String,
    pub(super) owner_id: UserId,
    owner_email: Email,
    owner_created_at: String,
    votes: u64,
    /// Set while a delete with many votes is in progress: the post is gone for readers and
    /// takes no new votes. Never written as NULL (absent means not deleting).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) deleting: bool,
    /// The title's version: 1 at creation, +1 with every write that changes the title. The
    /// search postings of the title carry it. Absent (0) on posts written before the search
    /// index existed, until the backfill gives them one.
    #[serde(default)]
    pub(super) version: u64,
}

impl From<PostItem> for Post {
    fn from(i: PostItem) -> Self {
        Post {
            id: i.id,
            title: i.title,
            content: i.content,
            published: i.published,
            created_at: i.created_at,
            owner: User {
                id: i.owner_id,
                email: i.owner_email,
                created_at: i.owner_created_at,
            },
            votes: i.votes,
        }
    }
}

impl Store {
    /// Puts `post` (title version 1, in its feed shard, with no votes: `post.votes` is not
    /// read) unless an item with its key exists; false if one did. Writes no postings.
    pub(super) async fn put_new_post(&self, post: &Post) -> Result<bool, StoreError> {
        let item = self.new_post_item(post);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    /// The item of a new `post`: title version 1, in its feed shard, no votes.
    pub(super) fn new_post_item(&self, post: &Post) -> PostItem {
        PostItem {
            pk: post_pk(post.id),
            sk: POST_SK.into(),
            gsi1pk: feed_pk(shard_of(post.id, self.feed_shards)),
            gsi1sk: post.id,
            id: post.id,
            title: post.title.clone(),
            content: post.content.clone(),
            published: post.published,
            created_at: post.created_at.clone(),
            owner_id: post.owner.id,
            owner_email: post.owner.email.clone(),
            owner_created_at: post.owner.created_at.clone(),
            votes: 0,
            deleting: false,
            version: 1,
        }
    }

    pub(super) async fn get_post_item(&self, id: PostId) -> Result<Option<PostItem>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(post_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item.map(from_item::<PostItem>).transpose()
    }

    /// Why a conditional write to post `id` by `caller` failed: read it once to tell
    /// "does not exist" (checked first) from "not yours".
    async fn explain_post_write_failure(&self, id: PostId, caller: UserId) -> PostWriteError {
        match self.get_post_item(id).await {
            Ok(Some(p)) if !p.deleting && p.owner_id != caller => PostWriteError::Forbidden(id),
            Ok(Some(p)) if !p.deleting => {
                PostWriteError::Store(StoreError::Other("post write failed its condition".into()))
            }
            Ok(_) => PostWriteError::NotFound(id),
            Err(e) => PostWriteError::Store(e),
        }
    }

    /// One conditional `UpdateItem` of post `id` for `caller`: `sets`/`removes` with their
    /// `names` and `values` (`:caller` is added), on top of the owner and not-deleting
    /// condition and `extra_condition`. `Ok(None)` when a condition failed.
    #[allow(clippy::too_many_arguments)]
    async fn conditional_post_update(
        &self,
        id: PostId,
        caller: UserId,
        sets: &[String],
        removes: &[String],
        mut names: HashMap<String, String>,
        mut values: HashMap<String, AttributeValue>,
        extra_condition: Option<&str>,
        return_values: ReturnValue,
    ) -> Result<Option<PostItem>, StoreError> {
        values.insert(":caller".into(), n(caller));
        let mut expression = Vec::new();
        if !sets.is_empty() {
            expression.push(format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expression.push(format!("REMOVE {}", removes.join(", ")));
        }
        let mut condition =
            "attribute_exists(pk) AND owner_id = :caller AND attribute_not_exists(deleting)"
                .to_string();
        if let Some(extra) = extra_condition {
            condition = format!("{condition} AND ({extra})");
            names.insert("#title".into(), "title".into());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(post_key(id)))
            .update_expression(expression.join(" "))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .set_expression_attribute_names(Some(names))
            .return_values(return_values)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| StoreError::Other("UpdateItem returned no attributes".into()))?;
                Ok(Some(from_item::<PostItem>(item)?))
            }
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }
}

/// The condition "the stored title is not `title`" (`differs`) or "is `title`", for a title
/// stored as an absent attribute when empty (see [`PostItem`]).
fn title_condition(title: &str, differs: bool) -> String {
    match (title.is_empty(), differs) {
        (true, true) => "attribute_exists(#title)".into(),
        (true, false) => "attribute_not_exists(#title)".into(),
        (false, true) => "attribute_not_exists(#title) OR #title <> :title".into(),
        (false, false) => "#title = :title".into(),
    }
}

/// Applies the content and published changes of an update (its expression values and
/// removals) to the item as it was before, giving the item as it is after.
fn apply_changes(
    item: &mut PostItem,
    values: &HashMap<String, AttributeValue>,
    removes: &[String],
) {
    if let Some(AttributeValue::S(content)) = values.get(":content") {
        item.content = content.clone();
    }
    if removes.iter().any(|r| r == "#content") {
        item.content.clear();
    }
    if let Some(AttributeValue::Bool(published)) = values.get(":published") {
        item.published = *published;
    }
}

/// How often an update whose title turned out unchanged is tried again when the post keeps
/// changing under it.
const UPDATE_ATTEMPTS: usize = 8;

impl PostStore for Store {
    /// Creates a post owned by `owner`: its search postings first (`BatchWriteItem`), then the
    /// post (one conditional `PutItem`). Postings of a post that does not exist are never
    /// shown (every search reads the post), so the post is searchable from the moment it
    /// exists, and a failure before the put leaves no post at all.
    async fn create_post(&self, owner: &User, draft: PostDraft) -> Result<Post, StoreError> {
        loop {
            let post = Post {
                id: PostId::new(new_id()),
                title: draft.title.clone(),
                content: draft.content.clone(),
                published: draft.published,
                created_at: crate::time::now_rfc3339(),
                owner: owner.clone(),
                votes: 0,
            };
            let shard = shard_of(post.id, self.feed_shards);
            self.put_postings(shard, post.id, 1, &post.title).await?;
            if self.put_new_post(&post).await? {
                return Ok(post);
            }
            // The id collided (same millisecond, same random bits): new id. The postings just
            // written are left alone: the other post's version 1 may share some of them, and
            // the rest are filtered out by every search (the title check).
        }
    }

    /// One post by id (one `GetItem`); a post being deleted is already gone.
    async fn get_post(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        Ok(self
            .get_post_item(id)
            .await?
            .filter(|p| !p.deleting)
            .map(Post::from))
    }

    /// Posts newest first, older than `before` when given: skips `skip`, returns up to
    /// `limit`, optionally only those whose title contains `search` (case-sensitive,
    /// literal). The feed is one `Query` per shard (concurrently, `FEED_SHARDS` of them); a
    /// search reads posting lists and verifies each candidate against its post (`search.rs`).
    /// No `Scan`. The index is eventually consistent: a post created a moment ago may take a
    /// moment to appear on real DynamoDB.
    async fn list_posts(
        &self,
        limit: usize,
        skip: usize,
        search: &str,
        before: Option<PostId>,
    ) -> Result<Vec<Post>, StoreError> {
        // No title is longer than the longest a post may have: nothing to read.
        if limit == 0 || search.chars().nth(crate::models::MAX_TITLE_CHARS).is_some() {
            return Ok(Vec::new());
        }
        if search.is_empty() {
            self.list_feed(limit, skip, before).await
        } else {
            self.search_posts(limit, skip, search, before).await
        }
    }

    /// Changes a post of `caller`'s (one conditional `UpdateItem`; on failure one `GetItem`
    /// to say why). With no change at all it only reads and checks.
    ///
    /// A write that changes the title also bumps `version` in the same `UpdateItem` (which is
    /// conditioned on the title differing), then moves the search postings: puts those of the
    /// new title at the new version, deletes those of the old title, and re-reads the post to
    /// take its own postings back if the post moved on meanwhile (`docs/data-model.md`). A
    /// write that sets the title it already has leaves `version` and the postings alone.
    async fn update_post(
        &self,
        id: PostId,
        caller: UserId,
        changes: PostChanges,
    ) -> Result<Post, PostWriteError> {
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        // Aliases everywhere: attribute names must never collide with DynamoDB's long list of
        // reserved words, now or when a field is added.
        let mut names: HashMap<String, String> = HashMap::new();
        if let Some(text) = changes.content {
            names.insert("#content".into(), "content".into());
            // An empty string is stored as "no attribute" (see `PostItem`): DynamoDB Local
            // refuses `""` even before the condition is checked, which would hide a 403/404.
            if text.is_empty() {
                removes.push("#content".to_string());
            } else {
                sets.push("#content = :content".to_string());
                values.insert(":content".into(), s(text));
            }
        }
        if let Some(p) = changes.published {
            names.insert("#published".into(), "published".into());
            sets.push("#published = :published".into());
            values.insert(":published".into(), AttributeValue::Bool(p));
        }
        let Some(title) = changes.title else {
            if names.is_empty() {
                return match self.get_post_item(id).await? {
                    Some(p) if !p.deleting && p.owner_id == caller => Ok(p.into()),
                    Some(p) if !p.deleting => Err(PostWriteError::Forbidden(id)),
                    _ => Err(PostWriteError::NotFound(id)),
                };
            }
            let updated = self
                .conditional_post_update(
                    id,
                    caller,
                    &sets,
                    &removes,
                    names,
                    values,
                    None,
                    ReturnValue::AllNew,
                )
                .await?;
            return match updated {
                Some(item) => Ok(item.into()),
                None => Err(self.explain_post_write_failure(id, caller).await),
            };
        };
        if !title.is_empty() {
            values.insert(":title".into(), s(title.clone()));
        }
        for _ in 0..UPDATE_ATTEMPTS {
            // The title changes: set it and bump the version, if it really differs.
            let mut title_sets = sets.clone();
            let mut title_removes = removes.clone();
            let mut title_names = names.clone();
            let mut title_values = values.clone();
            title_names.insert("#version".into(), "version".into());
            title_sets.push("#version = if_not_exists(#version, :zero) + :one".into());
            title_values.insert(":zero".into(), n(0));
            title_values.insert(":one".into(), n(1));
            if title.is_empty() {
                title_removes.push("#title".into());
            } else {
                title_sets.push("#title = :title".into());
            }
            let old = self
                .conditional_post_update(
                    id,
                    caller,
                    &title_sets,
                    &title_removes,
                    title_names,
                    title_values,
                    Some(&title_condition(&title, true)),
                    ReturnValue::AllOld,
                )
                .await?;
            if let Some(old) = old {
                let shard = feed_shard_of_item(&old, self.feed_shards);
                let (old_version, old_title) = (old.version, old.title.clone());
                let mut new = old;
                new.title = title.clone();
                new.version = old_version + 1;
                apply_changes(&mut new, &values, &removes);
                let moved = self
                    .move_postings(
                        shard,
                        id,
                        (old_version, &old_title),
                        (new.version, &new.title),
                    )
                    .await;
                if let Err(e) = moved {
                    // The post is changed and that is what the owner is told; its search
                    // postings are incomplete until the backfill repairs them (a stale one is
                    // filtered out by every search).
                    tracing::error!(post = %id, error = %e, "title changed but its search postings were not all written");
                }
                return Ok(new.into());
            }
            // Missing, not the caller's, or the title is already this one.
            let Some(current) = self.get_post_item(id).await? else {
                return Err(PostWriteError::NotFound(id));
            };
            if current.deleting {
                return Err(PostWriteError::NotFound(id));
            }
            if current.owner_id != caller {
                return Err(PostWriteError::Forbidden(id));
            }
            if current.title != title {
                continue; // It changed between the two calls: try again.
            }
            if sets.is_empty() && removes.is_empty() {
                return Ok(current.into());
            }
            let mut same_names = names.clone();
            same_names.insert("#title".into(), "title".into());
            let updated = self
                .conditional_post_update(
                    id,
                    caller,
                    &sets,
                    &removes,
                    same_names,
                    values.clone(),
                    Some(&title_condition(&title, false)),
                    ReturnValue::AllNew,
                )
                .await?;
            if let Some(item) = updated {
                return Ok(item.into());
            }
        }
        Err(StoreError::Unavailable("post kept changing during the update".into()).into())
    }

    /// Deletes a post of `caller`'s with all its votes, so no vote item is ever orphaned.
    ///
    /// 1. Mark the post `deleting` (conditioned on owner): readers stop seeing it and new
    ///    votes are refused from here on.
    /// 2. Delete its vote items in transactions of up to 9 ([`MAX_VOTES_PER_TRANSACTION`]), each also subtracting what it
    ///    deleted from `votes`, so `votes` = number of vote items at every moment.
    /// 3. Delete the post itself in the transaction that removes the last votes
    ///    (conditioned on `votes` matching), usually the first and only one.
    ///
    /// Between 1 and 2, the search postings of the post's title version are deleted
    /// (`BatchWriteItem`).
    ///
    /// If the function dies half-way, the post stays hidden and a retried DELETE resumes.
    async fn delete_post(&self, id: PostId, caller: UserId) -> Result<(), PostWriteError> {
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(post_key(id)))
            .update_expression("SET deleting = :t")
            .condition_expression("attribute_exists(pk) AND owner_id = :caller")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":caller", n(caller))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match marked {
            Ok(out) => {
                // The title can no longer change (every update is conditioned on
                // `attribute_not_exists(deleting)`): take its postings out of search now.
                // A title writer still busy with its own postings sees `deleting` when it
                // re-reads and takes them back itself.
                let item = out
                    .attributes
                    .ok_or_else(|| StoreError::Other("UpdateItem returned no attributes".into()))?;
                let post = from_item::<PostItem>(item)?;
                if post.version > 0 {
                    let shard = feed_shard_of_item(&post, self.feed_shards);
                    self.delete_postings(shard, id, post.version, &post.title)
                        .await?;
                }
            }
            Err(e) if is_conditional_failure(&e) => {
                // A post already marked by an earlier, interrupted DELETE of the owner's passes
                // the condition above, so a failure here is "missing" or "not yours".
                return Err(match self.get_post_item(id).await? {
                    Some(p) if p.owner_id != caller => PostWriteError::Forbidden(id),
                    _ => PostWriteError::NotFound(id),
                });
            }
            Err(e) => return Err(classify(e).into()),
        }
        for _ in 0..10_000 {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :v)")
                .expression_attribute_values(":pk", s(post_pk(id)))
                .expression_attribute_values(":v", s(VOTE_SK_PREFIX))
                .projection_expression("pk, sk")
                .consistent_read(true)
                .limit(MAX_VOTES_PER_TRANSACTION as i32)
                .send()
                .await
                .map_err(classify)?;
            let votes = out.items.unwrap_or_default();
            let more = out.last_evaluated_key.is_some_and(|k| !k.is_empty());
            let mut actions = Vec::with_capacity(votes.len() + 1);
            for v in &votes {
                // Conditioned on existence: a concurrent unvote that removed it first must not
                // be subtracted twice, so then the whole transaction is retried.
                let del = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(v.clone()))
                    .condition_expression("attribute_exists(pk)")
                    .build()
                    .map_err(invalid_request)?;
                actions.push(TransactWriteItem::builder().delete(del).build());
            }
            let count = n(votes.len());
            let post_action = if more {
                let upd = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(post_key(id)))
                    .update_expression("ADD #votes :neg")
                    .expression_attribute_names("#votes", "votes")
                    .condition_expression("attribute_exists(pk) AND owner_id = :caller")
                    .expression_attribute_values(":neg", n(-(votes.len() as i64)))
                    .expression_attribute_values(":caller", n(caller))
                    .build()
                    .map_err(invalid_request)?;
                TransactWriteItem::builder().update(upd).build()
            } else {
                let del = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(post_key(id)))
                    .condition_expression(
                        "attribute_exists(pk) AND owner_id = :caller AND #votes = :count",
                    )
                    .expression_attribute_values(":caller", n(caller))
                    .expression_attribute_values(":count", count)
                    .expression_attribute_names("#votes", "votes")
                    .build()
                    .map_err(invalid_request)?;
                TransactWriteItem::builder().delete(del).build()
            };
            actions.insert(0, post_action);
            match self.transact(actions).await? {
                TxOutcome::Committed if !more => return Ok(()),
                TxOutcome::Committed => {}
                // An unvote raced us (count or a vote item changed): read again and retry.
                cancelled @ TxOutcome::Cancelled(_) => {
                    if cancelled.failed(0) && self.get_post_item(id).await?.is_none() {
                        return Err(PostWriteError::NotFound(id));
                    }
                }
            }
        }
        Err(StoreError::Unavailable("delete did not converge".into()).into())
    }
}
