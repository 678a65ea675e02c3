//! The local Lambda service and the gateway, end to end, with real processes.
//!
//! The "function binary" is this test executable itself, re-run with `LGW_FAKE_RUNTIME=1` so
//! that only [`fake_lambda_runtime`] runs: a tiny custom runtime that speaks the Lambda
//! Runtime API over HTTP (`next`, `response`, `error`, `init/error`) and behaves as the event
//! asks (echo, fail, crash, sleep, answer a policy). No function crate, no DynamoDB needed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use local_gateway::apigw::Gateway;
use local_gateway::runtime::{FunctionSpec, InvokeError, InvokeOutcome, LambdaRuntime};
use local_gateway::template::{ResolveOptions, Template};
use serde_json::{Value, json};

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

enum Answer {
    Respond(Value),
    Fail(&'static str, String),
    Crash,
}

async fn fake_runtime_loop() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API is set");
    let base = format!("http://{api}/2018-06-01/runtime");
    let client = reqwest::Client::new();
    if std::env::var("FAKE_INIT_ERROR").is_ok() {
        let _ = client
            .post(format!("{base}/init/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
            .json(&json!({"errorType": "FakeInitError", "errorMessage": "cannot read config"}))
            .send()
            .await;
        std::process::exit(1);
    }
    loop {
        let Ok(resp) = client.get(format!("{base}/invocation/next")).send().await else {
            std::process::exit(2);
        };
        let header = |k: &str| {
            resp.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let id = header("lambda-runtime-aws-request-id");
        let deadline = header("lambda-runtime-deadline-ms");
        let arn = header("lambda-runtime-invoked-function-arn");
        let trace = header("lambda-runtime-trace-id");
        let event: Value = resp.json().await.unwrap_or(Value::Null);
        let action = event
            .get("action")
            .or_else(|| event.pointer("/queryStringParameters/action"))
            .and_then(Value::as_str)
            .unwrap_or("echo")
            .to_string();
        let sleep_ms = event.get("sleep_ms").and_then(Value::as_u64).or_else(|| {
            event
                .pointer("/queryStringParameters/sleep_ms")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
        });
        if let Some(ms) = sleep_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        // A response for a request id that is not ours must be refused.
        let bogus_status = if action == "bogus_id" {
            let r = client
                .post(format!("{base}/invocation/not-a-request/response"))
                .body("{}")
                .send()
                .await;
            r.map(|r| r.status().as_u16()).unwrap_or(0)
        } else {
            0
        };
        let env = |k: &str| std::env::var(k).ok();
        let answer = if event.get("type").and_then(Value::as_str) == Some("TOKEN") {
            authorize(&event)
        } else if event.get("type").and_then(Value::as_str) == Some("REQUEST") {
            authorize_request(&event)
        } else if event.get("httpMethod").is_some() {
            proxy(&action, &event)
        } else {
            match action.as_str() {
                "fail" => Answer::Fail("FakeError", "it went wrong".into()),
                "crash" => Answer::Crash,
                _ => Answer::Respond(json!({
                    "event": event,
                    "pid": std::process::id(),
                    "request_id": id,
                    "deadline_ms": deadline,
                    "arn": arn,
                    "trace": trace,
                    "bogus_status": bogus_status,
                    "env": {
                        "AWS_LAMBDA_FUNCTION_NAME": env("AWS_LAMBDA_FUNCTION_NAME"),
                        "AWS_LAMBDA_FUNCTION_VERSION": env("AWS_LAMBDA_FUNCTION_VERSION"),
                        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
                        "AWS_LAMBDA_LOG_STREAM_NAME": env("AWS_LAMBDA_LOG_STREAM_NAME"),
                        "CUSTOM": env("CUSTOM"),
                    },
                })),
            }
        };
        match answer {
            Answer::Respond(v) => {
                let _ = client
                    .post(format!("{base}/invocation/{id}/response"))
                    .json(&v)
                    .send()
                    .await;
            }
            Answer::Fail(kind, message) => {
                let _ = client
                    .post(format!("{base}/invocation/{id}/error"))
                    .header("Lambda-Runtime-Function-Error-Type", "Unhandled")
                    .json(&json!({"errorType": kind, "errorMessage": message}))
                    .send()
                    .await;
            }
            Answer::Crash => std::process::exit(3),
        }
    }
}

/// A TOKEN authorizer whose decision is spelled in the token.
fn authorize(event: &Value) -> Answer {
    let token = event["authorizationToken"].as_str().unwrap_or_default();
    let arn = event["methodArn"].as_str().unwrap_or_default();
    let policy = |effect: &str, resource: &str| {
        Answer::Respond(json!({
            "principalId": "user-7",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]
            },
            "context": {"user_id": 7, "method_arn_seen": arn}
        }))
    };
    match token {
        "Bearer allow" => policy("Allow", arn),
        "Bearer wildcard" => policy("Allow", "arn:aws:execute-api:*:*:*/Prod/*"),
        "Bearer deny" => policy("Deny", arn),
        "Bearer elsewhere" => policy(
            "Allow",
            "arn:aws:execute-api:us-east-1:123456789012:other/Prod/GET/",
        ),
        "Bearer garbage" => Answer::Respond(json!({"hello": "world"})),
        "Bearer boom" => Answer::Fail("Error", "database unreachable".into()),
        _ => Answer::Fail("Error", "Unauthorized".into()),
    }
}

/// A REQUEST authorizer: denies a request with more than one `Authorization` header (as the
/// project's does), otherwise decides as [`authorize`] on the one value. The context shows what
/// it saw.
fn authorize_request(event: &Value) -> Answer {
    let values: Vec<&str> = event["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .flat_map(|(_, v)| v.as_array().into_iter().flatten().filter_map(Value::as_str))
        .collect();
    let arn = event["methodArn"].as_str().unwrap_or_default();
    let seen = json!({
        "authorization_values": values.len(),
        "has_body": event.get("body").is_some(),
        "resource": event["resource"],
    });
    let policy = |effect: &str| {
        Answer::Respond(json!({
            "principalId": "user-7",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}]
            },
            "context": {"user_id": 7, "seen": seen.to_string()}
        }))
    };
    match values.as_slice() {
        [] => Answer::Fail("Error", "Unauthorized".into()),
        ["Bearer allow"] => policy("Allow"),
        [_] => Answer::Fail("Error", "Unauthorized".into()),
        _ => policy("Deny"),
    }
}

