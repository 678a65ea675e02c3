//! Harness of the HTTP-level API tests (`tests/api`) and the fault tests (`tests/faults`).
//!
//! Everything is re-exported at the top, so a test file needs only `use api_tests::*;`.
//!
//! - [`target`]: which server the tests talk to (a local gateway or `API_BASE_URL`).
//! - [`gateway`]: starting and stopping local gateways (the shared one, or one of a test's own).
//! - [`client`]: the API client ([`Api`]), one helper per route, [`api`] and [`api_alone`].
//! - [`response`]: [`Resp`], an answer, with its assertions.
//! - [`tokens`]: tokens the tests mint, sign or read.
//! - [`data`]: unique strings, e-mails and ids.
//! - [`routes`]: the functions and routes of the template.
//! - [`workspace`]: the workspace's folders and binaries.
//! - [`fault_proxy`]: a proxy that breaks DynamoDB on demand (`tests/faults`).

pub mod client;
pub mod data;
pub mod fault_proxy;
pub mod gateway;
pub mod response;
pub mod routes;
pub mod target;
pub mod tokens;
pub mod workspace;

pub use jsonwebtoken::Algorithm;
pub use serde_json::{Value, json};

pub use client::*;
pub use data::*;
pub use gateway::*;
pub use response::*;
pub use routes::*;
pub use target::*;
pub use tokens::*;
pub use workspace::*;
