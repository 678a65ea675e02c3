//! Harness of the HTTP-level API tests (`tests/api`).
//!
//! # Which server the tests talk to
//! - `API_BASE_URL` set (e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/Prod`): the tests
//!   run against that deployed stage. Tests that mint their own tokens need the stage's signing
//!   key in `JWT_SECRET`; without it they print why and pass without checking anything. The
//!   Lambda invoke API does not exist there, so the events test is skipped too.
//! - Otherwise the first test to ask starts ONE local gateway for the whole test process
//!   (`target/<profile>/local_gateway`, built by `cargo build --bins`) with a table of its own
//!   (`api-tests-<pid>-<random>`), bcrypt cost 6, and the development-only JWT key of
//!   `sam-local-env.json` (the key the sample events' token is signed with), which the tests
//!   also use to mint tokens. `DYNAMODB_ENDPOINT`, when set, is passed on to the gateway through the
//!   environment; without it the gateway starts its own DynamoDB Local, in memory (nothing
//!   left on disk).
//!
//! # How the gateway is stopped
//! Rust never drops statics, so a guard in a `OnceLock` cannot kill the child at exit. Instead
//! the gateway runs under a tiny `sh` watchdog (see [`WATCHDOG`]) whose stdin is a pipe that
//! only this process holds. When the test process ends, however it ends (normal exit, panic,
//! Ctrl-C, even SIGKILL), the kernel closes that pipe; the watchdog's `read` sees end-of-file
//! and kills the gateway's whole process group (the gateway runs in a session of its own via
//! `setsid`, so its Lambda processes and DynamoDB Local go with it unless they left the group).
//! No unsafe code, no `libc`, and nothing that depends on how the gateway itself handles stdin.
//!
//! # Isolation
//! Every test makes its own users (unique e-mails) and posts, so tests run in parallel on one
//! table. Timing-sensitive tests take [`api_alone`], which waits until no other test of this
//! process is talking to the server and keeps the others waiting while it measures.
//!
//! The gateway's stderr and stdout go to `gateway.log` in the run's temp folder
//! (`$TMPDIR/api-tests-<pid>-<random>/`, pruned after a day); its path is printed once, and
//! the tail of it is shown when the gateway fails to start.

pub mod fault_proxy;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use reqwest::header::HeaderMap;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use jsonwebtoken::Algorithm;
pub use serde_json::{Value, json};

/// Every function of the template: (binary name, SAM logical id).
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("root", "RootFunction"),
    ("create_user", "CreateUserFunction"),
    ("get_user", "GetUserFunction"),
    ("login", "LoginFunction"),
    ("refresh_token", "RefreshTokenFunction"),
    ("logout", "LogoutFunction"),
    ("list_posts", "ListPostsFunction"),
    ("create_post", "CreatePostFunction"),
    ("get_post", "GetPostFunction"),
    ("update_post", "UpdatePostFunction"),
    ("patch_post", "PatchPostFunction"),
    ("delete_post", "DeletePostFunction"),
    ("vote", "VoteFunction"),
    ("docs", "DocsFunction"),
    ("authorizer", "AuthorizerFunction"),
];

/// The largest id the contract allows (ids are below 2^53).
pub const MAX_ID: u64 = (1 << 53) - 1;

/// The `sh` watchdog that owns the gateway. `$@` is the gateway's command line.
///
/// - `setsid` puts the gateway in a process group of its own, so one `kill -TERM -<pgid>` also
///   reaches the processes it starts (dash's `set -m` needs a terminal, `setsid` does not).
/// - `exec >/dev/null` drops the watchdog's copy of the stdout pipe: the harness then sees EOF
///   on stdout when the gateway dies on its own, instead of waiting for the startup timeout.
/// - Signals are ignored after the spawn so a Ctrl-C that reaches our process group cannot kill
///   the watchdog before the gateway (which, in its own group, does not get the Ctrl-C).
/// - `read` returns at EOF of stdin, i.e. when the test process has exited.
pub const WATCHDOG: &str = r#"
if command -v setsid >/dev/null 2>&1; then
  setsid "$@" </dev/null &
else
  "$@" </dev/null &
fi
gw=$!
exec >/dev/null
trap '' INT TERM HUP
while read -r _; do :; done
kill -TERM -"$gw" 2>/dev/null || kill -TERM "$gw" 2>/dev/null
i=0
while [ "$i" -lt 50 ] && kill -0 "$gw" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -KILL -"$gw" 2>/dev/null || kill -KILL "$gw" 2>/dev/null
"#;

