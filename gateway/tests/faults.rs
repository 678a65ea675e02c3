//! The local gateway under faults: slow-loris, stalled and idle clients, and its DynamoDB going
//! away (its own DynamoDB Local killed, an outside endpoint unreachable).
//!
//! The server tests run `local_gateway::http_server::serve` in process with short timeouts.
//! The DynamoDB tests run the binary with fake functions: this test executable re-run with
//! `LGW_FAKE_RUNTIME=1` ([`fake_function`]), which answers `GET /?action=ddb` with what its
//! own DynamoDB client says about the table (503 when DynamoDB cannot be reached, as the real
//! functions answer) and anything else with 200. (The two slow DynamoDB tests are named to
//! sort first: libtest starts tests in name order, so they overlap the short ones.)

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
use local_gateway::http_server::{Timeouts, serve};
use local_gateway::template::{ResolveOptions, Template};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// -------------------------------------------------------------------------------------------
// The HTTP server's timeouts, in process
// -------------------------------------------------------------------------------------------

const SHORT: Timeouts = Timeouts {
    header_read: Duration::from_millis(300),
    body_read: Duration::from_millis(300),
    idle: Duration::from_millis(800),
};

async fn server(timeouts: Timeouts) -> SocketAddr {
    let router = Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                // Longer than every timeout of SHORT.
                tokio::time::sleep(Duration::from_millis(700)).await;
                "slow"
            }),
        )
        .route("/echo", post(|body: Bytes| async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener, router, timeouts, "test"));
    addr
}

