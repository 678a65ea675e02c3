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
