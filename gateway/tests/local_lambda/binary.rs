//! The `local_gateway` binary: configuration errors, serving the template, throttling.

use super::*;

#[test]
fn bad_configuration_exits_with_code_2_and_a_one_line_message() {
    let template = project_template();
    let empty = tempfile::Builder::new()
        .prefix("lgw-empty-")
        .tempdir()
        .expect("temp dir");
    let bins = fake_bin_dir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port().to_string();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--bogus"], "unknown option --bogus".into()),
        (
            vec!["--template", "/nonexistent/template.yaml"],
            "template /nonexistent/template.yaml not found".into(),
        ),
        (
            vec![
                "--template",
                &template,
                "--bin-dir",
                empty.path().to_str().unwrap(),
            ],
            format!(
                "binary {}/root not found: run `cargo build --bins` first",
                empty.path().display()
            ),
        ),
        (
            vec![
                "--template",
                &template,
                "--parameter-overrides",
                "LogLevel=LOUD",
            ],
            "parameter LogLevel=LOUD is not one of its AllowedValues".into(),
        ),
        (
            vec![
                "--template",
                &template,
                "--bin-dir",
                bins.path().to_str().unwrap(),
                "--port",
                &taken_port,
            ],
            format!("port {taken_port} is in use"),
        ),
    ];
    for (args, want) in cases {
        let (code, stderr) = run_gateway(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&want), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Needs a DynamoDB (`make test` sets `DYNAMODB_ENDPOINT`); skipped without one.
#[tokio::test]
async fn the_binary_serves_the_template_and_stops_its_functions_on_sigterm() {
    let Some(endpoint) = std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        println!("SKIPPED: DYNAMODB_ENDPOINT is not set");
        return;
    };
    use std::io::BufRead;
    let bins = fake_bin_dir();
    let env_vars = bins.path().join("env.json");
    std::fs::write(&env_vars, r#"{"Parameters": {"LGW_FAKE_RUNTIME": "1"}}"#).expect("env file");
    let table = format!("lgw-cli-{}", std::process::id());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_local_gateway"))
        .args([
            "--template",
            &project_template(),
            "--port",
            "0",
            "--lambda-port",
            "0",
        ])
        .args([
            "--bin-dir",
            bins.path().to_str().unwrap(),
            "--table-name",
            &table,
        ])
        .args([
            "--dynamodb-endpoint",
            &endpoint,
            "--env-vars",
            env_vars.to_str().unwrap(),
        ])
        .env("JWT_SECRET", "test-secret")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start local_gateway");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let api = lines.next().expect("a line").expect("utf-8");
    let lambda = lines.next().expect("a second line").expect("utf-8");
    let api = api
        .strip_prefix("API listening on ")
        .unwrap_or_else(|| panic!("{api}"))
        .to_string();
    let lambda = lambda
        .strip_prefix("Lambda invoke API listening on ")
        .unwrap_or_else(|| panic!("{lambda}"))
        .to_string();

    let http = reqwest::Client::new();
    let r = http.get(format!("{api}/")).send().await.expect("GET /");
    assert_eq!(r.status(), 200);
    let event: Value = r.json().await.expect("echoed event");
    assert_eq!(event["resource"], "/");
    assert_eq!(event["requestContext"]["stage"], "Prod");
    let r = http
        .get(format!("{api}/posts"))
        .send()
        .await
        .expect("GET /posts");
    assert_eq!(r.status(), 401);
    let out: Value = http
        .post(format!(
            "{lambda}/2015-03-31/functions/LoginFunction/invocations"
        ))
        .body("{}")
        .send()
        .await
        .expect("invoke")
        .json()
        .await
        .expect("JSON");
    let pid = out["pid"].as_u64().expect("pid");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());

    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}");
    // The function process went with it (allow the kernel a moment to reap it).
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(gone, "function process {pid} outlived the gateway");
}

/// A loopback URL where nothing listens.
fn nothing_listens() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("http://{}", l.local_addr().expect("addr"))
}

