//! The fake function's DynamoDB check, and the `local_gateway` binary run with fake functions.

use super::*;

/// DescribeTable of `$TABLE_NAME` at `$AWS_ENDPOINT_URL_DYNAMODB`: 200 when it answers, 503
/// when DynamoDB cannot be reached, 500 for any other error (e.g. no such table).
pub(crate) async fn describe_table() -> (u16, Value) {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let config = local_gateway::client_for_endpoint(&env("AWS_ENDPOINT_URL_DYNAMODB"))
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    match client
        .describe_table()
        .table_name(env("TABLE_NAME"))
        .send()
        .await
    {
        Ok(out) => {
            let status = out.table().and_then(|t| t.table_status());
            (200, json!({"status": status.map(|s| s.as_str())}))
        }
        Err(e) => match e.as_service_error() {
            Some(se) => (500, json!({"error": se.to_string()})),
            None => (503, json!({"detail": "Service Unavailable"})),
        },
    }
}

// -------------------------------------------------------------------------------------------
// The gateway binary
// -------------------------------------------------------------------------------------------

/// A bin dir where every function of the template is [`fake_function`](super::fake_function),
/// with the env file that makes it one.
pub(crate) fn fake_bin_dir() -> tempfile::TempDir {
    let dir = common::fake_bin_dir("fake_function");
    std::fs::write(
        dir.path().join("env.json"),
        r#"{"Parameters": {"LGW_FAKE_RUNTIME": "1"}}"#,
    )
    .expect("env file");
    dir
}

/// A running `local_gateway` binary and its stderr lines so far.
pub(crate) struct Gateway {
    pub(crate) child: Child,
    pub(crate) api: String,
    pub(crate) ddb_endpoint: String,
    pub(crate) log: Arc<Mutex<Vec<String>>>,
    _bins: tempfile::TempDir,
}

impl Gateway {
    pub(crate) fn start(extra: &[&str]) -> Gateway {
        use std::io::BufRead;
        let bins = fake_bin_dir();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_local_gateway"))
            .args(["--template", &project_template(), "--port", "0"])
            .arg("--bin-dir")
            .arg(bins.path())
            .arg("--env-vars")
            .arg(bins.path().join("env.json"))
            .args(extra)
            .env_remove("DYNAMODB_ENDPOINT")
            .env("JWT_SECRET", "test-secret")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start local_gateway");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stderr, lines) = (child.stderr.take().expect("stderr"), log.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                eprintln!("{line}");
                lines.lock().unwrap().push(line);
            }
        });
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut next = |prefix: &str| {
            let line = out
                .next()
                .and_then(Result::ok)
                .unwrap_or_else(|| panic!("gateway stopped: {}", log.lock().unwrap().join("\n")));
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{line}"))
                .to_string()
        };
        let api = next("API listening on ");
        let ddb_endpoint = next("DynamoDB endpoint: ");
        Gateway {
            child,
            api,
            ddb_endpoint,
            log,
            _bins: bins,
        }
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// The first stderr line containing `what`, waiting up to `within` for it.
    pub(crate) async fn log_line(&self, what: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(l) = self.log.lock().unwrap().iter().find(|l| l.contains(what)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {what:?} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /?action=ddb`: the fake function's DynamoDB call.
    pub(crate) async fn ddb_status(&self, http: &reqwest::Client) -> u16 {
        let r = http
            .get(format!("{}/?action=ddb", self.api))
            .send()
            .await
            .expect("GET /?action=ddb");
        r.status().as_u16()
    }

    /// Polls `GET /?action=ddb` until it is 200.
    pub(crate) async fn wait_ddb_ok(&self, http: &reqwest::Client, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let s = self.ddb_status(http).await;
            if s == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "still {s} after {within:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then the exit status.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().expect("wait")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number in "(pid N)".
pub(crate) fn pid_in(line: &str) -> i32 {
    line.split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

pub(crate) fn process_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

pub(crate) async fn wait_gone(pid: i32) {
    for _ in 0..200 {
        if !process_exists(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("process {pid} is still there");
}

pub(crate) fn java_available() -> bool {
    std::process::Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
