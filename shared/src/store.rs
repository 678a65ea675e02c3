//! The DynamoDB store: one table, every access a `GetItem`, a `Query` or one
//! `TransactWriteItems`/conditional write. The key layout and each route's calls are written
//! down in `docs/data-model.md`; in short:
//!
//! | item        | pk               | sk            | gsi1 (pk / sk)       |
//! |-------------|------------------|---------------|----------------------|
//! | user        | `USER#<id>`      | `PROFILE`     |                      |
//! | credential  | `EMAIL#<email>`  | `CREDENTIAL`  |                      |
//! | post        | `POST#<id>`      | `POST`        | `POSTS` / `<id>`     |
//! | vote        | `POST#<post_id>` | `VOTE#<uid>`  |                      |
//!
//! Invariants live in the database, so they hold under any concurrency:
//! - one account per e-mail: sign-up puts the user and its credential item in one transaction,
//!   both conditioned on `attribute_not_exists`;
//! - one vote per (user, post) and `votes` = number of vote items: a vote puts/deletes the vote
//!   item and adds ±1 to the post in one transaction;
//! - owner-only edits: every write to a post is conditioned on `owner_id = :caller`.

use crate::error::ApiError;
use crate::ids::new_id;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

mod login_limits;
mod seed;
mod sessions;
pub use login_limits::{KNOWN_SOURCE_SECS, LoginAttempt, LoginGate};
pub use seed::Seeded;
pub use sessions::{RefreshError, RefreshGrant};

type Item = HashMap<String, AttributeValue>;

/// The GSI that lists posts newest first.
pub const POSTS_INDEX: &str = "gsi1";
/// The single partition of [`POSTS_INDEX`] that holds every post.
const POSTS_PARTITION: &str = "POSTS";
/// Vote items deleted per transaction (one more action is the post itself). DynamoDB allows 100
/// actions per transaction, but DynamoDB Local 1.11 (our test server) allows 10; we stay within
/// 10 so the code path we test is the one we deploy. Only deletes of posts with many votes pay
/// for it, with more rounds.
const MAX_VOTES_PER_TRANSACTION: usize = 9;
/// How often a write is retried when DynamoDB cancels it for a conflicting transaction.
const CONFLICT_RETRIES: u32 = 4;

/// A user as stored (no password hash: that lives on the credential item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Server-assigned id.
    pub id: u64,
    /// Normalised e-mail.
    pub email: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// The login record for an e-mail: which user, and the bcrypt hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The account's id.
    pub user_id: u64,
    /// bcrypt hash of the password.
    pub password_hash: String,
}

/// A post with its owner (copied onto the item at creation: users are immutable, so the copy
/// never goes stale) and its vote count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Server-assigned id, time-ordered.
    pub id: u64,
    /// Title.
    pub title: String,
    /// Content.
    pub content: String,
    /// Published flag.
    pub published: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The owner.
    pub owner: User,
    /// Number of vote items of this post.
    pub votes: u64,
}

/// What may change on a post (`PUT` sets all three, `PATCH` any subset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostChanges {
    /// New title.
    pub title: Option<String>,
    /// New content.
    pub content: Option<String>,
    /// New published flag.
    pub published: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
struct UserItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    user: User,
}

#[derive(Debug, Serialize, Deserialize)]
struct CredentialItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    credential: Credential,
}

#[derive(Debug, Serialize, Deserialize)]
struct PostItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: u64,
    id: u64,
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
    owner_id: u64,
    owner_email: String,
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

#[derive(Debug, Serialize, Deserialize)]
struct VoteItem {
    pk: String,
    sk: String,
    post_id: u64,
    user_id: u64,
    created_at: String,
}