/// Reads one response; returns its status line and body.
async fn read_response(s: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                return (head.lines().next().unwrap_or_default().to_string(), body);
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("a response within 5 s")
            .expect("read");
        assert!(
            n > 0,
            "closed before a full response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// How long until the server closes `s` (we send nothing more), or `None` within `give_up`.
async fn closed_after(s: &mut TcpStream, since: Instant, give_up: Duration) -> Option<Duration> {
    let mut chunk = [0u8; 1024];
    match tokio::time::timeout(give_up, s.read(&mut chunk)).await {
        Err(_) => None,
        Ok(Ok(0) | Err(_)) => Some(since.elapsed()),
        Ok(Ok(n)) => panic!(
            "unexpected bytes: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
    }
}

/// A slow-loris client: sends a request's headers one byte every 50 ms, never finishing them.
/// Returns how long the server kept the connection, or `None` if it was still open after
/// `give_up`.
async fn slow_loris(addr: &str, give_up: Duration) -> Option<Duration> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let start = Instant::now();
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut chunk = [0u8; 1024];
    for i in 0.. {
        if start.elapsed() > give_up {
            return None;
        }
        if s.write_all(&[head.get(i).copied().unwrap_or(b'a')])
            .await
            .is_err()
        {
            return Some(start.elapsed());
        }
        match tokio::time::timeout(Duration::from_millis(50), s.read(&mut chunk)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(n)) => panic!(
                "unexpected bytes: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
        }
    }
    unreachable!()
}

#[tokio::test]
async fn a_slow_loris_client_is_disconnected_after_the_header_read_timeout() {
    let addr = server(SHORT).await.to_string();
    let held = slow_loris(&addr, Duration::from_secs(5))
        .await
        .expect("still connected after 5 s of dribbled headers");
    // The clock starts at the first byte and more bytes do not reset it.
    assert!(held >= Duration::from_millis(250), "{held:?}");
    assert!(held < Duration::from_millis(2500), "{held:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_and_not_before() {
    let addr = server(SHORT).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    s.write_all(get).await.expect("write");
    assert_eq!(read_response(&mut s).await.0, "HTTP/1.1 200 OK");
    // Idle for less than the idle timeout, but longer than the header timeout: still open.
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.write_all(get).await.expect("write");
    assert_eq!(read_response(&mut s).await.0, "HTTP/1.1 200 OK");
    let idle_since = Instant::now();
    let after = closed_after(&mut s, idle_since, Duration::from_secs(5))
        .await
        .expect("an idle connection open after 5 s");
    assert!(after >= Duration::from_millis(700), "{after:?}");

    // A connection that never sends anything is idle too.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let after = closed_after(&mut s, Instant::now(), Duration::from_secs(5))
        .await
        .expect("a silent connection open after 5 s");
    assert!(after >= Duration::from_millis(700), "{after:?}");
}

#[tokio::test]
async fn a_request_body_that_stalls_is_cut_off_after_the_body_read_timeout() {
    let addr = server(SHORT).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .expect("write");
    assert_eq!(
        read_response(&mut s).await,
        ("HTTP/1.1 200 OK".to_string(), "hello".to_string())
    );
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        .await
        .expect("write");
    let start = Instant::now();
    let after = closed_after(&mut s, start, Duration::from_secs(5))
        .await
        .expect("a stalled body still open after 5 s");
    assert!(after >= Duration::from_millis(250), "{after:?}");
}

#[tokio::test]
async fn a_slow_handler_is_not_cut_off_by_any_timeout() {
    let addr = server(SHORT).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        read_response(&mut s).await,
        ("HTTP/1.1 200 OK".to_string(), "slow".to_string())
    );
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_response(&mut s).await.0, "HTTP/1.1 200 OK");
}

// -------------------------------------------------------------------------------------------
// The fake function
// -------------------------------------------------------------------------------------------

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

/// DescribeTable of `$TABLE_NAME` at `$AWS_ENDPOINT_URL_DYNAMODB`: 200 when it answers, 503
/// when DynamoDB cannot be reached, 500 for any other error (e.g. no such table).
async fn describe_table() -> (u16, Value) {
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

fn project_template() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml").to_string()
}

/// A temporary folder, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(prefix: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "lgw-faults-{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bin dir where every function of the template is [`fake_function`].
fn fake_bin_dir() -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("bins");
    let exe = std::env::current_exe().expect("test executable");
    let script = format!(
        "#!/bin/sh\nexec '{}' fake_function --exact --nocapture --test-threads=1\n",
        exe.display()
    );
    let app = Template::load(project_template())
        .expect("template")
        .resolve(&ResolveOptions::default())
        .expect("resolve");
    for f in &app.functions {
        let path = dir.0.join(&f.binary);
        std::fs::write(&path, &script).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(
        dir.0.join("env.json"),
        r#"{"Parameters": {"LGW_FAKE_RUNTIME": "1"}}"#,
    )
    .expect("env file");
    dir
}

/// A running `local_gateway` binary and its stderr lines so far.
struct Gateway {
    child: Child,
    api: String,
    ddb_endpoint: String,
    log: Arc<Mutex<Vec<String>>>,
    _bins: TempDir,
}

impl Gateway {
    fn start(extra: &[&str]) -> Gateway {
        use std::io::BufRead;
        let bins = fake_bin_dir();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_local_gateway"))
            .args(["--template", &project_template(), "--port", "0"])
            .arg("--bin-dir")
            .arg(&bins.0)
            .arg("--env-vars")
            .arg(bins.0.join("env.json"))
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

    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// The first stderr line containing `what`, waiting up to `within` for it.
    async fn log_line(&self, what: &str, within: Duration) -> String {
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
    async fn ddb_status(&self, http: &reqwest::Client) -> u16 {
        let r = http
            .get(format!("{}/?action=ddb", self.api))
            .send()
            .await
            .expect("GET /?action=ddb");
        r.status().as_u16()
    }

    /// Polls `GET /?action=ddb` until it is 200.
    async fn wait_ddb_ok(&self, http: &reqwest::Client, within: Duration) {
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
    fn stop(mut self) -> std::process::ExitStatus {
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
fn pid_in(line: &str) -> i32 {
    line.split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

fn process_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

async fn wait_gone(pid: i32) {
    for _ in 0..200 {
        if !process_exists(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("process {pid} is still there");
}

fn java_available() -> bool {
    std::process::Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Needs Java (DynamoDB Local is installed on first use); skipped without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dynamodb_local_is_restarted_while_the_gateway_keeps_serving() {
    if !java_available() {
        println!("SKIPPED: no java for DynamoDB Local");
        return;
    }
    let mut gw = Gateway::start(&["--in-memory"]);
    let http = reqwest::Client::new();
    // GIVEN a gateway whose own DynamoDB Local answers
    assert_eq!(gw.ddb_status(&http).await, 200);
    let started = gw
        .log_line("DynamoDB Local listening on", Duration::ZERO)
        .await;
    let pid = pid_in(&started);

    // WHEN DynamoDB Local dies
    // SAFETY: a signal to a grandchild whose pid the gateway logged.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_gone(pid).await;

    // THEN the gateway keeps serving: the function answers 503 (200 if already restarted)
    let s = gw.ddb_status(&http).await;
    assert!(s == 503 || s == 200, "{s}");
    let r = http
        .get(format!("{}/", gw.api))
        .send()
        .await
        .expect("GET /");
    assert_eq!(r.status(), 200, "routes without DynamoDB are unaffected");
    assert!(gw.is_running(), "the gateway exited");
    gw.log_line(
        &format!("DynamoDB Local (pid {pid}) exited"),
        Duration::from_secs(5),
    )
    .await;

    // AND it restarts DynamoDB Local on the same port, saying that the data is gone
    let restarted = gw
        .log_line("DynamoDB Local restarted", Duration::from_secs(60))
        .await;
    assert!(restarted.contains(&gw.ddb_endpoint), "{restarted}");
    assert!(
        restarted.contains("data written before was lost"),
        "{restarted}"
    );
    let new_pid = pid_in(&restarted);
    assert_ne!(new_pid, pid);

    // AND the table is there again, so the function's calls succeed
    gw.wait_ddb_ok(&http, Duration::from_secs(10)).await;
    assert!(gw.is_running());

    // AND stopping the gateway stops the new DynamoDB Local
    assert!(gw.stop().success());
    wait_gone(new_pid).await;
}

/// A TCP forwarder to DynamoDB that the test can take down (connections refused and cut) and
/// bring back on the same port.
struct Proxy {
    port: u16,
    target: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(target: &str) -> Proxy {
        let mut p = Proxy {
            port: 0,
            target: target.to_string(),
            task: None,
        };
        p.up().await;
        p
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind proxy");
        self.port = listener.local_addr().expect("addr").port();
        let target = self.target.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                conns.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }

    /// Stops listening and cuts every forwarded connection.
    fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Needs a DynamoDB (`make test` sets `DYNAMODB_ENDPOINT`); skipped without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamodb_endpoint_outage_is_outlived_and_the_missing_table_created_again() {
    let Some(endpoint) = std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        println!("SKIPPED: DYNAMODB_ENDPOINT is not set");
        return;
    };
    let target = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut proxy = Proxy::start(&target).await;
    let table = format!("lgw-outage-{}", std::process::id());
    let mut gw = Gateway::start(&[
        "--dynamodb-endpoint",
        &proxy.url(),
        "--table-name",
        &table,
        "--header-read-timeout",
        "0.3",
    ]);
    let http = reqwest::Client::new();
    assert_eq!(gw.ddb_status(&http).await, 200);

    // The binary's --header-read-timeout reaches its server: a slow-loris client is cut off.
    let addr = gw.api.trim_start_matches("http://").to_string();
    let held = slow_loris(&addr, Duration::from_secs(5))
        .await
        .expect("a slow-loris client still connected after 5 s");
    assert!(held < Duration::from_millis(2500), "{held:?}");
    gw.log_line(
        "its request headers did not arrive within 300ms",
        Duration::from_secs(2),
    )
    .await;

    // WHEN the outside DynamoDB goes away (and comes back empty, as an in-memory one would)
    proxy.down();
    // THEN the gateway keeps serving: the function answers 503, other routes 200
    assert_eq!(gw.ddb_status(&http).await, 503);
    let r = http
        .get(format!("{}/", gw.api))
        .send()
        .await
        .expect("GET /");
    assert_eq!(r.status(), 200);
    gw.log_line("does not answer", Duration::from_secs(10))
        .await;
    assert!(gw.is_running());
    let direct = local_gateway::client_for_endpoint(&endpoint);
    direct
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("delete the table behind the gateway's back");

    // AND once DynamoDB is back, the gateway creates the table again and calls succeed
    proxy.up().await;
    gw.log_line("answers again", Duration::from_secs(10)).await;
    gw.wait_ddb_ok(&http, Duration::from_secs(10)).await;

    assert!(gw.stop().success());
    let _ = direct.delete_table().table_name(&table).send().await;
}
