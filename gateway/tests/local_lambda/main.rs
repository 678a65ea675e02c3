//! The local Lambda service and the gateway, end to end, with real processes.
//!
//! The "function binary" is this test executable itself, re-run with `LGW_FAKE_RUNTIME=1` so
//! that only [`fake_lambda_runtime`] runs: a tiny custom runtime that speaks the Lambda
//! Runtime API over HTTP (`next`, `response`, `error`, `init/error`) and behaves as the event
//! asks (echo, fail, crash, sleep, answer a policy). No function crate, no DynamoDB needed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fake_bin_dir as fake_bins, project_template};
use fake_runtime::*;
use local_gateway::apigw::Gateway;
use local_gateway::runtime::{FunctionSpec, InvokeError, InvokeOutcome, LambdaRuntime};
use local_gateway::template::{ResolveOptions, Template};
use serde_json::{Value, json};
use support::*;

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod fake_runtime;
mod gateway;
mod invoke;
mod support;

// -------------------------------------------------------------------------------------------
// The fake function: a custom runtime written against the Runtime API.
// -------------------------------------------------------------------------------------------

/// Not a test: the body of the fake function processes (does nothing in a normal test run).
#[test]
fn fake_lambda_runtime() {
    if std::env::var("LGW_FAKE_RUNTIME").is_err() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(fake_runtime_loop());
    std::process::exit(0);
}
