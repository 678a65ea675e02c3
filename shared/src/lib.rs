//! What two or more functions of the Posts API need.
//!
//! - [`config`]: settings read once from the environment, failing fast with the variable's name.
//! - [`error`]: the one [`ApiError`](error::ApiError) and its one mapping to status + JSON `detail`.
//! - [`http`]: request parsing at the edge (bodies, path ids, the caller) and the Lambda entry point.
//! - [`validate`]: FastAPI-shaped (422) validation of JSON bodies, field by field.
//! - [`models`]: request and response types, kept apart from the storage items in [`store`].
//! - [`form`]: HTML form bodies (url-encoded or multipart) read by their `Content-Type`.
//! - [`auth`]: JWT issue/verify (HS256 only, every claim checked) and refresh tokens.
//! - [`passwords`]: bcrypt hashing off the async executor, and the constant dummy hash.
//! - [`domain`]: users, posts, votes, the id and e-mail newtypes, and each store outcome.
//! - [`ports`]: the store as handlers see it, one small trait per aggregate.
//! - [`answers`]: every contract `detail` string, and each store outcome mapped to an answer.
//! - [`store`]: the DynamoDB store (implements every port); its key design is in
//!   `docs/data-model.md`.
//! - `memory` (feature `memory`): an in-memory store for handler unit tests.
//! - `testing` (feature `memory`): requests as API Gateway sends them, and their answers read
//!   back, for those tests.
//! - [`session`]: the token pairs (access + refresh) that login and refresh answer.
//! - [`openapi`]: the error answers and names that every handler's OpenAPI annotation shares.
//! - [`cursor`]: the opaque paging cursor of `GET /posts`, bound to its search.
//! - [`ids`]: server-assigned, time-ordered integer ids that are safe in JavaScript.

pub mod answers;
pub mod auth;
pub mod config;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod form;
pub mod http;
pub mod ids;
#[cfg(any(test, feature = "memory"))]
pub mod memory;
pub mod models;
pub mod openapi;
pub mod passwords;
pub mod ports;
pub mod session;
pub mod store;
#[cfg(any(test, feature = "memory"))]
pub mod testing;
pub mod time;
pub mod validate;

pub use error::{ApiError, FieldError};
