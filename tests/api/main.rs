//! HTTP-level tests of the API contract (`docs/api-contract.md` in the shared docs).
//!
//! # Where a test lives
//! - One file per route, named after the route's crate in `functions/` (`create_post.rs` tests
//!   `functions/create_post`, i.e. `POST /posts`), so `cargo test -p api_tests create_post`
//!   runs a route's tests and nothing else. A test that needs a second route only to set up
//!   or read back (a post to vote on, a vote count read through `GET /posts/{id}`) belongs to
//!   the route it is about. Tests that send both `PUT` and `PATCH` are in `update_post.rs`,
//!   named `put_and_patch_*`. `functions/authorizer` has no route: its behaviour is
//!   `cross_cutting/auth.rs`; `functions/docs` is checked by `cross_cutting/events.rs`
//!   (its sample event) and by the browser test (`tests/browser`), so it has no file here.
//! - `cross_cutting/`: rules that hold across routes (authentication, CORS, routing
//!   conventions, content types, repeated keys, failed-login limits, the sample events). Where
//!   they cover every route, they loop over the harness's one route list (`api_tests::ROUTES`,
//!   `tests/harness/routes.rs`, checked against `template.yaml`), so a new route is covered
//!   without editing them.
//!
//! # How tests are named
//! A test's name is the sentence it checks: subject first, then what the API does, then the
//! condition if any (`put_on_an_unknown_post_is_404_does_not_exist`,
//! `a_token_signed_with_another_key_is_401`); no `test_` prefix, no `when_`/`after_` opening.
//!
//! # Isolation
//! One test binary, one module per route or rule. Every test makes its own users and posts,
//! so they run in parallel against one server; list tests isolate their posts with a unique
//! `search` string. The harness (`tests/harness`) says which server they talk to.

mod create_post;
mod create_user;
mod delete_post;
mod get_post;
mod get_user;
mod list_posts;
mod login;
mod logout;
mod patch_post;
mod refresh_token;
mod root;
mod update_post;
mod vote;

/// Rules that hold across routes, one file per rule.
mod cross_cutting {
    mod auth;
    mod content_types;
    mod cors;
    mod events;
    mod login_limits;
    mod repeated_keys;
    mod routing;
}
