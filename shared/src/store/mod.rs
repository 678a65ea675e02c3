//! The DynamoDB store: one table, every access a `GetItem`, a `Query` or one
//! `TransactWriteItems`/conditional write, plus `BatchWriteItem`/`BatchGetItem` for the search
//! postings (`postings.rs`, `search.rs`), which are hints checked against their post. The key
//! layout and each route's calls are written down in `docs/data-model.md`; in short:
//!
//! | item        | pk               | sk            | gsi1 (pk / sk)       |
//! |-------------|------------------|---------------|----------------------|
//! | user        | `USER#<id>`      | `PROFILE`     |                      |
//! | credential  | `EMAIL#<email>`  | `CREDENTIAL`  |                      |
//! | post        | `POST#<id>`      | `POST`        | `POSTS#<s>` / `<id>` |
//! | posting     | `G#<s>#<gram>`   | `<id:016>#<version>` |               |
//! | vote        | `POST#<post_id>` | `VOTE#<uid>`  |                      |
//!
//! Invariants live in the database, so they hold under any concurrency:
//! - one account per e-mail: sign-up puts the user and its credential item in one transaction,
//!   both conditioned on `attribute_not_exists`;
//! - one vote per (user, post) and `votes` = number of vote items: a vote puts/deletes the vote
//!   item and adds ±1 to the post in one transaction;
//! - owner-only edits: every write to a post is conditioned on `owner_id = :caller`.

use crate::domain::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::Serialize;
use std::collections::HashMap;

mod backfill;
mod login_limits;
mod postings;
mod posts;
mod search;
mod seed;
mod sessions;
mod tx;
mod users;
mod votes;
pub use crate::domain::{Credential, Post, PostChanges, User};
pub use backfill::{Backfilled, LEGACY_FEED_PK, PostScanPage, ScanPosition, ScannedPost};
#[cfg(any(test, feature = "memory"))]
pub(crate) use login_limits::over as login_limits_over;
pub use login_limits::{KNOWN_SOURCE_SECS, LoginAttempt, LoginGate};
pub use postings::{
    Indexed, MAX_GRAM_CHARS, POSTING_PK_PREFIX, posting_items, posting_pk, posting_sk, shard_of,
    title_grams,
};
pub use posts::{POSTS_INDEX, feed_pk};
pub use seed::Seeded;
pub use sessions::{RefreshError, RefreshGrant};
use tx::TxOutcome;

type Item = HashMap<String, AttributeValue>;

fn user_pk(id: crate::domain::UserId) -> String {
    format!("USER#{id}")
}
const USER_SK: &str = "PROFILE";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

/// DynamoDB error codes that mean "try again later", not "this request is wrong".
const UNAVAILABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            StoreError::Unavailable(crate::error::error_chain(&err))
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            let text = format!("{code}: {}", se.err().message().unwrap_or_default());
            if UNAVAILABLE_CODES.contains(&code) {
                StoreError::Unavailable(text)
            } else {
                StoreError::Other(text)
            }
        }
        _ => StoreError::Other(crate::error::error_chain(&err)),
    }
}

/// A request the SDK refused to build (a missing required field): a bug, never the client's.
fn invalid_request(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Other(format!("invalid request: {e}"))
}

fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Other(format!("bad item: {e}")))
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Other(format!("cannot serialise: {e}")))
}

fn is_conditional_failure(err: &SdkError<impl ProvideErrorMetadata, impl std::fmt::Debug>) -> bool {
    matches!(err, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

/// The HTTPS client every DynamoDB client of this workspace uses (functions, the local gateway,
/// the tests): the SDK's hyper client on rustls with ring. The SDK's default client links
/// aws-lc instead, ~2 MB more in every function's binary for the same TLS.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The store: a DynamoDB client (built once per container) and the table name.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    /// Partitions of the feed index (`FEED_SHARDS`); see `posts.rs`.
    feed_shards: u32,
}

impl Store {
    /// A store over an existing client.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            feed_shards: crate::config::DEFAULT_FEED_SHARDS,
        }
    }

    /// The same store with `n` feed shards (at least 1). Every function that writes or lists
    /// posts must use the same count, and it may only grow (see `docs/data-model.md`).
    pub fn with_feed_shards(mut self, n: u32) -> Self {
        self.feed_shards = n.max(1);
        self
    }

    /// The number of feed shards this store writes to and reads from.
    pub fn feed_shards(&self) -> u32 {
        self.feed_shards
    }

    /// The store as a function's `main` builds it, from the environment Lambda gives a
    /// function: `TABLE_NAME`, `AWS_REGION`, the credentials in `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL_DYNAMODB` when set
    /// (the local gateway points it at DynamoDB Local).
    ///
    /// Not `aws_config::defaults(..).load()`: that chain also looks for profile files, SSO,
    /// web identity, ECS and EC2 metadata credentials, none of which a Lambda function has,
    /// and it costs every binary ~0.4 MB (STS, profile parsing) and its cold start the
    /// lookups (docs/performance.md, "Changes measured").
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = crate::config::StoreConfig::from_env()?;
        // Without these the SDK waits as long as a hung connection lasts: the client got a
        // 500 after the function's 10 s, and the write could still land after it. Timeouts
        // are retried by the SDK's standard retry policy, within the operation timeout.
        let timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
            .connect_timeout(config.connect_timeout)
            .operation_attempt_timeout(config.attempt_timeout)
            .operation_timeout(config.operation_timeout)
            .build();
        let mut sdk = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new(config.region))
            .credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            )
            .http_client(https_client())
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard())
            .timeout_config(timeouts);
        if let Some(url) = config.endpoint_url {
            sdk = sdk.endpoint_url(url);
        }
        Ok(Self::new(Client::from_conf(sdk.build()), config.table_name)
            .with_feed_shards(config.feed_shards))
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// A transaction action that puts `item` only if its key is new (`attribute_not_exists`):
    /// how every item this store creates inside a transaction is written.
    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(invalid_request)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}