/// Runs the gateway on the fake functions with `env_json` as `--env-vars` and `extra` args.
fn run_fake_gateway(env_json: &str, extra: &[&str]) -> (Option<i32>, String) {
    let bins = fake_bin_dir();
    let env_vars = bins.path().join("env.json");
    std::fs::write(&env_vars, env_json).expect("env file");
    let template = project_template();
    let mut args = vec![
        "--template",
        &template,
        "--port",
        "0",
        "--bin-dir",
        bins.path().to_str().unwrap(),
        "--env-vars",
        env_vars.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_gateway(&args)
}

#[test]
fn a_function_that_cannot_start_stops_the_gateway_with_its_own_message() {
    // GIVEN a login function whose main prints a config error and exits, as ours do
    let (code, stderr) = run_fake_gateway(
        r#"{"Parameters": {"LGW_FAKE_RUNTIME": "1"},
            "LoginFunction": {"FAKE_EXIT_AT_INIT": "environment variable JWT_SECRET is invalid: must be at least 32 bytes"}}"#,
        // DynamoDB never answers: the function's failure is reported without waiting for it.
        &[
            "--dynamodb-endpoint",
            &nothing_listens(),
            "--dynamodb-wait",
            "60",
        ],
    );
    // THEN the gateway exits 2, its last line the function's message in plain words
    assert_eq!(code, Some(2), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("local_gateway: LoginFunction (login) failed to start: environment variable JWT_SECRET is invalid: must be at least 32 bytes"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // AND a runtime that reports its init error through the Runtime API is named the same way
    let (code, stderr) = run_fake_gateway(
        r#"{"Parameters": {"LGW_FAKE_RUNTIME": "1"}, "RootFunction": {"FAKE_INIT_ERROR": "1"}}"#,
        &[
            "--dynamodb-endpoint",
            &nothing_listens(),
            "--dynamodb-wait",
            "60",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "local_gateway: RootFunction (root) failed to start: FakeInitError: cannot read config"
    );
}

#[test]
fn an_unreachable_dynamodb_is_announced_waited_for_briefly_and_explained() {
    let endpoint = nothing_listens();
    let (code, stderr) = run_fake_gateway(
        r#"{"Parameters": {"LGW_FAKE_RUNTIME": "1"}}"#,
        &["--dynamodb-endpoint", &endpoint, "--dynamodb-wait", "0.5"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("waiting for DynamoDB at {endpoint} (up to 0.5 s)")),
        "{stderr}"
    );
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "local_gateway: DynamoDB at {endpoint} did not answer within 0.5 s (connection refused): start one with `local_gateway dynamodb`"
        )),
        "{stderr}"
    );
}

