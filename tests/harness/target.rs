//! Which server the tests talk to, and what they know about it.
//!
//! - `API_BASE_URL` set (e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/Prod`): the tests
//!   run against that deployed stage. Tests that mint their own tokens need the stage's signing
//!   key in `JWT_SECRET`; without it they print why and pass without checking anything. The
//!   Lambda invoke API does not exist there, so the events test is skipped too.
//! - Otherwise the first test to ask starts ONE local gateway for the whole test process
//!   (`target/<profile>/local_gateway`, built by `cargo build --bins`) with a table of its own
//!   (`api-tests-<pid>-<random>`), bcrypt cost 6, and the development-only JWT key of
//!   `sam-local-env.json` (the key the sample events' token is signed with), which the tests
//!   also use to mint tokens. `DYNAMODB_ENDPOINT`, when set, is passed on to the gateway
//!   through the environment; without it the gateway starts its own DynamoDB Local, in memory
//!   (nothing left on disk).

use std::path::Path;
use std::sync::OnceLock;

use crate::gateway::{GatewayOptions, LocalGateway, start_gateway};

enum Target {
    Local(LocalGateway),
    Remote {
        base_url: String,
        jwt_secret: Option<String>,
    },
}

static TARGET: OnceLock<Result<Target, String>> = OnceLock::new();

fn target() -> &'static Target {
    let target = TARGET.get_or_init(|| match std::env::var("API_BASE_URL") {
        Ok(url) if !url.trim().is_empty() => Ok(Target::Remote {
            base_url: url.trim().trim_end_matches('/').to_owned(),
            jwt_secret: std::env::var("JWT_SECRET").ok().filter(|s| !s.is_empty()),
        }),
        _ => start_local_gateway().map(Target::Local),
    });
    match target {
        Ok(target) => target,
        // Every test fails with the same message; the gateway is started only once.
        Err(message) => panic!("{message}"),
    }
}

/// Base URL of the API, without a trailing slash (`http://127.0.0.1:PORT` or the stage URL).
pub fn base_url() -> &'static str {
    match target() {
        Target::Local(gw) => &gw.api_url,
        Target::Remote { base_url, .. } => base_url,
    }
}

/// True when the tests run against the local gateway (not `API_BASE_URL`).
pub fn is_local() -> bool {
    matches!(target(), Target::Local(_))
}

/// Base URL of the gateway's Lambda invoke API (`sam local start-lambda`'s), local runs only.
pub fn lambda_invoke_url() -> Option<&'static str> {
    match target() {
        Target::Local(gw) => gw.lambda_url.as_deref(),
        Target::Remote { .. } => None,
    }
}

/// The DynamoDB the local gateway uses (it prints it when ready), local runs only.
pub fn dynamodb_endpoint() -> Option<&'static str> {
    match target() {
        Target::Local(gw) => gw.dynamodb_endpoint.as_deref(),
        Target::Remote { .. } => None,
    }
}

/// The local gateway's table (`api-tests-<pid>-<random>`), local runs only.
pub fn table_name() -> Option<&'static str> {
    match target() {
        Target::Local(gw) => Some(&gw.table),
        Target::Remote { .. } => None,
    }
}

/// The secret that signs access tokens, when the tests know it.
pub fn jwt_secret() -> Option<&'static str> {
    match target() {
        Target::Local(gw) => Some(&gw.jwt_secret),
        Target::Remote { jwt_secret, .. } => jwt_secret.as_deref(),
    }
}

/// Where the local gateway's output goes.
pub fn gateway_log() -> Option<&'static Path> {
    match target() {
        Target::Local(gw) => Some(&gw.log_path),
        Target::Remote { .. } => None,
    }
}

/// The JWT secret, or `None` after printing why the calling test checks nothing.
pub fn secret_or_skip(test: &str) -> Option<&'static str> {
    let secret = jwt_secret();
    if secret.is_none() {
        println!(
            "SKIPPED {test}: it mints its own tokens, which needs the stage's signing key in \
             JWT_SECRET (API_BASE_URL is set, JWT_SECRET is not)"
        );
    }
    secret
}

fn start_local_gateway() -> Result<LocalGateway, String> {
    // Cost 6 keeps sign-ups and logins fast while still running real bcrypt. DynamoDB calls get
    // more time than in production (2 s): on a loaded 2-core CI machine DynamoDB Local can
    // stall for longer than that, and these tests are about the contract, not about faults
    // (tests/faults runs with the template's own timeouts).
    start_gateway(&GatewayOptions {
        env_parameters: &[
            ("BCRYPT_COST", "6"),
            ("DYNAMODB_OPERATION_TIMEOUT_MS", "10000"),
            ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "5000"),
            // Every test here logs in from 127.0.0.1, and some fail on purpose many times (the
            // timing test: 132 failed logins of one account): the failed-login counters still
            // run, but under limits no test meets. tests/api/cross_cutting/login_limits.rs checks
            // the limits on a gateway of its own, with small ones.
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT_SOURCE", "1000000"),
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "1000000"),
            ("LOGIN_MAX_FAILURES_PER_SOURCE", "1000000"),
        ],
        dynamodb_endpoint: None,
    })
}