// ---------------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------------

/// A running local gateway. Lives in a static for the whole process.
struct LocalGateway {
    api_url: String,
    lambda_url: Option<String>,
    dynamodb_endpoint: Option<String>,
    table: String,
    jwt_secret: String,
    log_path: PathBuf,
    // Held, never written: its end-of-file (at process exit) tells the watchdog to stop the
    // gateway.
    _watchdog_stdin: ChildStdin,
    _watchdog: Child,
}

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

/// The `local_gateway` binary the tests run (also for its `seed` command).
pub fn local_gateway_binary() -> PathBuf {
    bin_dir().join("local_gateway")
}

/// The development-only JWT key: `Parameters.JWT_SECRET` of `sam-local-env.json`, the key the
/// sample events' token is signed with. Never the key of a deployed stack.
pub fn dev_jwt_secret() -> Result<String, String> {
    let path = workspace_root().join("sam-local-env.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("read {path:?}: {e}"))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{path:?} is not JSON: {e}"))?;
    json["Parameters"]["JWT_SECRET"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{path:?} has no Parameters.JWT_SECRET string"))
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

/// The folder that holds the workspace's binaries.
///
/// The test executable itself lives in `<target>/<profile>/deps/`, so its grandparent is the
/// right folder whatever `CARGO_TARGET_DIR` and the profile are. `API_TESTS_BIN_DIR` overrides.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("API_TESTS_BIN_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .filter(|dir| dir.join("local_gateway").is_file())
    {
        return dir;
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_relative() {
                workspace_root().join(dir)
            } else {
                dir
            }
        })
        .unwrap_or_else(|_| workspace_root().join("target"));
    target.join("debug")
}

/// The workspace root (the folder of `template.yaml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `events/` folder of sample events.
pub fn events_dir() -> PathBuf {
    workspace_root().join("events")
}

fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
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

/// How [`start_gateway`] starts a local gateway.
pub struct GatewayOptions<'a> {
    /// Environment of every function (the `--env-vars` file's `"Parameters"`), on top of the
    /// template's.
    pub env_parameters: &'a [(&'a str, &'a str)],
    /// The DynamoDB the gateway and its functions use; `None`: `DYNAMODB_ENDPOINT` from the
    /// environment, else a DynamoDB Local of the gateway's own.
    pub dynamodb_endpoint: Option<&'a str>,
}

/// A local gateway of its own for a test that needs one (e.g. in front of a faulty DynamoDB);
/// it stops when the test process ends, like the shared one.
pub struct OwnGateway(LocalGateway);

impl OwnGateway {
    /// Starts one.
    pub fn start(options: &GatewayOptions) -> Result<Self, String> {
        start_gateway(options).map(Self)
    }

    /// A client of its API.
    pub fn api(&self) -> Api {
        // One short string per gateway, for the rest of the process: Api holds a `'static`.
        let base: &'static str = Box::leak(self.0.api_url.clone().into_boxed_str());
        Api::with_guard(base, Guard::Own)
    }

    /// Its log (stdout and stderr of the gateway and its functions).
    pub fn log_path(&self) -> &Path {
        &self.0.log_path
    }
}

