//! An in-memory store (feature `memory`): every port of `ports` over plain maps behind one
//! mutex, for handler unit tests that run in milliseconds without Java or DynamoDB Local.
//!
//! It keeps the same promises as the DynamoDB store (the behavioural suite in
//! `shared/tests/suite/` runs against both), and each operation is atomic because it holds the
//! lock throughout, never across an `.await`. [`MemoryStore::set_unavailable`] makes every call
//! fail as a throttled or unreachable DynamoDB would, so handlers' 503 answers can be tested too.

use crate::config::{LoginLimitsConfig, SessionConfig};
use crate::domain::{
    Credential, Email, PasswordHash, Post, PostChanges, PostDraft, PostId, PostWriteError,
    SignUpError, StoreError, User, UserId, VoteError,
};
use crate::ids::new_id;
use crate::ports::{LoginLimitStore, PostStore, SessionStore, UserStore, VoteStore};
use crate::store::{KNOWN_SOURCE_SECS, LoginAttempt, LoginGate, RefreshError, RefreshGrant};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The in-memory store. `Default` is an empty one; clones share the same data (as clones of
/// the DynamoDB store share one table), so a test can hand one to a handler and inspect it.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    data: Mutex<Data>,
    unavailable: AtomicBool,
}

#[derive(Debug, Default)]
struct Data {
    users: HashMap<UserId, User>,
    credentials: HashMap<Email, Credential>,
    posts: BTreeMap<PostId, Post>,
    votes: HashSet<(PostId, UserId)>,
    sessions: HashMap<String, Session>,
    refresh_tokens: HashMap<String, RefreshToken>,
    login_counters: HashMap<(String, String), u64>,
    known_sources: HashMap<(String, String), u64>,
}

#[derive(Debug)]
struct Session {
    user: UserId,
    expires_at: u64,
    revoked: bool,
}

#[derive(Debug)]
struct RefreshToken {
    session_id: String,
    user: UserId,
    expires_at: u64,
    session_expires_at: u64,
    used: bool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on every call fails with [`StoreError::Unavailable`] (or works again, with
    /// `false`): what a handler sees when DynamoDB throttles or cannot be reached.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.inner.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Number of votes recorded on `post` (to check `Post::votes` against).
    pub fn count_votes(&self, post: PostId) -> usize {
        self.inner
            .data
            .lock()
            .map(|d| d.votes.iter().filter(|(p, _)| *p == post).count())
            .unwrap_or(0)
    }

    /// The data, or the injected failure.
    fn data(&self) -> Result<MutexGuard<'_, Data>, StoreError> {
        if self.inner.unavailable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "injected: store unavailable".into(),
            ));
        }
        // A panic while holding the lock would be a bug in this file; the maps stay usable.
        Ok(self.inner.data.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl UserStore for MemoryStore {
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &PasswordHash,
    ) -> Result<User, SignUpError> {
        let mut d = self.data()?;
        if d.credentials.contains_key(email) {
            return Err(SignUpError::EmailTaken(email.clone()));
        }
        let id = loop {
            let id = UserId::new(new_id());
            if !d.users.contains_key(&id) {
                break id;
            }
        };
        let user = User {
            id,
            email: email.clone(),
            created_at: crate::time::now_rfc3339(),
        };
        d.users.insert(id, user.clone());
        d.credentials.insert(
            email.clone(),
            Credential {
                user_id: id,
                password_hash: password_hash.clone(),
            },
        );
        Ok(user)
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.data()?.users.get(&id).cloned())
    }

    async fn get_credential(&self, email: &Email) -> Result<Option<Credential>, StoreError> {
        Ok(self.data()?.credentials.get(email).cloned())
    }
}

/// The owner's post `id`, or why a write to it is refused (missing first, then not yours).
fn owned(d: &mut Data, id: PostId, caller: UserId) -> Result<&mut Post, PostWriteError> {
    match d.posts.get_mut(&id) {
        None => Err(PostWriteError::NotFound(id)),
        Some(p) if p.owner.id != caller => Err(PostWriteError::Forbidden(id)),
        Some(p) => Ok(p),
    }
}