/// `JWT_SECRET=short make run`, with the real function binaries of `target/debug` (skipped
/// when they are not built: `cargo build --workspace --bins`).
#[test]
fn a_short_jwt_secret_stops_the_gateway_with_exit_code_2_and_one_line_naming_it() {
    let bins = std::path::Path::new(env!("CARGO_BIN_EXE_local_gateway"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    if !bins.join("login").is_file() {
        println!("SKIPPED: {}/login is not built", bins.display());
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_local_gateway"))
        .args(["--template", &project_template(), "--port", "0"])
        .args(["--bin-dir", bins.to_str().unwrap()])
        .args([
            "--dynamodb-endpoint",
            &nothing_listens(),
            "--dynamodb-wait",
            "60",
        ])
        .env("JWT_SECRET", "short")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run local_gateway");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("local_gateway: AuthorizerFunction (authorizer) failed to start: environment variable JWT_SECRET is invalid: must be at least 32 bytes"),
        "{stderr}"
    );
    assert!(
        last.ends_with("also failed: LoginFunction (login), RefreshTokenFunction (refresh_token)"),
        "{last}"
    );
    // No Rust `Debug` dump anywhere: the functions print the error's Display.
    assert!(!stderr.contains("Invalid {"), "{stderr}");
}

/// Needs a DynamoDB (`DYNAMODB_ENDPOINT`); skipped without one.
#[tokio::test]
async fn a_kept_table_without_the_templates_new_index_is_reported_as_drift() {
    let Some(endpoint) = std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        println!("SKIPPED: DYNAMODB_ENDPOINT is not set");
        return;
    };
    let template = Template::load(project_template()).expect("template");
    let now = template.table_def(None).expect("table");
    // GIVEN a table kept from a template that had no GSI yet
    let mut old = now.clone();
    old.global_indexes.clear();
    let keys: Vec<String> = old.key_schema.iter().map(|(n, _)| n.clone()).collect();
    old.attributes.retain(|(n, _)| keys.contains(n));
    let client = local_gateway::client_for_endpoint(&endpoint);
    let name = format!("lgw-drift-{}", std::process::id());
    local_gateway::dynamodb::ensure_table_from_def(&client, &old, &name)
        .await
        .expect("old table");
    // THEN checking it against today's template names the missing index
    let drift = local_gateway::dynamodb::schema_drift(&client, &now, &name)
        .await
        .expect("describe");
    assert_eq!(
        drift,
        vec![format!("it has no index {}", now.global_indexes[0].name)]
    );
    assert!(
        local_gateway::dynamodb::schema_drift(&client, &old, &name)
            .await
            .expect("describe")
            .is_empty()
    );
    let _ = client.delete_table().table_name(&name).send().await;
}

/// `key=value` of an access line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// Needs a DynamoDB (`make test` sets `DYNAMODB_ENDPOINT`); skipped without one.
#[tokio::test]
async fn with_log_format_json_a_requests_function_log_line_is_json_and_carries_its_ids() {
    let Some(endpoint) = std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        println!("SKIPPED: DYNAMODB_ENDPOINT is not set");
        return;
    };
    use std::io::BufRead;
    // GIVEN the project's template, whose Globals say LoggingConfig.LogFormat: JSON
    let bins = fake_bin_dir();
    let env_vars = bins.path().join("env.json");
    std::fs::write(&env_vars, r#"{"Parameters": {"LGW_FAKE_RUNTIME": "1"}}"#).expect("env file");
    let log_file = bins.path().join("gateway.log");
    let table = format!("lgw-logs-{}", std::process::id());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_local_gateway"))
        .args(["--template", &project_template(), "--port", "0"])
        .args([
            "--bin-dir",
            bins.path().to_str().unwrap(),
            "--table-name",
            &table,
        ])
        .args(["--dynamodb-endpoint", &endpoint])
        .args(["--env-vars", env_vars.to_str().unwrap()])
        .args(["--log-file", log_file.to_str().unwrap()])
        .env("JWT_SECRET", "test-secret-test-secret-test-secret!")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start local_gateway");
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stderr = child.stderr.take().expect("stderr");
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(line);
        }
    });
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = stdout.next().expect("a line").expect("utf-8");
    let api = first
        .strip_prefix("API listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();

    // WHEN a client calls a route (with a query string)
    let r = reqwest::get(format!("{api}/?hello=world"))
        .await
        .expect("GET /");
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(r.headers().contains_key("x-amz-apigw-id"));
    let event: Value = r.json().await.expect("echoed event");
    // THEN the event carries API Gateway's request id, as the response header does
    assert_eq!(event["requestContext"]["requestId"], request_id.as_str());

    // AND the access line has it, the query string, the function, Lambda's id and duration
    let find = |pred: &dyn Fn(&str) -> bool| -> Option<String> {
        (0..250).find_map(|_| {
            let found = lines.lock().unwrap().iter().find(|l| pred(l)).cloned();
            if found.is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            found
        })
    };
    let access = find(&|l: &str| field(l, "request_id") == Some(request_id.as_str()))
        .unwrap_or_else(|| {
            panic!(
                "no access line for {request_id}: {:?}",
                lines.lock().unwrap()
            )
        });
    assert!(access.starts_with("GET /?hello=world 200 "), "{access}");
    assert_eq!(field(&access, "function"), Some("RootFunction"), "{access}");
    assert!(
        field(&access, "duration").is_some_and(|d| d.ends_with("ms")),
        "{access}"
    );
    let lambda_id = field(&access, "lambda_request_id")
        .expect("lambda_request_id")
        .to_string();
    assert_ne!(lambda_id, request_id, "two ids, as on AWS");

    // AND the function's log line is JSON and carries both ids
    let function_line = find(&|l: &str| l.starts_with("[root] {") && l.contains(&lambda_id))
        .unwrap_or_else(|| panic!("no JSON line of root: {:?}", lines.lock().unwrap()));
    let json: Value =
        serde_json::from_str(function_line.strip_prefix("[root] ").unwrap()).expect("JSON");
    assert_eq!(json["span"]["apiRequestId"], request_id.as_str());
    assert_eq!(json["spans"][0]["requestId"], lambda_id.as_str());

    // AND --log-file has the same lines
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let file = std::fs::read_to_string(&log_file).expect("log file");
    assert!(file.contains(&access), "{file}");
    assert!(file.contains(&function_line), "{file}");
}
