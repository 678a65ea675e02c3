//! HTTP-level tests of the API contract (`docs/api-contract.md` in the shared docs).
//!
//! One test binary, one module per part of the contract. Every test makes its own users and
//! posts, so they run in parallel against one server; list tests isolate their posts with a
//! unique `search` string. The harness (`tests/harness`) says which server they talk to.

mod auth;
mod content_types;
mod cors;
mod events;
mod login;
mod login_limits;
mod posts_create;
mod posts_delete;
mod posts_get;
mod posts_list;
mod posts_update;
mod repeated_keys;
mod root;
mod routing;
mod sessions;
mod users;
mod votes;
