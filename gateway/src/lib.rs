//! A Docker-free local stand-in for API Gateway (REST API, Lambda proxy integration) and
//! Lambda, driven by the project's SAM template.
//!
//! It runs each function's real binary behind a local Lambda Runtime API (as `sam local`
//! does in containers), routes HTTP requests to them exactly as API Gateway would (Lambda
//! TOKEN authorizer, CORS preflight, gateway responses), and starts DynamoDB Local.
//!
//! The parts are public so tests can reuse them:
//! - [`runtime::LambdaRuntime`] runs functions and [`runtime::LambdaRuntime::invoke`]s them;
//! - [`apigw::Gateway`] is the API Gateway emulation (an axum router), and
//!   [`http_server::serve`] serves a router with header, body and idle timeouts;
//! - [`dynamodb::ensure_table`] creates a table from the template's definition and
//!   [`dynamodb::client_for_endpoint`] builds a client for DynamoDB Local;
//! - [`template::Template`] reads the SAM template.

pub mod apigw;
pub mod cli;
pub mod dynamodb;
pub mod dynamodb_supervisor;
pub mod error;
pub mod header_case;
pub mod http_server;
pub mod invoke_api;
pub mod migrate;
pub mod process;
pub mod runtime;
pub mod seed;
pub mod seed_posts;
pub mod serve;
pub mod template;
pub mod util;
pub mod watch;

pub use dynamodb::{client_for_endpoint, ensure_table};
pub use error::{Error, Result};
pub use runtime::{
    FunctionError, FunctionSpec, InvokeError, InvokeOutcome, InvokeReport, LambdaRuntime,
};