impl PostStore for MemoryStore {
    async fn create_post(&self, owner: &User, draft: PostDraft) -> Result<Post, StoreError> {
        let mut d = self.data()?;
        let id = loop {
            let id = PostId::new(new_id());
            if !d.posts.contains_key(&id) {
                break id;
            }
        };
        let post = Post {
            id,
            title: draft.title,
            content: draft.content,
            published: draft.published,
            created_at: crate::time::now_rfc3339(),
            owner: owner.clone(),
            votes: 0,
        };
        d.posts.insert(id, post.clone());
        Ok(post)
    }

    async fn get_post(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        Ok(self.data()?.posts.get(&id).cloned())
    }

    async fn list_posts(
        &self,
        limit: usize,
        skip: usize,
        search: &str,
        before: Option<PostId>,
    ) -> Result<Vec<Post>, StoreError> {
        let d = self.data()?;
        let older = ..before.unwrap_or(PostId::new(u64::MAX));
        Ok(d.posts
            .range(older)
            .map(|(_, p)| p)
            .rev()
            .filter(|p| p.title.contains(search))
            .skip(skip)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn update_post(
        &self,
        id: PostId,
        caller: UserId,
        changes: PostChanges,
    ) -> Result<Post, PostWriteError> {
        let mut d = self.data()?;
        let post = owned(&mut d, id, caller)?;
        if let Some(title) = changes.title {
            post.title = title;
        }
        if let Some(content) = changes.content {
            post.content = content;
        }
        if let Some(published) = changes.published {
            post.published = published;
        }
        Ok(post.clone())
    }

    async fn delete_post(&self, id: PostId, caller: UserId) -> Result<(), PostWriteError> {
        let mut d = self.data()?;
        owned(&mut d, id, caller)?;
        d.posts.remove(&id);
        d.votes.retain(|(post, _)| *post != id);
        Ok(())
    }
}

impl VoteStore for MemoryStore {
    async fn add_vote(&self, post: PostId, user: UserId) -> Result<(), VoteError> {
        let mut d = self.data()?;
        if !d.posts.contains_key(&post) {
            return Err(VoteError::PostNotFound(post));
        }
        if !d.votes.insert((post, user)) {
            return Err(VoteError::AlreadyVoted { user, post });
        }
        if let Some(p) = d.posts.get_mut(&post) {
            p.votes += 1;
        }
        Ok(())
    }

    async fn remove_vote(&self, post: PostId, user: UserId) -> Result<(), VoteError> {
        let mut d = self.data()?;
        if !d.posts.contains_key(&post) {
            return Err(VoteError::PostNotFound(post));
        }
        if !d.votes.remove(&(post, user)) {
            return Err(VoteError::VoteNotFound);
        }
        if let Some(p) = d.posts.get_mut(&post) {
            p.votes -= 1;
        }
        Ok(())
    }
}

impl SessionStore for MemoryStore {
    async fn create_session(
        &self,
        user: UserId,
        token_hash: &str,
        now: u64,
        config: &SessionConfig,
    ) -> Result<RefreshGrant, StoreError> {
        let mut d = self.data()?;
        let session_id = crate::auth::random_hex(16);
        let session_expires_at = now + u64::from(config.session_max_minutes) * 60;
        let expires_at =
            (now + u64::from(config.refresh_expire_minutes) * 60).min(session_expires_at);
        d.sessions.insert(
            session_id.clone(),
            Session {
                user,
                expires_at: session_expires_at,
                revoked: false,
            },
        );
        d.refresh_tokens.insert(
            token_hash.to_string(),
            RefreshToken {
                session_id: session_id.clone(),
                user,
                expires_at,
                session_expires_at,
                used: false,
            },
        );
        Ok(RefreshGrant {
            user_id: user,
            session_id,
            expires_at,
        })
    }

    async fn rotate_refresh_token(
        &self,
        presented: &str,
        new_hash: &str,
        now: u64,
        refresh_secs: u64,
    ) -> Result<RefreshGrant, RefreshError> {
        let mut d = self.data()?;
        let Some(old) = d.refresh_tokens.get(presented) else {
            return Err(RefreshError::Invalid);
        };
        if old.expires_at <= now {
            return Err(RefreshError::Invalid);
        }
        let session_id = old.session_id.clone();
        if old.used {
            revoke(&mut d, &session_id);
            return Err(RefreshError::Reused);
        }
        let grant = RefreshGrant {
            user_id: old.user,
            session_id: session_id.clone(),
            expires_at: (now + refresh_secs).min(old.session_expires_at),
        };
        let session_expires_at = old.session_expires_at;
        if grant.expires_at <= now {
            return Err(RefreshError::Invalid);
        }
        let alive = d
            .sessions
            .get(&session_id)
            .is_some_and(|s| !s.revoked && s.expires_at > now && s.user == grant.user_id);
        if !alive {
            return Err(RefreshError::Revoked);
        }
        if !d.users.contains_key(&grant.user_id) {
            revoke(&mut d, &session_id);
            return Err(RefreshError::Revoked);
        }
        if let Some(old) = d.refresh_tokens.get_mut(presented) {
            old.used = true;
        }
        d.refresh_tokens.insert(
            new_hash.to_string(),
            RefreshToken {
                session_id,
                user: grant.user_id,
                expires_at: grant.expires_at,
                session_expires_at,
                used: false,
            },
        );
        Ok(grant)
    }

    async fn revoke_session(&self, presented: &str, _now: u64) -> Result<bool, StoreError> {
        let mut d = self.data()?;
        let Some(session_id) = d
            .refresh_tokens
            .get(presented)
            .map(|t| t.session_id.clone())
        else {
            return Ok(false);
        };
        revoke(&mut d, &session_id);
        Ok(true)
    }

    async fn session_is_active(&self, id: &str, now: u64) -> Result<bool, StoreError> {
        let d = self.data()?;
        Ok(d.sessions
            .get(id)
            .is_some_and(|s| !s.revoked && s.expires_at > now))
    }
}

fn revoke(d: &mut Data, session_id: &str) {
    if let Some(s) = d.sessions.get_mut(session_id) {
        s.revoked = true;
    }
}

impl LoginLimitStore for MemoryStore {
    async fn check_login_limits(
        &self,
        limits: &LoginLimitsConfig,
        attempt: &LoginAttempt,
    ) -> Result<LoginGate, StoreError> {
        use crate::store::login_limits_over as over;
        let mut d = self.data()?;
        let mut count = |limit: u64, key: (String, String)| {
            if limit == 0 {
                return 0;
            }
            let c = d.login_counters.entry(key).or_insert(0);
            *c += 1;
            *c
        };
        let closed = LoginGate::Closed {
            retry_after_secs: attempt.retry_after_secs(),
        };
        let pair = count(limits.per_account_source, attempt.pair());
        let source = count(limits.per_source, attempt.source_total());
        if over(limits.per_account_source, pair) || over(limits.per_source, source) {
            return Ok(closed);
        }
        let account = count(limits.per_account, attempt.account_total());
        let known = d
            .known_sources
            .get(&attempt.known_source())
            .is_some_and(|expires_at| *expires_at > attempt.now);
        if over(limits.per_account, account) && !known {
            return Ok(closed);
        }
        Ok(LoginGate::Open)
    }

    async fn record_login_success(
        &self,
        limits: &LoginLimitsConfig,
        attempt: &LoginAttempt,
    ) -> Result<(), StoreError> {
        let mut d = self.data()?;
        if limits.per_account_source > 0 {
            d.login_counters.remove(&attempt.pair());
        }
        for (limit, key) in [
            (limits.per_source, attempt.source_total()),
            (limits.per_account, attempt.account_total()),
        ] {
            if let (true, Some(c)) = (limit > 0, d.login_counters.get_mut(&key)) {
                *c = c.saturating_sub(1);
            }
        }
        if limits.per_account > 0 {
            d.known_sources
                .insert(attempt.known_source(), attempt.now + KNOWN_SOURCE_SECS);
        }
        Ok(())
    }
}