fn start_gateway(options: &GatewayOptions) -> Result<LocalGateway, String> {
    let bin_dir = bin_dir();
    let gateway = bin_dir.join("local_gateway");
    let missing: Vec<&str> = std::iter::once("local_gateway")
        .chain(FUNCTIONS.iter().map(|(bin, _)| *bin))
        .filter(|bin| !bin_dir.join(bin).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing binaries in {}: {}; run `cargo build --bins` first \
             (or set API_BASE_URL to test a deployed stage)",
            bin_dir.display(),
            missing.join(", ")
        ));
    }

    let suffix = format!(
        "{}-{}",
        std::process::id(),
        random_alphanumeric(8).to_lowercase()
    );
    prune_old_work_dirs();
    let work_dir = std::env::temp_dir().join(format!("api-tests-{suffix}"));
    std::fs::create_dir_all(&work_dir).map_err(|e| format!("create {work_dir:?}: {e}"))?;
    // `sam local`'s --env-vars format; "Parameters" applies to every function.
    let env_vars = work_dir.join("env.json");
    let parameters: serde_json::Map<String, Value> = options
        .env_parameters
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    std::fs::write(&env_vars, json!({ "Parameters": parameters }).to_string())
        .map_err(|e| format!("write {env_vars:?}: {e}"))?;
    let log_path = work_dir.join("gateway.log");
    let log = File::create(&log_path).map_err(|e| format!("create {log_path:?}: {e}"))?;
    let table = format!("api-tests-{suffix}");
    // The sample events carry a token signed with this key; the authorizer event can only be
    // allowed when the gateway signs and verifies with it too.
    let jwt_secret = dev_jwt_secret()?;

    let root = workspace_root();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(WATCHDOG)
        .arg("local-gateway-watchdog")
        .arg(&gateway)
        .arg("--template")
        .arg(root.join("template.yaml"))
        .args(["--port", "0", "--lambda-port", "0"])
        .arg("--bin-dir")
        .arg(&bin_dir)
        .args(["--table-name", &table])
        .arg("--env-vars")
        .arg(&env_vars)
        // The stage's throttling (100 req/s) is emulated; parallel tests must never meet it.
        .args([
            "--parameter-overrides",
            "ThrottlingRateLimit=100000",
            "ThrottlingBurstLimit=100000",
        ])
        // Only affects a DynamoDB Local that the gateway starts itself: keep it off the disk.
        .arg("--in-memory");
    if let Some(endpoint) = options.dynamodb_endpoint {
        command.args(["--dynamodb-endpoint", endpoint]);
    }
    let mut child = command
        .current_dir(&root)
        .env("JWT_SECRET", &jwt_secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            log.try_clone().map_err(|e| format!("log file: {e}"))?,
        ))
        .spawn()
        .map_err(|e| format!("spawn {gateway:?} under sh: {e}"))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");

    // Read the ready lines, then keep draining stdout into the log so the gateway never blocks
    // on a full pipe.
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut log = log;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(log, "{line}");
            let _ = lines_tx.send(line);
        }
    });

    let timeout = Duration::from_secs(
        std::env::var("API_TESTS_STARTUP_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(180),
    );
    let started = Instant::now();
    let mut api_url = None;
    let mut lambda_url = None;
    let mut dynamodb_endpoint = None;
    let mut api_seen_at = None;
    loop {
        if api_url.is_some() && lambda_url.is_some() && dynamodb_endpoint.is_some() {
            break;
        }
        // The Lambda and DynamoDB lines come right after the API line; don't wait long for them.
        let deadline = match api_seen_at {
            Some(at) => at + Duration::from_secs(10),
            None => started + timeout,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(endpoint) = line.strip_prefix("DynamoDB endpoint: ") {
                    dynamodb_endpoint = Some(endpoint.trim().to_owned());
                } else if let Some(at) = line.find("Lambda invoke API listening on ") {
                    let url = &line[at + "Lambda invoke API listening on ".len()..];
                    lambda_url = Some(url.trim().trim_end_matches('/').to_owned());
                } else if let Some(at) = line.find("API listening on ") {
                    let url = &line[at + "API listening on ".len()..];
                    api_url = Some(url.trim().trim_end_matches('/').to_owned());
                    api_seen_at = Some(Instant::now());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) if api_url.is_some() => break,
            Err(error) => {
                let why = match error {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("not ready after {} s", timeout.as_secs())
                    }
                    mpsc::RecvTimeoutError::Disconnected => "exited before it was ready".into(),
                };
                return Err(format!(
                    "local gateway {why}; its log ({}) ends with:\n{}",
                    log_path.display(),
                    log_tail(&log_path, 40)
                ));
            }
        }
    }
    let api_url = api_url.expect("loop ends with the API url");
    eprintln!(
        "api_tests: local gateway at {api_url} (Lambda API: {}), table {table}, log {}",
        lambda_url.as_deref().unwrap_or("none"),
        log_path.display()
    );
    Ok(LocalGateway {
        api_url,
        lambda_url,
        dynamodb_endpoint,
        table,
        jwt_secret,
        log_path,
        _watchdog_stdin: stdin,
        _watchdog: child,
    })
}

/// Removes the `api-tests-*` folders of runs older than a day. A run keeps its folder (the
/// gateway's log is what explains a failure), so without this they would pile up in /tmp.
fn prune_old_work_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let day = Duration::from_secs(24 * 3600);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > day);
        if old
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with("api-tests-")
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// Unique data
// ---------------------------------------------------------------------------------------------

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A string no other test (of this or another process) uses: `<prefix><pid><n><random>`.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random: String = random_alphanumeric(6).to_lowercase();
    format!("{prefix}{:x}x{n}{random}", std::process::id())
}

