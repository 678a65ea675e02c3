//! Helpers of the behavioural suite, generic over the store under test.

#![allow(dead_code)]

use shared::auth::{new_refresh_token, refresh_token_hash, unix_now};
use shared::config::{LoginLimitsConfig, SessionConfig};
use shared::domain::{Email, PasswordHash, PostDraft, PostId, User};
use shared::ports::{LoginLimitStore, SessionStore, UserStore};
use shared::store::{LoginAttempt, LoginGate, RefreshError, RefreshGrant, Store};

/// A DynamoDB store on a fresh table of DynamoDB Local (`DYNAMODB_ENDPOINT`, which `make test`
/// sets), made from `template.yaml`'s definition, so tests run in parallel without sharing data
/// and the table can never drift from the deployed one.
pub async fn dynamodb_store(prefix: &str) -> Store {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT")
        .expect("DYNAMODB_ENDPOINT must point at DynamoDB Local (`make test` sets it)");
    let client = local_gateway::dynamodb::client_for_endpoint(&endpoint);
    let table = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        shared::auth::random_hex(6)
    );
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    local_gateway::dynamodb::ensure_table(&client, template, &table)
        .await
        .expect("create the test table");
    // More than one feed shard, and not the default, so paging and search are tested across
    // shards.
    Store::new(client, table).with_feed_shards(TEST_FEED_SHARDS)
}

/// The feed shards of the tests' DynamoDB stores.
pub const TEST_FEED_SHARDS: u32 = 3;

/// A valid address, parsed as the edge parses it.
pub fn email(address: &str) -> Email {
    Email::parse(address).expect("a valid test address")
}

/// A stand-in hash (the store never looks inside it).
pub fn hash(text: &str) -> PasswordHash {
    PasswordHash::new(text)
}

/// A new post's content.
pub fn draft(title: String, content: String, published: bool) -> PostDraft {
    PostDraft {
        title,
        content,
        published,
    }
}

/// An id no post has: the one after `id`.
pub fn next(id: PostId) -> PostId {
    PostId::new(id.get() + 1)
}

/// A new account.
pub async fn user(store: &impl UserStore, address: &str) -> User {
    store
        .create_user(&email(address), &hash("$2b$04$hash"))
        .await
        .unwrap()
}

pub const CONFIG: SessionConfig = SessionConfig {
    refresh_expire_minutes: 60,
    session_max_minutes: 24 * 60,
};
pub const REFRESH_SECS: u64 = 3600;

/// A login of user number `n` (its account made on first use): a new session and its first
/// refresh token, as the client gets it.
pub async fn login(store: &(impl UserStore + SessionStore), n: u32) -> (String, RefreshGrant) {
    let address = email(&format!("user-{n}@example.com"));
    let id = match store.get_credential(&address).await.unwrap() {
        Some(c) => c.user_id,
        None => store.create_user(&address, &hash("h")).await.unwrap().id,
    };
    let token = new_refresh_token();
    let grant = store
        .create_session(id, &refresh_token_hash(&token), unix_now(), &CONFIG)
        .await
        .unwrap();
    (token, grant)
}

/// Trades `token` for the next one.
pub async fn refresh(
    store: &impl SessionStore,
    token: &str,
) -> Result<(String, RefreshGrant), RefreshError> {
    let next = new_refresh_token();
    store
        .rotate_refresh_token(
            &refresh_token_hash(token),
            &refresh_token_hash(&next),
            unix_now(),
            REFRESH_SECS,
        )
        .await
        .map(|grant| (next, grant))
}

pub const WINDOW: u64 = 900;
/// The start of some window (any multiple of [`WINDOW`]).
pub const T0: u64 = WINDOW * 2_000_000;
pub const OPEN: LoginGate = LoginGate::Open;

pub fn limits(per_account_source: u64, per_account: u64, per_source: u64) -> LoginLimitsConfig {
    LoginLimitsConfig {
        window_secs: WINDOW,
        per_account_source,
        per_account,
        per_source,
    }
}

pub fn at(username: &str, ip: &str, now: u64) -> LoginAttempt {
    LoginAttempt::new(username, Some(ip), WINDOW, now)
}

pub async fn gate(
    store: &impl LoginLimitStore,
    limits: &LoginLimitsConfig,
    attempt: &LoginAttempt,
) -> LoginGate {
    store.check_login_limits(limits, attempt).await.unwrap()
}