/// A proxy integration: echoes the event it got, or misbehaves on `?action=`.
fn proxy(action: &str, event: &Value) -> Answer {
    match action {
        "fail" => Answer::Fail("FakeError", "handler failed".into()),
        "crash" => Answer::Crash,
        "malformed" => Answer::Respond(json!({"body": "no status code"})),
        "binary" => {
            Answer::Respond(json!({"statusCode": 200, "body": "AAEC/w==", "isBase64Encoded": true}))
        }
        "created" => Answer::Respond(json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-single": "s"},
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
            "body": "{\"ok\":true}",
            "isBase64Encoded": false
        })),
        _ => Answer::Respond(json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": event.to_string(),
            "isBase64Encoded": false
        })),
    }
}

// -------------------------------------------------------------------------------------------
// Helpers
// -------------------------------------------------------------------------------------------

fn fake_spec(
    name: &str,
    timeout: Duration,
    max_instances: usize,
    extra_env: &[(&str, &str)],
) -> FunctionSpec {
    let mut env = BTreeMap::from([("LGW_FAKE_RUNTIME".to_string(), "1".to_string())]);
    for (k, v) in extra_env {
        env.insert(k.to_string(), v.to_string());
    }
    FunctionSpec {
        name: name.to_string(),
        binary: name.to_lowercase(),
        executable: std::env::current_exe().expect("test executable"),
        args: [
            "fake_lambda_runtime",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ]
        .map(String::from)
        .to_vec(),
        env,
        timeout,
        memory_mb: 256,
        max_instances,
    }
}

fn runtime_with(specs: Vec<FunctionSpec>) -> Arc<LambdaRuntime> {
    Arc::new(LambdaRuntime::new(specs, "us-east-1"))
}

