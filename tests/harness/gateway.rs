//! Starting a local gateway (`target/<profile>/local_gateway`) for the tests, and stopping
//! it when the test process ends.
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
//! The gateway's stderr and stdout go to `gateway.log` in the run's temp folder
//! (`$TMPDIR/api-tests-<pid>-<random>/`, pruned after a day); its path is printed once, and
//! the tail of it is shown when the gateway fails to start.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{Api, Guard};
use crate::data::random_alphanumeric;
use crate::routes::functions;
use crate::workspace::{bin_dir, dev_jwt_secret, workspace_root};

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

/// A running local gateway. Lives in a static for the whole process.
pub(crate) struct LocalGateway {
    pub(crate) api_url: String,
    pub(crate) lambda_url: Option<String>,
    pub(crate) dynamodb_endpoint: Option<String>,
    pub(crate) table: String,
    pub(crate) jwt_secret: String,
    pub(crate) log_path: PathBuf,
    // Held, never written: its end-of-file (at process exit) tells the watchdog to stop the
    // gateway.
    _watchdog_stdin: ChildStdin,
    _watchdog: Child,
}

/// How a local gateway is started: the shared one, or one of a test's own
/// ([`OwnGateway::start`]).
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

pub(crate) fn start_gateway(options: &GatewayOptions) -> Result<LocalGateway, String> {
    let bin_dir = bin_dir();
    let gateway = bin_dir.join("local_gateway");
    let missing: Vec<&str> = std::iter::once("local_gateway")
        .chain(functions())
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
    // Kept after the run on purpose (its gateway log explains a failure); see
    // `prune_old_work_dirs` for how old ones go.
    let work_dir = tempfile::Builder::new()
        .prefix(&format!("api-tests-{suffix}-"))
        .tempdir()
        .map_err(|e| format!("create a work folder: {e}"))?
        .keep();
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