/// A fresh, valid, all-lowercase e-mail address.
pub fn unique_email() -> String {
    format!("{}@example.com", unique("t"))
}

/// An id that no user or post has: ids are time-ordered and far below the top of the range.
pub fn missing_id() -> u64 {
    MAX_ID - rand::rng().random_range(0..1_000_000)
}

/// Unix time now, in seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// An access token signed by the API's key (HS256, `typ: at+jwt`, as login issues them), or
/// `None` when the key is unknown (remote runs without `JWT_SECRET`).
pub fn mint_token(claims: &Value) -> Option<String> {
    mint_typed_token(Some(ACCESS_TOKEN_TYP), claims)
}

/// A token signed by the API's key with any `typ` header (or none).
pub fn mint_typed_token(typ: Option<&str>, claims: &Value) -> Option<String> {
    Some(sign_typed_token(
        Algorithm::HS256,
        typ,
        jwt_secret()?.as_bytes(),
        claims,
    ))
}

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The `iss` of the API's access tokens: `JWT_ISSUER` when set (a deployed stage), else the
/// template's value.
pub fn token_issuer() -> String {
    std::env::var("JWT_ISSUER").unwrap_or_else(|_| "posts-api".into())
}

/// The `aud` of the API's access tokens: `JWT_AUDIENCE` when set, else the template's value.
pub fn token_audience() -> String {
    std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "posts-api".into())
}

/// Valid claims for `user_id`, as login issues them: issued now, expiring in 15 minutes (the
/// API's lifetime is 30), with the API's issuer and audience and a fresh `jti`.
pub fn claims_for(user_id: u64) -> Value {
    let now = now();
    json!({
        "user_id": user_id, "sub": user_id.to_string(), "iat": now, "exp": now + 900,
        "iss": token_issuer(), "aud": token_audience(), "jti": unique("jti"),
    })
}

