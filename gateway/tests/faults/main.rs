//! The local gateway under faults: slow-loris, stalled and idle clients, and its DynamoDB going
//! away (its own DynamoDB Local killed, an outside endpoint unreachable).
//!
//! The server tests run `local_gateway::http_server::serve` in process with short timeouts.
//! The DynamoDB tests run the binary with fake functions: this test executable re-run with
//! `LGW_FAKE_RUNTIME=1` ([`fake_function`]), which answers `GET /?action=ddb` with what its
//! own DynamoDB client says about the table (503 when DynamoDB cannot be reached, as the real
//! functions answer) and anything else with 200. (The two slow DynamoDB tests are in a module
//! named to sort first: libtest starts tests in name order, so they overlap the short ones.)

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use common::project_template;
use local_gateway::http_server::{Timeouts, serve};
use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "../common/mod.rs"]
mod common;

mod dynamodb_outages;
mod server_timeouts;
use server_timeouts::slow_loris;
mod support;

/// Not a test: the body of the fake function processes (does nothing in a normal test run).
#[test]
fn fake_function() {
    if std::env::var("LGW_FAKE_RUNTIME").is_err() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API");
        let base = format!("http://{api}/2018-06-01/runtime");
        let http = reqwest::Client::new();
        loop {
            let Ok(next) = http.get(format!("{base}/invocation/next")).send().await else {
                std::process::exit(2);
            };
            let id = next
                .headers()
                .get("lambda-runtime-aws-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let event: Value = next.json().await.unwrap_or(Value::Null);
            let action = event.pointer("/queryStringParameters/action");
            let (status, body) = if action.and_then(Value::as_str) == Some("ddb") {
                describe_table().await
            } else {
                (200, json!({"ok": true}))
            };
            let answer = json!({"statusCode": status, "body": body.to_string()});
            let _ = http
                .post(format!("{base}/invocation/{id}/response"))
                .json(&answer)
                .send()
                .await;
        }
    });
    std::process::exit(0);
}
