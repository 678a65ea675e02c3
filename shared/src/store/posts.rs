//! Posts, and the index that lists them newest first.
//!
//! | item | pk          | sk     | gsi1 (pk / sk)   |
//! |------|-------------|--------|------------------|
//! | post | `POST#<id>` | `POST` | `POSTS` / `<id>` |
//!
//! Every write to a post is conditioned on `owner_id = :caller`; a failed condition is
//! explained by one read (missing is checked before "not yours"). A delete first marks the
//! post `deleting` and then removes its votes in bounded transactions (see [`Store::delete_post`]
//! in `PostStore`), so no vote item is ever orphaned.

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
/// The single partition of [`POSTS_INDEX`] that holds every post.
const POSTS_PARTITION: &str = "POSTS";
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

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PostItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: PostId,
    id: PostId,
    /// Absent when empty: DynamoDB Local 1.11 refuses an empty string in any attribute (real
    /// DynamoDB takes them outside keys), so `""` is never written and a missing attribute
    /// reads back as `""`. The same code then runs on both engines.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    title: String,
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
    deleting: bool,
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
    /// Puts `post` (with its index keys and no votes: `post.votes` is not read) unless an item
    /// with its key exists; false if one did.
    pub(super) async fn put_new_post(&self, post: &Post) -> Result<bool, StoreError> {
        let item = PostItem {
            pk: post_pk(post.id),
            sk: POST_SK.into(),
            gsi1pk: POSTS_PARTITION.into(),
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
        };
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
}

impl PostStore for Store {
    /// Creates a post owned by `owner` (one conditional `PutItem`).
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
            if self.put_new_post(&post).await? {
                return Ok(post);
            }
            // The id collided (same millisecond, same random bits): new id.
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

    /// Posts newest first: skips `skip`, returns up to `limit`, optionally only those whose
    /// title contains `search` (case-sensitive, literal). One `Query` per page of the index;
    /// no `Scan`. The index is eventually consistent: a post created a moment ago may take a
    /// moment to appear on real DynamoDB.
    async fn list_posts(
        &self,
        limit: usize,
        skip: usize,
        search: &str,
    ) -> Result<Vec<Post>, StoreError> {
        let wanted = skip + limit;
        let mut found: Vec<Post> = Vec::with_capacity(wanted.min(200));
        if limit == 0 {
            return Ok(found);
        }
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(POSTS_INDEX)
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", s(POSTS_PARTITION))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take());
            if search.is_empty() {
                q = q.filter_expression("attribute_not_exists(deleting)");
                // Without a filter every item read is a hit: read no more than needed.
                q = q.limit(
                    i32::try_from(wanted - found.len())
                        .unwrap_or(i32::MAX)
                        .max(1),
                );
            } else {
                // A post with an empty title has no `title` attribute (see `PostItem`), and
                // `contains` on a missing attribute is false: the same answer as for `""`.
                q = q
                    .filter_expression("attribute_not_exists(deleting) AND contains(#title, :q)")
                    .expression_attribute_names("#title", "title")
                    .expression_attribute_values(":q", s(search));
            }
            let out = q.send().await.map_err(classify)?;
            for item in out.items.unwrap_or_default() {
                found.push(from_item::<PostItem>(item)?.into());
                if found.len() == wanted {
                    return Ok(found.split_off(skip));
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(found.into_iter().skip(skip).collect())
    }

    /// Changes a post of `caller`'s (one conditional `UpdateItem`; on failure one `GetItem`
    /// to say why). With no change at all it only reads and checks.
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
        let texts = [("title", changes.title), ("content", changes.content)];
        for (field, text) in texts {
            let Some(text) = text else { continue };
            names.insert(format!("#{field}"), field.to_string());
            // An empty string is stored as "no attribute" (see `PostItem`): DynamoDB Local
            // refuses `""` even before the condition is checked, which would hide a 403/404.
            if text.is_empty() {
                removes.push(format!("#{field}"));
            } else {
                sets.push(format!("#{field} = :{field}"));
                values.insert(format!(":{field}"), s(text));
            }
        }
        if let Some(p) = changes.published {
            names.insert("#published".into(), "published".into());
            sets.push("#published = :published".into());
            values.insert(":published".into(), AttributeValue::Bool(p));
        }
        if names.is_empty() {
            return match self.get_post_item(id).await? {
                Some(p) if !p.deleting && p.owner_id == caller => Ok(p.into()),
                Some(p) if !p.deleting => Err(PostWriteError::Forbidden(id)),
                _ => Err(PostWriteError::NotFound(id)),
            };
        }
        values.insert(":caller".into(), n(caller));
        let mut expression = Vec::new();
        if !sets.is_empty() {
            expression.push(format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expression.push(format!("REMOVE {}", removes.join(", ")));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(post_key(id)))
            .update_expression(expression.join(" "))
            .condition_expression(
                "attribute_exists(pk) AND owner_id = :caller AND attribute_not_exists(deleting)",
            )
            .set_expression_attribute_values(Some(values))
            .set_expression_attribute_names(Some(names))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| StoreError::Other("UpdateItem returned no attributes".into()))?;
                Ok(from_item::<PostItem>(item)?.into())
            }
            Err(e) if is_conditional_failure(&e) => {
                Err(self.explain_post_write_failure(id, caller).await)
            }
            Err(e) => Err(classify(e).into()),
        }
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
            .send()
            .await;
        match marked {
            Ok(_) => {}
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