/// `claims_for(user_id)` with some claims replaced (`null` removes one).
pub fn claims_with(user_id: u64, changes: Value) -> Value {
    let mut claims = claims_for(user_id);
    for (key, value) in changes.as_object().expect("an object of changes") {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

/// A JWT signed with any HMAC algorithm and key, `typ: at+jwt`.
pub fn sign_token(algorithm: Algorithm, key: &[u8], claims: &Value) -> String {
    sign_typed_token(algorithm, Some(ACCESS_TOKEN_TYP), key, claims)
}

/// A JWT signed with any HMAC algorithm and key, and any `typ` header (or none).
pub fn sign_typed_token(
    algorithm: Algorithm,
    typ: Option<&str>,
    key: &[u8],
    claims: &Value,
) -> String {
    let header = jsonwebtoken::Header {
        typ: typ.map(str::to_owned),
        ..jsonwebtoken::Header::new(algorithm)
    };
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .expect("encode a JWT")
}

/// An unsigned `alg: none` JWT (the classic bypass attempt): `header.claims.` with no signature.
pub fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// The claims of a JWT, read without checking anything.
pub fn token_claims(token: &str) -> Value {
    let payload = token
        .split('.')
        .nth(1)
        .unwrap_or_else(|| panic!("not a JWT: {token:?}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("JWT payload is not base64url ({e}): {token:?}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT payload is not JSON ({e})"))
}

/// The header of a JWT, read without checking anything.
pub fn token_header(token: &str) -> Value {
    let header = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("JWT header is not base64url ({e}): {token:?}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT header is not JSON ({e})"))
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A whole answer: status, headers and body text, plus the request it answers (for messages).
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
    /// `METHOD url`, for failure messages.
    pub request: String,
}

impl Resp {
    /// The body as JSON; panics (showing the body) if it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}); status {}, body {:?}",
                self.request, self.status, self.text
            )
        })
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and returns the JSON body (`Value::Null` for an empty body).
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{}: expected status {status}, got {} with body {}",
            self.request, self.status, self.text
        );
        if self.text.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts the status and that the body is exactly `{"detail": detail}`.
    #[track_caller]
    pub fn expect_detail(&self, status: u16, detail: &str) {
        let body = self.expect(status);
        assert_eq!(
            body,
            json!({ "detail": detail }),
            "{}: wrong body for {status}",
            self.request
        );
    }

    /// Asserts a 422 in FastAPI's shape with an error whose `loc` is exactly `loc`.
    #[track_caller]
    pub fn expect_422(&self, loc: &[&str]) {
        let errors = self.expect_validation_error();
        let wanted: Vec<Value> = loc.iter().map(|s| json!(s)).collect();
        assert!(
            errors.iter().any(|e| e["loc"].as_array() == Some(&wanted)),
            "{}: expected a validation error at {loc:?}, got {}",
            self.request,
            self.text
        );
    }

    /// Asserts a 422 in FastAPI's shape (`detail` is a non-empty list of `{loc, msg, type}`
    /// whose `loc` starts with `body`, `query` or `path`) and returns the errors.
    #[track_caller]
    pub fn expect_validation_error(&self) -> Vec<Value> {
        let body = self.expect(422);
        let errors = body["detail"].as_array().cloned().unwrap_or_else(|| {
            panic!(
                "{}: 422 detail must be a list, got {}",
                self.request, self.text
            )
        });
        assert!(
            !errors.is_empty(),
            "{}: 422 with an empty error list",
            self.request
        );
        for error in &errors {
            let loc = error["loc"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: error without a loc list: {error}", self.request));
            assert!(
                matches!(
                    loc.first().and_then(Value::as_str),
                    Some("body" | "query" | "path")
                ),
                "{}: loc must start with body, query or path: {error}",
                self.request
            );
            assert!(
                error["msg"].is_string() && error["type"].is_string(),
                "{}: error needs a string msg and type: {error}",
                self.request
            );
        }
        errors
    }

    /// Asserts 401 with `WWW-Authenticate: Bearer` and the given detail.
    #[track_caller]
    pub fn expect_401(&self, detail: &str) {
        self.expect_detail(401, detail);
        assert_eq!(
            self.header("www-authenticate"),
            Some("Bearer"),
            "{}: a 401 needs `WWW-Authenticate: Bearer`",
            self.request
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

// Shared by ordinary tests, exclusive for timing tests (see `api_alone`). tokio's lock is not
// tied to a runtime, so the per-test runtimes of `#[tokio::test]` can all use it.
static TEST_LOCK: RwLock<()> = RwLock::const_new(());

enum Guard {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
    /// A gateway of the test's own: no other test talks to it.
    Own,
}

/// A request body.
pub enum Body {
    /// No body.
    None,
    /// A JSON body (`Content-Type: application/json`).
    Json(Value),
    /// An HTML form (`application/x-www-form-urlencoded`).
    Form(Vec<(String, String)>),
    /// Any bytes with the given Content-Type.
    Raw(String, &'static str),
}

/// A user made by [`Api::new_user`].
#[derive(Debug, Clone)]
pub struct User {
    /// Server-assigned id.
    pub id: u64,
    /// The e-mail, as the server stored it.
    pub email: String,
    /// The password it was made with.
    pub password: String,
    /// An access token from `POST /login`.
    pub token: String,
    /// The sign-up answer (`{"id", "email", "created_at"}`).
    pub json: Value,
}

/// A client of the API under test. One per test: reqwest's connection pool belongs to the
/// runtime that made it, and every `#[tokio::test]` has a runtime of its own.
pub struct Api {
    /// The HTTP client (no redirects followed: the contract has none).
    pub client: reqwest::Client,
    base: &'static str,
    _guard: Guard,
}

/// A client for an ordinary test (runs in parallel with the others).
pub async fn api() -> Api {
    let base = base_url();
    Api::with_guard(base, Guard::Shared(TEST_LOCK.read().await))
}

/// A client for a timing test: waits until no other test is running and keeps them out until
/// it is dropped, so other tests' load does not skew the measurements.
pub async fn api_alone() -> Api {
    let base = base_url();
    Api::with_guard(base, Guard::Exclusive(TEST_LOCK.write().await))
}

/// A plain HTTP client (no redirects, 60 s timeout, no proxy).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .expect("build the HTTP client")
}

impl Api {
    fn with_guard(base: &'static str, guard: Guard) -> Api {
        Api {
            client: http_client(),
            base,
            _guard: guard,
        }
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request builder for `method path`, for tests that need unusual headers.
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        self.client.request(method, self.url(path))
    }

    /// Sends a prepared request and reads the whole answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let request = request.build().expect("a valid request");
        let description = format!("{} {}", request.method(), request.url());
        let response = self
            .client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{description}: request failed: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{description}: reading the body failed: {e}"));
        Resp {
            status,
            headers,
            text,
            request: description,
        }
    }

    /// `method path` with an optional bearer token and a body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Body) -> Resp {
        let mut request = self.request(method, path);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Form(fields) => request.form(&fields),
            Body::Raw(text, content_type) => {
                request.header("Content-Type", content_type).body(text)
            }
        };
        self.send(request).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call("GET", path, token, Body::None).await
    }

    /// `method path` with a JSON body.
    pub async fn json(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(method, path, token, Body::Json(body)).await
    }

    /// `POST /users`.
    pub async fn signup(&self, email: &str, password: &str) -> Resp {
        self.json(
            "POST",
            "/users",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// `POST /login` with the OAuth2 password-flow form.
    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.login_form(&[("username", email), ("password", password)])
            .await
    }

    /// `POST /login` with any form fields.
    pub async fn login_form(&self, fields: &[(&str, &str)]) -> Resp {
        let fields = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.call("POST", "/login", None, Body::Form(fields)).await
    }

    /// Signs up a fresh user and logs in.
    pub async fn new_user(&self) -> User {
        let email = unique_email();
        let password = format!("pw-{}", unique("p"));
        let json = self.signup(&email, &password).await.expect(201);
        let id = json["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("sign-up id is not a positive integer: {json}"));
        let login = self.login(&email, &password).await.expect(200);
        let token = login["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("login answer without access_token: {login}"))
            .to_owned();
        User {
            id,
            email: json["email"].as_str().unwrap_or(&email).to_owned(),
            password,
            token,
            json,
        }
    }

    /// `POST /posts`.
    pub async fn create_post(&self, token: &str, body: Value) -> Resp {
        self.json("POST", "/posts", Some(token), body).await
    }

    /// Creates a post with this title (and some content) and returns the 201 body.
    pub async fn new_post(&self, user: &User, title: &str) -> Value {
        self.create_post(
            &user.token,
            json!({"title": title, "content": format!("content of {title}")}),
        )
        .await
        .expect(201)
    }

    /// `GET /posts/{id}`.
    pub async fn get_post(&self, token: &str, id: u64) -> Resp {
        self.get(&format!("/posts/{id}"), Some(token)).await
    }

    /// `GET /posts` with query parameters.
    pub async fn list_posts(&self, token: &str, query: &[(&str, &str)]) -> Resp {
        let request = self
            .request("GET", "/posts")
            .query(query)
            .header("Authorization", format!("Bearer {token}"));
        self.send(request).await
    }

    /// The posts whose title contains `search` (limit 100), as the list's JSON array.
    pub async fn search(&self, token: &str, search: &str) -> Vec<Value> {
        let body = self
            .list_posts(token, &[("search", search), ("limit", "100")])
            .await
            .expect(200);
        body.as_array()
            .cloned()
            .unwrap_or_else(|| panic!("GET /posts did not answer a list: {body}"))
    }

    /// `PUT /posts/{id}`.
    pub async fn update_post(&self, token: &str, id: u64, body: Value) -> Resp {
        self.json("PUT", &format!("/posts/{id}"), Some(token), body)
            .await
    }

    /// `PATCH /posts/{id}`.
    pub async fn patch_post(&self, token: &str, id: u64, body: Value) -> Resp {
        self.json("PATCH", &format!("/posts/{id}"), Some(token), body)
            .await
    }

    /// `DELETE /posts/{id}`.
    pub async fn delete_post(&self, token: &str, id: u64) -> Resp {
        self.call("DELETE", &format!("/posts/{id}"), Some(token), Body::None)
            .await
    }

    /// `POST /vote`.
    pub async fn vote(&self, token: &str, post_id: u64, dir: i64) -> Resp {
        self.json(
            "POST",
            "/vote",
            Some(token),
            json!({"post_id": post_id, "dir": dir}),
        )
        .await
    }

    /// The `votes` count of a post, read through `GET /posts/{id}`.
    pub async fn votes_of(&self, token: &str, post_id: u64) -> i64 {
        let body = self.get_post(token, post_id).await.expect(200);
        body["votes"]
            .as_i64()
            .unwrap_or_else(|| panic!("GET /posts/{post_id}: votes is not an integer: {body}"))
    }
}

/// The `id` of a post or user JSON, as a positive integer.
#[track_caller]
pub fn id_of(value: &Value) -> u64 {
    value["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer id in {value}"))
}

/// The sorted key names of a JSON object.
#[track_caller]
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// The median of some durations.
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let n = samples.len();
    if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    }
}