async fn respond(rt: &LambdaRuntime, function: &str, event: Value) -> Value {
    match rt.invoke(function, event).await.expect("invoke") {
        InvokeOutcome::Response(bytes) => serde_json::from_slice(&bytes).expect("JSON payload"),
        InvokeOutcome::Error(e) => panic!("function error: {e:?}"),
    }
}

async fn error_of(
    rt: &LambdaRuntime,
    function: &str,
    event: Value,
) -> local_gateway::FunctionError {
    match rt.invoke(function, event).await.expect("invoke") {
        InvokeOutcome::Error(e) => e,
        InvokeOutcome::Response(b) => {
            panic!("expected an error, got {}", String::from_utf8_lossy(&b))
        }
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    format!("http://{addr}")
}

// -------------------------------------------------------------------------------------------
// The Runtime API and the pool
// -------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_invocation_reaches_the_runtime_with_lambdas_headers_and_environment() {
    let rt = runtime_with(vec![fake_spec(
        "EchoFunction",
        Duration::from_secs(10),
        2,
        &[("CUSTOM", "yes")],
    )]);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let out = respond(&rt, "EchoFunction", json!({"action": "echo", "n": 1})).await;
    assert_eq!(out["event"], json!({"action": "echo", "n": 1}));
    let deadline: u128 = out["deadline_ms"].as_str().unwrap().parse().unwrap();
    assert!(
        // Timeout 10 s from when the instance got the event (after a cold start of unknown length).
        deadline >= before + 10_000 && deadline <= before + 40_000,
        "deadline {deadline} vs {before}"
    );
    assert_eq!(
        out["arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    );
    assert!(out["trace"].as_str().unwrap().starts_with("Root=1-"));
    assert_eq!(out["request_id"].as_str().unwrap().len(), 36);
    assert_eq!(out["env"]["AWS_LAMBDA_FUNCTION_NAME"], "EchoFunction");
    assert_eq!(out["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(out["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert!(
        out["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .unwrap()
            .contains("[$LATEST]")
    );
    assert_eq!(out["env"]["CUSTOM"], "yes");
    // The binary name works as the function name too.
    let again = respond(&rt, "echofunction", json!({})).await;
    assert_eq!(again["pid"], out["pid"], "a warm instance is reused");
    assert_eq!(rt.instance_count("EchoFunction"), Some(1));
    rt.shutdown().await;
    assert_eq!(rt.instance_count("EchoFunction"), Some(0));
}

#[tokio::test]
async fn a_response_for_an_unknown_request_id_is_refused_with_400() {
    let rt = runtime_with(vec![fake_spec(
        "EchoFunction",
        Duration::from_secs(10),
        1,
        &[],
    )]);
    let out = respond(&rt, "EchoFunction", json!({"action": "bogus_id"})).await;
    assert_eq!(out["bogus_status"], 400);
    rt.shutdown().await;
}

#[tokio::test]
async fn a_function_error_comes_back_with_its_type_and_message() {
    let rt = runtime_with(vec![fake_spec(
        "FailFunction",
        Duration::from_secs(10),
        1,
        &[],
    )]);
    let e = error_of(&rt, "FailFunction", json!({"action": "fail"})).await;
    assert_eq!(
        (e.error_type.as_str(), e.error_message.as_str()),
        ("FakeError", "it went wrong")
    );
    // The instance survives a handled error.
    respond(&rt, "FailFunction", json!({})).await;
    assert_eq!(rt.instance_count("FailFunction"), Some(1));
    rt.shutdown().await;
}

#[tokio::test]
async fn concurrent_invocations_get_their_own_instances_up_to_the_limit() {
    let rt = runtime_with(vec![fake_spec(
        "SlowFunction",
        Duration::from_secs(10),
        2,
        &[],
    )]);
    let started = Instant::now();
    let calls = (0..4).map(|_| respond(&rt, "SlowFunction", json!({"sleep_ms": 400})));
    let outs = futures_join_all(calls).await;
    let elapsed = started.elapsed();
    let mut pids: Vec<u64> = outs.iter().map(|o| o["pid"].as_u64().unwrap()).collect();
    pids.sort_unstable();
    pids.dedup();
    // Usually 2; 1 only if the second instance's cold start outlasted three invocations.
    assert!(
        !pids.is_empty() && pids.len() <= 2,
        "at most two instances: {pids:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(800),
        "4 x 400 ms on 2 instances takes two rounds: {elapsed:?}"
    );
    assert_eq!(rt.instance_count("SlowFunction"), Some(2));
    rt.shutdown().await;
}

/// `join_all` without the futures crate: spawn-free, polls the futures together.
async fn futures_join_all<F: std::future::Future<Output = Value>>(
    futs: impl Iterator<Item = F>,
) -> Vec<Value> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futs.map(Box::pin).collect();
    let mut results: Vec<Option<Value>> = vec![None; pinned.len()];
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results
        .into_iter()
        .map(|r| r.unwrap_or(Value::Null))
        .collect()
}

#[tokio::test]
async fn a_crash_fails_only_its_invocation_and_the_next_one_gets_a_new_instance() {
    let rt = runtime_with(vec![fake_spec(
        "CrashFunction",
        Duration::from_secs(10),
        1,
        &[],
    )]);
    let first = respond(&rt, "CrashFunction", json!({})).await;
    let e = error_of(&rt, "CrashFunction", json!({"action": "crash"})).await;
    assert_eq!(e.error_type, "Runtime.ExitError");
    assert!(
        e.error_message.contains("exit status 3"),
        "{}",
        e.error_message
    );
    let after = respond(&rt, "CrashFunction", json!({})).await;
    assert_ne!(
        after["pid"], first["pid"],
        "a fresh instance replaced the crashed one"
    );
    rt.shutdown().await;
}

#[tokio::test]
async fn a_timeout_kills_the_instance_and_fails_the_invocation() {
    let rt = runtime_with(vec![fake_spec(
        "SleepyFunction",
        Duration::from_secs(1),
        1,
        &[],
    )]);
    let started = Instant::now();
    let e = error_of(&rt, "SleepyFunction", json!({"sleep_ms": 30_000})).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.error_type, "Sandbox.Timedout");
    assert!(
        e.error_message
            .contains("Task timed out after 1.00 seconds"),
        "{}",
        e.error_message
    );
    // The killed instance is gone and a new one serves the next call.
    respond(&rt, "SleepyFunction", json!({})).await;
    assert_eq!(rt.instance_count("SleepyFunction"), Some(1));
    rt.shutdown().await;
}

#[tokio::test]
async fn an_init_error_fails_the_waiting_invocation_with_the_reported_error() {
    let rt = runtime_with(vec![fake_spec(
        "BrokenFunction",
        Duration::from_secs(10),
        1,
        &[("FAKE_INIT_ERROR", "1")],
    )]);
    let e = error_of(&rt, "BrokenFunction", json!({})).await;
    assert_eq!(
        (e.error_type.as_str(), e.error_message.as_str()),
        ("FakeInitError", "cannot read config")
    );
    // Every call fails the same way; none hangs.
    let e = error_of(&rt, "BrokenFunction", json!({})).await;
    assert_eq!(e.error_type, "FakeInitError");
    rt.shutdown().await;
}

#[tokio::test]
async fn a_binary_that_cannot_start_fails_the_invocation() {
    let mut spec = fake_spec("MissingFunction", Duration::from_secs(10), 1, &[]);
    spec.executable = "/nonexistent/binary".into();
    let rt = runtime_with(vec![spec]);
    let e = error_of(&rt, "MissingFunction", json!({})).await;
    assert_eq!(e.error_type, "Runtime.ExitError");
    assert!(
        e.error_message.contains("could not start"),
        "{}",
        e.error_message
    );
    assert_eq!(
        rt.invoke("Nope", json!({})).await,
        Err(InvokeError::UnknownFunction("Nope".into()))
    );
    rt.shutdown().await;
    assert_eq!(
        rt.invoke("MissingFunction", json!({})).await,
        Err(InvokeError::ShuttingDown)
    );
}

// -------------------------------------------------------------------------------------------
// The Lambda Invoke API (--lambda-port)
// -------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_invoke_api_answers_like_lambda() {
    let rt = runtime_with(vec![fake_spec(
        "EchoFunction",
        Duration::from_secs(10),
        1,
        &[],
    )]);
    let base = serve(local_gateway::invoke_api::router(rt.clone())).await;
    let http = reqwest::Client::new();
    let url = |f: &str| format!("{base}/2015-03-31/functions/{f}/invocations");

    let r = http
        .post(url("EchoFunction"))
        .body(r#"{"x": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-amz-function-error").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["event"], json!({"x": 1}));

    let r = http
        .post(url("echofunction"))
        .body(r#"{"action": "fail"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "a function error is still a 200, as on Lambda"
    );
    assert_eq!(r.headers()["x-amz-function-error"], "Unhandled");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"errorType": "FakeError", "errorMessage": "it went wrong"})
    );

    let r = http
        .post(url("NoSuchFunction"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-amzn-errortype"], "ResourceNotFoundException");
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("NoSuchFunction")
    );

    let r = http
        .post(url("EchoFunction"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    rt.shutdown().await;
}

// -------------------------------------------------------------------------------------------
// The API Gateway emulation, end to end
// -------------------------------------------------------------------------------------------

const TEMPLATE: &str = r#"
Globals:
  Function:
    Timeout: 10
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Cors:
        AllowOrigin: "'*'"
        AllowHeaders: "'Authorization,Content-Type'"
        MaxAge: "'600'"
      Auth:
        DefaultAuthorizer: Jwt
        AddDefaultAuthorizerToCorsPreflight: false
        Authorizers:
          Jwt:
            FunctionArn: !GetAtt AuthorizerFunction.Arn
            FunctionPayloadType: TOKEN
            Identity: { Header: Authorization, ReauthorizeEvery: 0 }
      GatewayResponses:
        UNAUTHORIZED:
          StatusCode: "401"
          ResponseParameters: { Headers: { WWW-Authenticate: "'Bearer'" } }
          ResponseTemplates: { application/json: '{"detail": "Not authenticated"}' }
        ACCESS_DENIED:
          StatusCode: "401"
          ResponseTemplates: { application/json: '{"detail": "Could not validate credentials"}' }
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseTemplates: { application/json: '{"detail": "Not Found"}' }
        AUTHORIZER_CONFIGURATION_ERROR:
          StatusCode: "503"
          ResponseTemplates: { application/json: '{"detail": "Service Unavailable"}' }
        DEFAULT_5XX:
          StatusCode: "500"
          ResponseParameters: { Headers: { Access-Control-Allow-Origin: "'*'" } }
          ResponseTemplates: { application/json: '{"detail": "Internal Server Error"}' }
  ItemsFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get: { Type: Api, Properties: { RestApiId: !Ref Api, Path: "/items/{id}", Method: get } }
        Post: { Type: Api, Properties: { RestApiId: !Ref Api, Path: /items, Method: post } }
  PublicFunction:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 1
      Events:
        Root: { Type: Api, Properties: { RestApiId: !Ref Api, Path: /, Method: get, Auth: { Authorizer: NONE } } }
  AuthorizerFunction:
    Type: AWS::Serverless::Function
"#;

struct Fixture {
    base: String,
    http: reqwest::Client,
    runtime: Arc<LambdaRuntime>,
}

async fn gateway() -> Fixture {
    gateway_from(TEMPLATE).await
}

async fn gateway_from(text: &str) -> Fixture {
    let template = Template::parse("template.yaml", text).expect("template");
    let app = template
        .resolve(&ResolveOptions {
            jwt_secret: "x".into(),
            ..Default::default()
        })
        .expect("resolve");
    let specs = app
        .functions
        .iter()
        .map(|f| fake_spec(&f.logical_id, f.timeout, 4, &[]))
        .collect();
    let runtime = runtime_with(specs);
    let gw = Arc::new(Gateway::new(&app, runtime.clone()).expect("gateway"));
    Fixture {
        base: serve(gw.router()).await,
        http: reqwest::Client::new(),
        runtime,
    }
}

impl Fixture {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", t);
        }
        req.send().await.expect("request")
    }
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("JSON body")
}

#[tokio::test]
async fn an_allowed_request_reaches_the_function_with_a_rest_proxy_event() {
    let f = gateway().await;
    let r = f.get("/items/42/?q=a%20b&q=c", Some("Bearer allow")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-amzn-requestid"));
    let e = json_of(r).await;
    assert_eq!(e["resource"], "/items/{id}");
    assert_eq!(e["path"], "/items/42/");
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["pathParameters"], json!({"id": "42"}));
    assert_eq!(e["queryStringParameters"], json!({"q": "c"}));
    assert_eq!(
        e["multiValueQueryStringParameters"],
        json!({"q": ["a b", "c"]})
    );
    assert_eq!(e["headers"]["authorization"], "Bearer allow");
    assert_eq!(e["headers"]["x-forwarded-proto"], "http");
    assert_eq!(e["body"], Value::Null);
    let ctx = &e["requestContext"];
    assert_eq!(ctx["stage"], "Prod");
    assert_eq!(ctx["path"], "/items/42/", "the path as the client sent it");
    assert_eq!(ctx["resourcePath"], "/items/{id}");
    assert_eq!(ctx["identity"]["sourceIp"], "127.0.0.1");
    let auth = &ctx["authorizer"];
    assert_eq!(auth["principalId"], "user-7");
    assert_eq!(
        auth["user_id"], "7",
        "context values arrive as strings, as on API Gateway"
    );
    let arn = auth["method_arn_seen"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:execute-api:us-east-1:123456789012:")
            && arn.ends_with("/Prod/GET/items/42/"),
        "{arn}"
    );
    assert!(auth["integrationLatency"].is_number());
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn the_function_response_is_passed_through_with_all_headers() {
    let f = gateway().await;
    let r = f
        .get("/items/1?action=created", Some("Bearer wildcard"))
        .await;
    assert_eq!(r.status(), 201);
    let cookies: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(r.headers()["x-single"], "s");
    assert_eq!(r.text().await.unwrap(), r#"{"ok":true}"#);
    let r = f.get("/items/1?action=binary", Some("Bearer allow")).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), [0u8, 1, 2, 255]);
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn a_missing_authorization_header_is_401_without_calling_the_authorizer() {
    let f = gateway().await;
    for token in [None, Some(""), Some("   ")] {
        let r = f.get("/items/1", token).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(json_of(r).await, json!({"detail": "Not authenticated"}));
    }
    assert_eq!(f.runtime.instance_count("AuthorizerFunction"), Some(0));
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn the_authorizers_answers_map_to_gateway_responses() {
    let f = gateway().await;
    let cases = [
        (
            "Bearer nonsense",
            401,
            json!({"detail": "Not authenticated"}),
        ), // failed with "Unauthorized"
        (
            "Bearer deny",
            401,
            json!({"detail": "Could not validate credentials"}),
        ), // ACCESS_DENIED
        (
            "Bearer elsewhere",
            401,
            json!({"detail": "Could not validate credentials"}),
        ), // no matching Allow
        ("Bearer boom", 503, json!({"detail": "Service Unavailable"})), // other error
        (
            "Bearer garbage",
            503,
            json!({"detail": "Service Unavailable"}),
        ), // not a policy
    ];
    for (token, status, body) in cases {
        let r = f.get("/items/1", Some(token)).await;
        assert_eq!(r.status(), status, "{token}");
        assert_eq!(json_of(r).await, body, "{token}");
    }
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn public_routes_skip_the_authorizer() {
    let f = gateway().await;
    let r = f.get("/", None).await;
    assert_eq!(r.status(), 200);
    let e = json_of(r).await;
    assert_eq!(e["resource"], "/");
    assert!(e["requestContext"].get("authorizer").is_none());
    assert_eq!(f.runtime.instance_count("AuthorizerFunction"), Some(0));
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn a_request_authorizer_sees_every_authorization_header_and_none_means_no_call() {
    // GIVEN the project's kind of authorizer: REQUEST, identity source the Authorization header
    let text = TEMPLATE.replace(
        "FunctionPayloadType: TOKEN\n            Identity: { Header: Authorization, ReauthorizeEvery: 0 }",
        "FunctionPayloadType: REQUEST\n            Identity: { Headers: [Authorization], ReauthorizeEvery: 0 }",
    );
    assert_ne!(text, TEMPLATE);
    let f = gateway_from(&text).await;
    // WHEN there is no Authorization header THEN API Gateway answers 401 without calling it
    let r = f.get("/items/1", None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(json_of(r).await, json!({"detail": "Not authenticated"}));
    assert_eq!(f.runtime.instance_count("AuthorizerFunction"), Some(0));
    // WHEN there is one, it gets the request (without its body) and its answer counts
    let r = f.get("/items/1", Some("Bearer allow")).await;
    assert_eq!(r.status(), 200);
    let e = json_of(r).await;
    let seen: Value =
        serde_json::from_str(e["requestContext"]["authorizer"]["seen"].as_str().unwrap()).unwrap();
    assert_eq!(
        seen,
        json!({"authorization_values": 1, "has_body": false, "resource": "/items/{id}"})
    );
    // WHEN there are two, whichever order, it sees both and denies
    for pair in [
        ["Bearer allow", "Bearer other"],
        ["Bearer other", "Bearer allow"],
    ] {
        let r = f
            .http
            .get(format!("{}/items/1", f.base))
            .header("Authorization", pair[0])
            .header("Authorization", pair[1])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{pair:?}");
        assert_eq!(
            json_of(r).await,
            json!({"detail": "Could not validate credentials"})
        );
    }
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_and_undeclared_methods_are_the_missing_token_response() {
    let f = gateway().await;
    let r = f.get("/nope", Some("Bearer allow")).await;
    assert_eq!(r.status(), 404);
    assert_eq!(json_of(r).await, json!({"detail": "Not Found"}));
    let r = f
        .http
        .delete(format!("{}/items/1", f.base))
        .header("Authorization", "Bearer allow")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = f.get("/items", None).await;
    assert_eq!(r.status(), 404, "/items only has POST");
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn a_preflight_is_answered_before_authentication() {
    let f = gateway().await;
    let r = f
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/items/9/", f.base))
        .header("Origin", "https://example.com")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(
        h["access-control-allow-headers"],
        "Authorization,Content-Type"
    );
    assert_eq!(
        h["access-control-allow-methods"], "GET,OPTIONS",
        "the path's own methods when AllowMethods is unset"
    );
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(f.runtime.instance_count("AuthorizerFunction"), Some(0));
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn function_failures_become_the_default_5xx_response() {
    let f = gateway().await;
    for action in ["fail", "crash", "malformed"] {
        let r = f.get(&format!("/?action={action}"), None).await;
        assert_eq!(r.status(), 500, "{action}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            json_of(r).await,
            json!({"detail": "Internal Server Error"}),
            "{action}"
        );
    }
    // PublicFunction's Timeout is 1 s: the instance is killed and the client gets the 5XX.
    let started = Instant::now();
    let r = f.get("/?sleep_ms=20000", None).await;
    assert_eq!(r.status(), 500);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let r = f.get("/?action=echo", None).await;
    assert_eq!(r.status(), 200, "a new instance serves the next call");
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn request_bodies_arrive_as_text_or_base64() {
    let f = gateway().await;
    let post = |body: Vec<u8>| {
        f.http
            .post(format!("{}/items", f.base))
            .header("Authorization", "Bearer allow")
            .body(body)
            .send()
    };
    let e = json_of(post(br#"{"title":"hi"}"#.to_vec()).await.unwrap()).await;
    assert_eq!(e["body"], r#"{"title":"hi"}"#);
    assert_eq!(e["isBase64Encoded"], false);
    assert_eq!(e["pathParameters"], Value::Null);
    let e = json_of(post(vec![0xff, 0xfe, 0x00]).await.unwrap()).await;
    assert_eq!(e["body"], "//4A");
    assert_eq!(e["isBase64Encoded"], true);
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn with_reauthorize_every_the_policy_is_cached_per_token_and_checked_per_method() {
    // GIVEN an authorizer whose answers are cached, and a policy that allows one method ARN
    let f = gateway_from(&TEMPLATE.replace("ReauthorizeEvery: 0", "ReauthorizeEvery: 300")).await;
    assert_eq!(f.get("/items/1", Some("Bearer allow")).await.status(), 200);
    // WHEN the same token asks for another resource
    let r = f.get("/items/2", Some("Bearer allow")).await;
    // THEN the cached policy (for /items/1) is evaluated again, and denies it: API Gateway's
    // well-known caching pitfall, reproduced.
    assert_eq!(r.status(), 401);
    assert_eq!(
        json_of(r).await,
        json!({"detail": "Could not validate credentials"})
    );
    f.runtime.shutdown().await;

    // Without caching each request gets its own policy.
    let f = gateway().await;
    assert_eq!(f.get("/items/1", Some("Bearer allow")).await.status(), 200);
    assert_eq!(f.get("/items/2", Some("Bearer allow")).await.status(), 200);
    f.runtime.shutdown().await;
}

// -------------------------------------------------------------------------------------------
// The binary
// -------------------------------------------------------------------------------------------

/// A bin dir where every function of the project's template is a script that runs the fake
/// runtime (the binary passes no arguments, so the script adds them).
fn fake_bin_dir() -> tempdir::TempDir {
    let dir = tempdir::TempDir::new("bins");
    let exe = std::env::current_exe().expect("test executable");
    let script = format!(
        "#!/bin/sh\nexec '{}' fake_lambda_runtime --exact --nocapture --test-threads=1\n",
        exe.display()
    );
    for bin in [
        "root",
        "create_user",
        "get_user",
        "login",
        "list_posts",
        "create_post",
        "get_post",
        "update_post",
        "patch_post",
        "delete_post",
        "vote",
        "docs",
        "refresh_token",
        "logout",
        "authorizer",
    ] {
        let path = dir.path().join(bin);
        std::fs::write(&path, &script).expect("write script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}

/// Just enough of a temporary directory, removed on drop.
mod tempdir {
    pub struct TempDir(std::path::PathBuf);
    impl TempDir {
        pub fn new(prefix: &str) -> TempDir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "lgw-{prefix}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).expect("temp dir");
            TempDir(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn project_template() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml").to_string()
}

fn run_gateway(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_local_gateway"))
        .args(args)
        .env_remove("DYNAMODB_ENDPOINT")
        .env_remove("PORT")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run local_gateway");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_exits_with_code_2_and_a_one_line_message() {
    let template = project_template();
    let empty = tempdir::TempDir::new("empty");
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

#[tokio::test]
async fn requests_over_the_stages_rate_and_burst_are_throttled_before_anything_else() {
    let text = TEMPLATE.replace(
        "      StageName: Prod\n",
        "      StageName: Prod\n      MethodSettings:\n        - { ResourcePath: \"/*\", HttpMethod: \"*\", ThrottlingRateLimit: 0.5, ThrottlingBurstLimit: 2 }\n",
    );
    let f = gateway_from(&text).await;
    assert_eq!(f.get("/nope", None).await.status(), 404);
    assert_eq!(f.get("/items/1", None).await.status(), 401);
    let r = f.get("/items/1", Some("Bearer allow")).await;
    assert_eq!(r.status(), 429, "the burst of 2 is spent");
    assert_eq!(r.headers()["x-amzn-errortype"], "TooManyRequestsException");
    assert_eq!(json_of(r).await, json!({"message": "Too Many Requests"}));
    assert_eq!(
        f.runtime.instance_count("AuthorizerFunction"),
        Some(0),
        "throttled before the authorizer"
    );
    // One token every 2 s: slow enough that the first three requests never see a refill.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        f.get("/nope", None).await.status(),
        404,
        "the bucket refills at the rate"
    );
    f.runtime.shutdown().await;
}