fn user_pk(id: u64) -> String {
    format!("USER#{id}")
}
fn email_pk(email: &str) -> String {
    format!("EMAIL#{email}")
}
fn post_pk(id: u64) -> String {
    format!("POST#{id}")
}
fn vote_sk(user_id: u64) -> String {
    format!("VOTE#{user_id}")
}
const USER_SK: &str = "PROFILE";
const CREDENTIAL_SK: &str = "CREDENTIAL";
const POST_SK: &str = "POST";
const VOTE_SK_PREFIX: &str = "VOTE#";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

/// A failure of the store itself (as opposed to a business outcome such as "not found").
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out or unreachable after the SDK's retries (answer 503).
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// Anything else (answer 500).
    #[error("DynamoDB error: {0}")]
    Other(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable(Box::new(e)),
            StoreError::Other(_) => ApiError::Internal(Box::new(e)),
        }
    }
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

/// How a transaction ended.
enum TxOutcome {
    Committed,
    /// Cancelled because of conditions; one code per action, in order (`None` = that action
    /// was fine, `ConditionalCheckFailed` = its condition failed).
    Cancelled(Vec<String>),
}

fn is_conditional_failure(err: &SdkError<impl ProvideErrorMetadata, impl std::fmt::Debug>) -> bool {
    matches!(err, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

/// Outcome of a sign-up.
#[derive(Debug)]
pub enum CreateUserError {
    /// Another account already has this e-mail.
    EmailTaken,
    /// The store failed.
    Store(StoreError),
}

/// Outcome of a write to someone's post.
#[derive(Debug)]
pub enum PostWriteError {
    /// No such post (or it is being deleted).
    NotFound,
    /// The post belongs to someone else.
    Forbidden,
    /// The store failed.
    Store(StoreError),
}

/// Outcome of a vote.
#[derive(Debug)]
pub enum VoteError {
    /// No such post.
    PostNotFound,
    /// `dir = 1` but the vote exists.
    AlreadyVoted,
    /// `dir = 0` but there is no vote.
    VoteNotFound,
    /// The store failed.
    Store(StoreError),
}

impl PostWriteError {
    /// The contract's answer for a failed PUT, PATCH or DELETE of post `id`.
    pub fn answer(self, id: u64) -> ApiError {
        match self {
            Self::NotFound => ApiError::NotFound(format!("post with id: {id} does not exist")),
            Self::Forbidden => {
                ApiError::Forbidden("Not authorized to perform requested action".into())
            }
            Self::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for CreateUserError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}
impl From<StoreError> for PostWriteError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}
impl From<StoreError> for VoteError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The store: a DynamoDB client (built once per container) and the table name.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    /// A store over an existing client.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The store as a function's `main` builds it: `TABLE_NAME` from the environment and the
    /// SDK's default credential, region and endpoint chain (the local gateway points it at
    /// DynamoDB Local with `AWS_ENDPOINT_URL_DYNAMODB`).
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = crate::config::StoreConfig::from_env()?;
        // Without these the SDK waits as long as a hung connection lasts: the client got a
        // 500 after the function's 10 s, and the write could still land after it. Timeouts
        // are retried by the SDK's standard retry policy, within the operation timeout.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(config.connect_timeout)
            .operation_attempt_timeout(config.attempt_timeout)
            .operation_timeout(config.operation_timeout)
            .build();
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .load()
            .await;
        Ok(Self::new(Client::new(&sdk), config.table_name))
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

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<TxOutcome, StoreError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(TxOutcome::Committed),
                Err(err) => err,
            };
            let reasons: Option<Vec<String>> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => Some(
                    e.cancellation_reasons()
                        .iter()
                        .map(|r: &CancellationReason| r.code().unwrap_or("None").to_string())
                        .collect(),
                ),
                _ => None,
            };
            match reasons {
                // A conflict with another transaction on the same items (real DynamoDB only)
                // is not retried by the SDK: retry it here with a short jittered backoff.
                Some(r) if r.iter().any(|c| c == "TransactionConflict") => {
                    attempt += 1;
                    if attempt > CONFLICT_RETRIES {
                        return Err(StoreError::Unavailable(
                            "transaction conflict persisted after retries".into(),
                        ));
                    }
                    let jitter = rand::random_range(0..20u64);
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter))
                        .await;
                }
                Some(r) if r.iter().any(|c| c == "ConditionalCheckFailed") => {
                    return Ok(TxOutcome::Cancelled(r));
                }
                _ => return Err(classify(err)),
            }
        }
    }

    // ----- users -------------------------------------------------------------------------

    /// Creates an account: the user item and the e-mail's credential item in one
    /// transaction, so an e-mail can never have two accounts, whatever the concurrency.
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
    ) -> Result<User, CreateUserError> {
        loop {
            let user = User {
                id: new_id(),
                email: email.to_string(),
                created_at: crate::time::now_rfc3339(),
            };
            match self.put_user_and_credential(&user, password_hash).await? {
                TxOutcome::Committed => return Ok(user),
                TxOutcome::Cancelled(reasons) => {
                    if reasons.get(1).map(String::as_str) == Some("ConditionalCheckFailed") {
                        return Err(CreateUserError::EmailTaken);
                    }
                    // Only the id collided (same millisecond, same random bits): new id.
                }
            }
        }
    }

    /// The sign-up transaction: the user item and its e-mail's credential item, each only if
    /// absent (index 0 is the user, 1 the credential in the cancellation reasons).
    async fn put_user_and_credential(
        &self,
        user: &User,
        password_hash: &str,
    ) -> Result<TxOutcome, StoreError> {
        let user_item = to_item(&UserItem {
            pk: user_pk(user.id),
            sk: USER_SK.into(),
            user: user.clone(),
        })?;
        let credential_item = to_item(&CredentialItem {
            pk: email_pk(&user.email),
            sk: CREDENTIAL_SK.into(),
            credential: Credential {
                user_id: user.id,
                password_hash: password_hash.to_string(),
            },
        })?;
        self.transact(vec![
            self.put_new(user_item)?,
            self.put_new(credential_item)?,
        ])
        .await
    }

    /// One user by id (one strongly consistent `GetItem`).
    pub async fn get_user(&self, id: u64) -> Result<Option<User>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(id), USER_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item
            .map(|i| from_item::<UserItem>(i).map(|u| u.user))
            .transpose()
    }

    /// The credential for an e-mail (one `GetItem`: login needs nothing else).
    pub async fn get_credential(&self, email: &str) -> Result<Option<Credential>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(email_pk(email), CREDENTIAL_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item
            .map(|i| from_item::<CredentialItem>(i).map(|c| c.credential))
            .transpose()
    }

    // ----- posts -------------------------------------------------------------------------

    /// Creates a post owned by `owner` (one conditional `PutItem`).
    pub async fn create_post(
        &self,
        owner: &User,
        title: String,
        content: String,
        published: bool,
    ) -> Result<Post, StoreError> {
        loop {
            let post = Post {
                id: new_id(),
                title: title.clone(),
                content: content.clone(),
                published,
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

    /// Puts `post` (with its index keys and no votes: `post.votes` is not read) unless an item
    /// with its key exists; false if one did.
    async fn put_new_post(&self, post: &Post) -> Result<bool, StoreError> {
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

    async fn get_post_item(&self, id: u64) -> Result<Option<PostItem>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(post_pk(id), POST_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item.map(from_item::<PostItem>).transpose()
    }

    /// One post by id (one `GetItem`); a post being deleted is already gone.
    pub async fn get_post(&self, id: u64) -> Result<Option<Post>, StoreError> {
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
    pub async fn list_posts(
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

    /// Why a conditional write to post `id` by `caller` failed: read it once to tell
    /// "does not exist" (checked first) from "not yours".
    async fn explain_post_write_failure(&self, id: u64, caller: u64) -> PostWriteError {
        match self.get_post_item(id).await {
            Ok(Some(p)) if !p.deleting && p.owner_id != caller => PostWriteError::Forbidden,
            Ok(Some(p)) if !p.deleting => {
                PostWriteError::Store(StoreError::Other("post write failed its condition".into()))
            }
            Ok(_) => PostWriteError::NotFound,
            Err(e) => PostWriteError::Store(e),
        }
    }

    /// Changes a post of `caller`'s (one conditional `UpdateItem`; on failure one `GetItem`
    /// to say why). With no change at all it only reads and checks.
    pub async fn update_post(
        &self,
        id: u64,
        caller: u64,
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
                Some(p) if !p.deleting => Err(PostWriteError::Forbidden),
                _ => Err(PostWriteError::NotFound),
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
            .set_key(Some(key(post_pk(id), POST_SK)))
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
    pub async fn delete_post(&self, id: u64, caller: u64) -> Result<(), PostWriteError> {
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(post_pk(id), POST_SK)))
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
                    Some(p) if p.owner_id != caller => PostWriteError::Forbidden,
                    _ => PostWriteError::NotFound,
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
                    .set_key(Some(key(post_pk(id), POST_SK)))
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
                    .set_key(Some(key(post_pk(id), POST_SK)))
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
                TxOutcome::Cancelled(reasons) => {
                    if reasons.first().map(String::as_str) == Some("ConditionalCheckFailed")
                        && self.get_post_item(id).await?.is_none()
                    {
                        return Err(PostWriteError::NotFound);
                    }
                }
            }
        }
        Err(StoreError::Unavailable("delete did not converge".into()).into())
    }

    // ----- votes -------------------------------------------------------------------------

    /// The post half of a vote transaction: `votes + delta`, only on a post that exists and is
    /// not being deleted (so its cancellation means "no such post").
    fn bump_votes(&self, post_id: u64, delta: i64) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(post_pk(post_id), POST_SK)))
            .update_expression("ADD #votes :delta")
            .expression_attribute_names("#votes", "votes")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .expression_attribute_values(":delta", n(delta))
            .build()
            .map_err(invalid_request)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Runs a vote transaction `[bump_votes, vote item action]` and says which condition failed.
    async fn vote_transaction(
        &self,
        actions: Vec<TransactWriteItem>,
        vote_failed: VoteError,
    ) -> Result<(), VoteError> {
        match self.transact(actions).await? {
            TxOutcome::Committed => Ok(()),
            TxOutcome::Cancelled(r) if r[0] == "ConditionalCheckFailed" => {
                Err(VoteError::PostNotFound)
            }
            TxOutcome::Cancelled(_) => Err(vote_failed),
        }
    }

    /// Adds `user_id`'s vote on `post_id`: the vote item and `votes + 1` in one transaction.
    pub async fn add_vote(&self, post_id: u64, user_id: u64) -> Result<(), VoteError> {
        let vote = to_item(&VoteItem {
            pk: post_pk(post_id),
            sk: vote_sk(user_id),
            post_id,
            user_id,
            created_at: crate::time::now_rfc3339(),
        })?;
        let actions = vec![self.bump_votes(post_id, 1)?, self.put_new(vote)?];
        self.vote_transaction(actions, VoteError::AlreadyVoted)
            .await
    }

    /// Removes `user_id`'s vote on `post_id`: the vote item and `votes - 1` in one transaction.
    pub async fn remove_vote(&self, post_id: u64, user_id: u64) -> Result<(), VoteError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(post_pk(post_id), &vote_sk(user_id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(invalid_request)?;
        let actions = vec![
            self.bump_votes(post_id, -1)?,
            TransactWriteItem::builder().delete(delete).build(),
        ];
        self.vote_transaction(actions, VoteError::VoteNotFound)
            .await
    }

    /// Number of vote items of a post, counted with a `Query` (for tests and audits; no
    /// request path uses it).
    pub async fn count_vote_items(&self, post_id: u64) -> Result<u64, StoreError> {
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
