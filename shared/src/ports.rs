//! The store as the handlers see it: one small trait per aggregate, so each handler names what
//! it uses (`get_post` needs a [`PostStore`], `vote` a [`VoteStore`]) and its unit tests can
//! hand it the in-memory store (`memory::MemoryStore`, feature `memory`) instead of DynamoDB.
//!
//! [`Store`](crate::store::Store) implements every trait against DynamoDB; the behavioural
//! suite in `shared/tests/suite/` runs against both implementations, so they cannot drift.
//! Each method documents what it guarantees under concurrency; the DynamoDB store keeps those
//! guarantees with conditions and transactions (see `docs/data-model.md`).

use crate::config::{LoginLimitsConfig, SessionConfig};
use crate::domain::{
    Credential, Email, PasswordHash, Post, PostChanges, PostDraft, PostId, PostWriteError,
    SignUpError, StoreError, User, UserId, VoteError,
};
use crate::store::{LoginAttempt, LoginGate, RefreshError, RefreshGrant};
use std::future::Future;

/// Accounts and their credentials.
pub trait UserStore: Send + Sync {
    /// Creates an account with a fresh id. One account per e-mail, whatever the concurrency:
    /// every sign-up but one of the same e-mail gets [`SignUpError::EmailTaken`].
    fn create_user(
        &self,
        email: &Email,
        password_hash: &PasswordHash,
    ) -> impl Future<Output = Result<User, SignUpError>> + Send;

    /// One user by id, strongly consistent.
    fn get_user(&self, id: UserId)
    -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// The credential of an e-mail (all a login reads).
    fn get_credential(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<Credential>, StoreError>> + Send;
}

/// Posts. Every write is owner-only and says why it failed: [`PostWriteError::NotFound`] is
/// checked before [`PostWriteError::Forbidden`].
pub trait PostStore: Send + Sync {
    /// Creates a post owned by `owner` with a fresh id and no votes.
    fn create_post(
        &self,
        owner: &User,
        draft: PostDraft,
    ) -> impl Future<Output = Result<Post, StoreError>> + Send;

    /// One post by id with its vote count; a post being deleted is already gone.
    fn get_post(&self, id: PostId)
    -> impl Future<Output = Result<Option<Post>, StoreError>> + Send;

    /// Posts newest first: only those whose title contains `search` (case-sensitive,
    /// literal; `""` matches all) and, with `before`, only those older than that post (a
    /// cursor: the last post of the page before); skips `skip` of them and returns up to
    /// `limit`. `limit` and `skip` are exact, whatever the store's partitioning.
    fn list_posts(
        &self,
        limit: usize,
        skip: usize,
        search: &str,
        before: Option<PostId>,
    ) -> impl Future<Output = Result<Vec<Post>, StoreError>> + Send;

    /// Applies `changes` to `caller`'s post `id` and returns it as it is now (no change at all
    /// only reads and checks).
    fn update_post(
        &self,
        id: PostId,
        caller: UserId,
        changes: PostChanges,
    ) -> impl Future<Output = Result<Post, PostWriteError>> + Send;

    /// Deletes `caller`'s post `id` and every vote on it: no vote is ever orphaned.
    fn delete_post(
        &self,
        id: PostId,
        caller: UserId,
    ) -> impl Future<Output = Result<(), PostWriteError>> + Send;
}

/// Votes: at most one per (user, post), and a post's `votes` always equals its number of votes.
pub trait VoteStore: Send + Sync {
    /// Adds `user`'s vote on `post` ([`VoteError::PostNotFound`] first, then
    /// [`VoteError::AlreadyVoted`]).
    fn add_vote(
        &self,
        post: PostId,
        user: UserId,
    ) -> impl Future<Output = Result<(), VoteError>> + Send;

    /// Removes `user`'s vote on `post` ([`VoteError::PostNotFound`] first, then
    /// [`VoteError::VoteNotFound`]).
    fn remove_vote(
        &self,
        post: PostId,
        user: UserId,
    ) -> impl Future<Output = Result<(), VoteError>> + Send;
}

/// Login sessions and their single-use refresh tokens (kept only as SHA-256 hashes).
pub trait SessionStore: Send + Sync {
    /// Starts a session for `user` whose first refresh token hashes to `token_hash`.
    fn create_session(
        &self,
        user: UserId,
        token_hash: &str,
        now: u64,
        config: &SessionConfig,
    ) -> impl Future<Output = Result<RefreshGrant, StoreError>> + Send;

    /// Trades the token hashing to `presented` for a new one (`new_hash`) of the same session,
    /// usable for `refresh_secs` but never past the session's end. Of concurrent rotations of
    /// one token exactly one succeeds; a token presented after it was used revokes its session
    /// ([`RefreshError::Reused`]).
    fn rotate_refresh_token(
        &self,
        presented: &str,
        new_hash: &str,
        now: u64,
        refresh_secs: u64,
    ) -> impl Future<Output = Result<RefreshGrant, RefreshError>> + Send;

    /// Revokes the session of the token hashing to `presented` (used or not); false when no
    /// such token exists.
    fn revoke_session(
        &self,
        presented: &str,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether session `id` exists and is neither revoked nor over at `now` (tests and audits).
    fn session_is_active(
        &self,
        id: &str,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Failed-login counters (see `store/login_limits.rs` for the windows and keys).
pub trait LoginLimitStore: Send + Sync {
    /// Counts `attempt` (before its password is checked) and says whether it may go on. No
    /// more than a limit's number of concurrent attempts ever get [`LoginGate::Open`].
    fn check_login_limits(
        &self,
        limits: &LoginLimitsConfig,
        attempt: &LoginAttempt,
    ) -> impl Future<Output = Result<LoginGate, StoreError>> + Send;

    /// After a successful login: takes the attempt back and remembers its source as known for
    /// the account.
    fn record_login_success(
        &self,
        limits: &LoginLimitsConfig,
        attempt: &LoginAttempt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
