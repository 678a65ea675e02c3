//! What the events tests need: the seed step, the events themselves, a gateway of their own,
//! and reading a function's answer out of a Lambda invocation.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use api_tests::*;
use base64::Engine as _;

/// An id no user or post has: the largest the contract allows, never assigned.
pub(super) const MISSING: u64 = MAX_ID;
/// The fixture user and post of `local_gateway seed`, which the events name.
pub(super) const FIXTURE_ID: u64 = 1;

/// The README's seed step on the test gateway's table; returns what it printed.
pub(super) fn seed() -> String {
    let endpoint = dynamodb_endpoint().expect("the local gateway prints its DynamoDB endpoint");
    let table = table_name().expect("a local run has a table");
    let out = std::process::Command::new(local_gateway_binary())
        .args([
            "seed",
            "--dynamodb-endpoint",
            endpoint,
            "--table-name",
            table,
        ])
        .current_dir(workspace_root())
        .output()
        .expect("run local_gateway seed");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "local_gateway seed failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A form body's field (`login.json`'s `username` and `password`).
pub(super) fn form_field(body: &str, name: &str) -> String {
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .expect("a form body")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

/// Reads every file in `events/`, failing on a file that is not named after a function and
/// on a function without an event.
pub(super) fn load_events() -> BTreeMap<String, Value> {
    let dir = events_dir();
    let mut events = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {dir:?}: {e}")) {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 file name")
            .to_owned();
        let Some(binary) = name.strip_suffix(".json") else {
            panic!("events/{name}: only <function>.json files belong in events/");
        };
        assert!(
            functions().contains(&binary),
            "events/{name} is not named after a function; known: {:?}",
            functions()
        );
        let text = std::fs::read_to_string(&path).expect("readable event");
        let event: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("events/{name} is not JSON: {e}"));
        events.insert(binary.to_owned(), event);
    }
    for binary in functions() {
        assert!(
            events.contains_key(binary),
            "events/{binary}.json is missing"
        );
    }
    events
}

/// The README's setup for the sample events (`local_gateway --env-vars sam-local-env.json
/// --lambda-port ...`) on the shared test gateway's DynamoDB and table (the env file's
/// `TABLE_NAME` swapped for it): a gateway of the events' own, stopped when dropped (its
/// functions die with it).
pub(super) struct EventsGateway {
    pub(super) child: Child,
    pub(super) lambda_url: String,
}

impl EventsGateway {
    pub(super) fn start() -> Self {
        let endpoint = dynamodb_endpoint().expect("the local gateway prints its DynamoDB endpoint");
        let table = table_name().expect("a local run has a table");
        let binary = local_gateway_binary();
        let root = workspace_root();
        // Beside the shared gateway's log, in the run's folder (which the harness prunes).
        let dir = gateway_log()
            .and_then(|log| log.parent())
            .map_or_else(std::env::temp_dir, |dir| dir.to_path_buf());
        let log = dir.join("events-gateway.log");
        // sam-local-env.json as it is, but for the table: the test's own, not `AppTable`.
        let mut env: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("sam-local-env.json")).expect("sam-local-env.json"),
        )
        .expect("sam-local-env.json is JSON");
        env["Parameters"]["TABLE_NAME"] = json!(table);
        let env_vars = log.with_extension("env.json");
        std::fs::write(&env_vars, env.to_string()).expect("write the env-vars file");
        let mut child = Command::new(&binary)
            .arg("--template")
            .arg(root.join("template.yaml"))
            .arg("--bin-dir")
            .arg(binary.parent().expect("the binaries' folder"))
            .args(["--port", "0", "--lambda-port", "0"])
            .args(["--dynamodb-endpoint", endpoint, "--table-name", table])
            .arg("--env-vars")
            .arg(&env_vars)
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("start the events' local gateway");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let lambda_url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.split("Lambda invoke API listening on ").nth(1) {
                        break url.trim().to_owned();
                    }
                }
                _ => panic!(
                    "the events' local gateway exited before it was ready: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ),
            }
        };
        // Keep draining what it prints, so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, lambda_url }
    }
}

impl Drop for EventsGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer of the Lambda invoke API.
pub(super) struct Invocation {
    /// `X-Amz-Function-Error`, when the function failed.
    pub(super) function_error: Option<String>,
    /// The function's JSON payload (or `{errorType, errorMessage}`).
    pub(super) payload: Value,
}

pub(super) async fn invoke(
    client: &reqwest::Client,
    lambda_url: &str,
    function: &str,
    event: &Value,
) -> Invocation {
    let url = format!("{lambda_url}/2015-03-31/functions/{function}/invocations");
    let response = client
        .post(&url)
        .body(event.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    let function_error = response
        .headers()
        .get("x-amz-function-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("invoke answer body");
    assert_eq!(status, 200, "POST {url} answered {status}: {text}");
    let payload = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{function}: payload is not JSON ({e}): {text}"));
    Invocation {
        function_error,
        payload,
    }
}

/// A proxy function's answer: status and JSON body (`Null` when empty).
pub(super) struct ProxyAnswer {
    pub(super) status: u16,
    pub(super) body: Value,
    pub(super) headers: Value,
}

#[track_caller]
pub(super) fn proxy_answer(function: &str, invocation: Invocation) -> ProxyAnswer {
    assert!(
        invocation.function_error.is_none(),
        "{function} failed: {:?} {}",
        invocation.function_error,
        invocation.payload
    );
    let payload = invocation.payload;
    let status = payload["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("{function}: no statusCode in {payload}"))
        as u16;
    let raw = payload["body"].as_str().unwrap_or_default();
    let text = if payload["isBase64Encoded"] == json!(true) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap_or_else(|e| panic!("{function}: body is not base64 ({e})"));
        String::from_utf8(bytes).expect("a UTF-8 body")
    } else {
        raw.to_owned()
    };
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{function}: body is not JSON ({e}): {text}"))
    };
    let mut headers = payload["headers"].clone();
    if let Some(multi) = payload["multiValueHeaders"].as_object() {
        for (name, values) in multi {
            if headers.get(name).is_none() {
                headers[name] = values[0].clone();
            }
        }
    }
    ProxyAnswer {
        status,
        body,
        headers,
    }
}

impl ProxyAnswer {
    #[track_caller]
    pub(super) fn expect(&self, function: &str, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "{function}: expected {status}, got {} with {}",
            self.status, self.body
        );
        let allow_origin = self.headers.as_object().and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("access-control-allow-origin"))
        });
        assert!(
            allow_origin.is_some(),
            "{function}: the answer lacks Access-Control-Allow-Origin: {}",
            self.headers
        );
        &self.body
    }

    #[track_caller]
    pub(super) fn expect_detail(&self, function: &str, status: u16, detail: &str) {
        let body = self.expect(function, status);
        assert_eq!(body, &json!({ "detail": detail }), "{function}");
    }
}

/// The event of `binary` with another `{id}` path parameter.
pub(super) fn with_id(event: &Value, id: u64) -> Value {
    let mut event = event.clone();
    let resource = event["resource"].as_str().unwrap_or_default().to_owned();
    let path = resource.replace("{id}", &id.to_string());
    event["path"] = json!(path);
    event["pathParameters"] = json!({ "id": id.to_string() });
    event["requestContext"]["path"] = json!(format!("/Prod{path}"));
    event
}

/// The policy document's single statement's effect, for an authorizer answer.
pub(super) fn policy_effect(payload: &Value) -> Option<&str> {
    payload["policyDocument"]["Statement"][0]["Effect"].as_str()
}
