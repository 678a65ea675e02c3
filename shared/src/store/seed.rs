//! Development fixtures: items with fixed ids, written with the store's own item layout so a
//! seeded table is exactly what the functions would have written.
//!
//! Only `local_gateway seed` calls these (it prepares the table the sample events in `events/`
//! expect); no function does, so no deployed role is granted anything for them. On a request
//! path ids are always server-assigned.

use super::{Store, TxOutcome};
use crate::config::SessionConfig;
use crate::domain::{PasswordHash, Post, StoreError, User, UserId};
use crate::ports::UserStore;

/// What a fixture write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    /// The item was missing and has been written.
    Created,
    /// It was already there (as seeded before) and was left as it is.
    AlreadyThere,
}

impl Store {
    /// Writes `user` (its fixed id) with a credential for its e-mail, in the sign-up
    /// transaction, unless it exists. Idempotent: an earlier seed of the same user is left
    /// alone (its password hash included). An id or e-mail that belongs to other data is an
    /// error rather than an overwrite.
    pub async fn seed_user(
        &self,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<Seeded, StoreError> {
        if let TxOutcome::Committed = self.put_user_and_credential(user, password_hash).await? {
            return Ok(Seeded::Created);
        }
        let same_user = self.get_user(user.id).await?.as_ref() == Some(user);
        let same_login = self
            .get_credential(&user.email)
            .await?
            .is_some_and(|c| c.user_id == user.id);
        if same_user && same_login {
            Ok(Seeded::AlreadyThere)
        } else {
            Err(StoreError::Other(format!(
                "cannot seed user {} <{}>: the id or the e-mail belongs to another account",
                user.id, user.email
            )))
        }
    }

    /// Writes `post` (its fixed id, no votes) unless it exists. Idempotent: an existing post of
    /// the same owner is left as it is, edits and votes included, so `votes` stays equal to
    /// the number of vote items. A post of another owner with that id is an error.
    /// A created post gets its search postings as a new post does.
    pub async fn seed_post(&self, post: &Post) -> Result<Seeded, StoreError> {
        if self.put_new_post(post).await? {
            self.index_post(post.id).await?;
            return Ok(Seeded::Created);
        }
        match self.get_post_item(post.id).await? {
            Some(existing) if existing.owner_id == post.owner.id => Ok(Seeded::AlreadyThere),
            // Deleted between the two calls: running the seed again writes it.
            None => Err(StoreError::Other(format!(
                "post {} was deleted while seeding: seed again",
                post.id
            ))),
            Some(existing) => Err(StoreError::Other(format!(
                "cannot seed post {}: it belongs to user {}",
                post.id, existing.owner_id
            ))),
        }
    }

    /// Writes `posts` as new posts (title version 1, in their feed shards, no votes) with
    /// their search postings, all with unconditional `BatchWriteItem` calls: the item layout
    /// of [`PostStore::create_post`](crate::ports::PostStore::create_post) at bulk speed, for
    /// the scale benchmark (`local_gateway seed-posts`). It overwrites posts with the same
    /// ids, so it is for tables of test data only. Returns the items written.
    pub async fn seed_posts(&self, posts: &[Post]) -> Result<usize, StoreError> {
        let mut requests = Vec::new();
        for post in posts {
            let shard = super::postings::shard_of(post.id, self.feed_shards);
            for item in super::postings::posting_items(shard, post.id, 1, &post.title) {
                requests.push(super::postings::put_request(item)?);
            }
            let item = super::to_item(&self.new_post_item(post))?;
            requests.push(super::postings::put_request(item)?);
        }
        let written = requests.len();
        self.batch_write(requests).await?;
        Ok(written)
    }

    /// Starts a new session for `user_id` whose refresh token is `token_hash`, replacing the
    /// token item an earlier seed wrote for that hash: whatever the fixture token went through
    /// (used, logged out, its session revoked), it works again, so the sample refresh event
    /// answers 200 again. Earlier sessions are left as they are, to expire.
    pub async fn seed_session(
        &self,
        user_id: UserId,
        token_hash: &str,
        now: u64,
        config: &SessionConfig,
    ) -> Result<(), StoreError> {
        self.put_session(user_id, token_hash, now, config, true)
            .await
            .map(|_| ())
    }
}
