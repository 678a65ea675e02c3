//! The domain: users, posts and votes as the handlers and the stores speak of them, apart from
//! how DynamoDB keeps them (`store`) and how the API shows them (`models`).
//!
//! Ids and e-mails are newtypes, parsed once at the edge: a [`UserId`] cannot be passed where a
//! [`PostId`] is expected, and an [`Email`] is always a valid, normalised address. What a store
//! answers besides success is a closed enum per operation ([`SignUpError`], [`PostWriteError`],
//! [`VoteError`]); `crate::answers` maps each to the contract's status and `detail`, once.

use crate::validate::normalize_email;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(u64);

        impl $name {
            /// Wraps a raw id. Ids from clients come through `http::path_id` or the request
            /// models, which check the range (1 ..= 2^53 - 1) first.
            pub const fn new(id: u64) -> Self {
                Self(id)
            }

            /// The raw id, for keys and JSON.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A user's server-assigned id (see `ids`).
    UserId
);
id_type!(
    /// A post's server-assigned id (see `ids`), which also orders posts by creation time.
    PostId
);

/// A valid e-mail address with its domain lower-cased (the local part as typed): the form in
/// which an account's e-mail is stored and looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Checks and normalises a client's address; the error is the reason it is invalid.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        normalize_email(raw).map(Self)
    }

    /// An address this system stored or signed itself (an item, the authorizer's context),
    /// taken as it is: it was parsed when the account was made.
    pub fn from_trusted(stored: impl Into<String>) -> Self {
        Self(stored.into())
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bcrypt hash of a password. Its `Debug` never shows it, so it cannot reach a log line.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a hash made by `passwords::Passwords` (or read from the credential item).
    pub fn new(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }

    /// The hash, for bcrypt's verify and the credential item.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A user (no password hash: that lives on the [`Credential`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Server-assigned id.
    pub id: UserId,
    /// Normalised e-mail, unique across users.
    pub email: Email,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// The login record of an e-mail: whose account, and the password's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The account's id.
    pub user_id: UserId,
    /// bcrypt hash of the password.
    pub password_hash: PasswordHash,
}

/// A post with its owner (copied onto the post at creation: users never change, so the copy
/// never goes stale) and its vote count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Server-assigned, time-ordered id.
    pub id: PostId,
    /// May be empty.
    pub title: String,
    /// May be empty.
    pub content: String,
    /// Whether the owner published it (every post is listed either way, as in the course).
    pub published: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// Who wrote it, as of the post's creation.
    pub owner: User,
    /// Number of votes on it.
    pub votes: u64,
}

/// A new post's content, as its owner sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostDraft {
    /// May be empty.
    pub title: String,
    /// May be empty.
    pub content: String,
    /// Whether the post is published.
    pub published: bool,
}

/// What may change on a post (`PUT` sets all three, `PATCH` any subset; `None` keeps).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostChanges {
    /// The title to set (`None` keeps it; `Some("")` empties it).
    pub title: Option<String>,
    /// The content to set (`None` keeps it).
    pub content: Option<String>,
    /// The published flag to set (`None` keeps it).
    pub published: Option<bool>,
}

/// A failure of the store itself, as opposed to a business outcome such as "not found".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out or unreachable after retries (answered 503 with `Retry-After`).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else (answered 500, logged with its cause).
    #[error("store error: {0}")]
    Other(String),
}

/// Why a sign-up did not create an account.
#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    /// Another account already has this e-mail.
    #[error("an account with this e-mail exists")]
    EmailTaken(Email),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a write to a post (`PUT`, `PATCH`, `DELETE`) did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PostWriteError {
    /// No such post (or it is being deleted).
    #[error("no such post")]
    NotFound(PostId),
    /// The post belongs to someone else.
    #[error("the post belongs to someone else")]
    Forbidden(PostId),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a vote (or its removal) did not happen.
#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    /// No such post (checked first).
    #[error("no such post")]
    PostNotFound(PostId),
    /// `dir = 1`, but this user's vote on the post exists.
    #[error("already voted")]
    AlreadyVoted {
        /// The voter.
        user: UserId,
        /// The post.
        post: PostId,
    },
    /// `dir = 0`, but there is no such vote.
    #[error("no such vote")]
    VoteNotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_as_bare_integers() {
        assert_eq!(serde_json::to_string(&UserId::new(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<PostId>("9007199254740991").unwrap(),
            PostId::new(9_007_199_254_740_991)
        );
    }

    #[test]
    fn an_email_is_normalised_once_when_parsed() {
        let email = Email::parse("Ann.Lee@Example.COM").unwrap();
        assert_eq!(email.as_str(), "Ann.Lee@example.com");
        assert!(Email::parse("not an address").is_err());
    }

    #[test]
    fn a_password_hash_never_shows_in_debug_output() {
        let credential = Credential {
            user_id: UserId::new(1),
            password_hash: PasswordHash::new("$2b$12$secret"),
        };
        assert!(!format!("{credential:?}").contains("secret"));
    }
}
