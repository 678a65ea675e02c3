//! Votes: one item per (post, user), beside its post.
//!
//! | item | pk               | sk           |
//! |------|------------------|--------------|
//! | vote | `POST#<post_id>` | `VOTE#<uid>` |
//!
//! A vote puts (or deletes) its item and adds +1 (or -1) to the post's `votes` in one
//! transaction, so there is at most one vote per (user, post) and `votes` always equals the
//! number of vote items, whatever the concurrency.

use super::posts::{post_key, post_pk};
use super::{Store, TxOutcome, classify, invalid_request, key, n, s, to_item};
use crate::domain::{PostId, StoreError, UserId, VoteError};
use crate::ports::VoteStore;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

/// The sort key prefix of a post's vote items.
pub(super) const VOTE_SK_PREFIX: &str = "VOTE#";

fn vote_sk(user: UserId) -> String {
    format!("{VOTE_SK_PREFIX}{user}")
}

#[derive(Debug, Serialize, Deserialize)]
struct VoteItem {
    pk: String,
    sk: String,
    post_id: PostId,
    user_id: UserId,
    created_at: String,
}

impl Store {
    /// The post half of a vote transaction: `votes + delta`, only on a post that exists and is
    /// not being deleted (so its cancellation means "no such post").
    fn bump_votes(&self, post: PostId, delta: i64) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(post_key(post)))
            .update_expression("ADD #votes :delta")
            .expression_attribute_names("#votes", "votes")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .expression_attribute_values(":delta", n(delta))
            .build()
            .map_err(invalid_request)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Runs a vote transaction `[bump_votes, vote item action]`: a failure of action 0 means
    /// no such post (checked first), of action 1 `vote_failed`.
    async fn vote_transaction(
        &self,
        post: PostId,
        actions: Vec<TransactWriteItem>,
        vote_failed: VoteError,
    ) -> Result<(), VoteError> {
        match self.transact(actions).await? {
            TxOutcome::Committed => Ok(()),
            outcome if outcome.failed(0) => Err(VoteError::PostNotFound(post)),
            TxOutcome::Cancelled(_) => Err(vote_failed),
        }
    }

    /// Number of vote items of a post, counted with a `Query` (for tests and audits; no
    /// request path uses it).
    pub async fn count_vote_items(&self, post_id: PostId) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :v)")
                .expression_attribute_values(":pk", s(post_pk(post_id)))
                .expression_attribute_values(":v", s(VOTE_SK_PREFIX))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            total += out.count as u64;
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(total),
            }
        }
    }
}

impl VoteStore for Store {
    async fn add_vote(&self, post: PostId, user: UserId) -> Result<(), VoteError> {
        let vote = to_item(&VoteItem {
            pk: post_pk(post),
            sk: vote_sk(user),
            post_id: post,
            user_id: user,
            created_at: crate::time::now_rfc3339(),
        })?;
        let actions = vec![self.bump_votes(post, 1)?, self.put_new(vote)?];
        self.vote_transaction(post, actions, VoteError::AlreadyVoted { user, post })
            .await
    }

    async fn remove_vote(&self, post: PostId, user: UserId) -> Result<(), VoteError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(post_pk(post), &vote_sk(user))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(invalid_request)?;
        let actions = vec![
            self.bump_votes(post, -1)?,
            TransactWriteItem::builder().delete(delete).build(),
        ];
        self.vote_transaction(post, actions, VoteError::VoteNotFound)
            .await
    }
}
