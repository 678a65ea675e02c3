//! The fake function: a custom runtime written against the Runtime API, behaving as the
//! event asks.

use super::*;

pub(crate) enum Answer {
    Respond(Value),
    Fail(&'static str, String),
    Crash,
}

pub(crate) async fn fake_runtime_loop() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API is set");
    let base = format!("http://{api}/2018-06-01/runtime");
    let client = reqwest::Client::new();
    // What a function's `main` does when its configuration is bad: print and exit.
    if let Ok(msg) = std::env::var("FAKE_EXIT_AT_INIT") {
        eprintln!("Error: {msg}");
        std::process::exit(1);
    }
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
        if event.get("httpMethod").is_some() {
            log_handled(&id, &event);
        }
        let answer = if event.get("type").and_then(Value::as_str) == Some("TOKEN") {
            authorize(&event)
        } else if event.get("type").and_then(Value::as_str) == Some("REQUEST") {
            authorize_request(&event)
        } else if event.get("httpMethod").is_some() {
            proxy(&action, &event, &trace)
        } else {
            match action.as_str() {
                "fail" => Answer::Fail("FakeError", "it went wrong".into()),
                "crash" => Answer::Crash,
                // Touch this many MB (every page written), then answer.
                "allocate" => {
                    let mb = event.get("mb").and_then(Value::as_u64).unwrap_or(1) as usize;
                    let block = vec![1u8; mb * 1024 * 1024];
                    Answer::Respond(json!({"allocated_mb": mb, "last": block[block.len() - 1]}))
                }
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

/// One log line per proxy request, as a function built on lambda_http and shared::http logs
/// it: JSON (tracing-subscriber's shape, with the runtime's span carrying Lambda's request id
/// and ours carrying API Gateway's) when AWS_LAMBDA_LOG_FORMAT says JSON, else text.
fn log_handled(lambda_request_id: &str, event: &Value) {
    let api_request_id = event
        .pointer("/requestContext/requestId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        let request = json!({"apiRequestId": api_request_id, "name": "request"});
        let line = json!({
            "level": "INFO",
            "fields": {"message": "handled"},
            "span": request,
            "spans": [
                {"requestId": lambda_request_id, "name": "Lambda runtime invoke"},
                request,
            ],
        });
        // stderr: the test harness writes to stdout without a newline first.
        eprintln!("{line}");
    } else {
        eprintln!(
            " INFO Lambda runtime invoke{{requestId=\"{lambda_request_id}\"}}:request{{apiRequestId=\"{api_request_id}\"}}: handled"
        );
    }
}

/// A TOKEN authorizer whose decision is spelled in the token.
pub(crate) fn authorize(event: &Value) -> Answer {
    let token = event["authorizationToken"].as_str().unwrap_or_default();
    let arn = event["methodArn"].as_str().unwrap_or_default();
    let policy = |effect: &str, resource: &str| {
        Answer::Respond(json!({
            "principalId": "user-7",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]
            },
            "context": {"user_id": 7, "method_arn_seen": arn, "nothing": null}
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
pub(crate) fn authorize_request(event: &Value) -> Answer {
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
pub(crate) fn proxy(action: &str, event: &Value, trace: &str) -> Answer {
    match action {
        "fail" => Answer::Fail("FakeError", "handler failed".into()),
        "crash" => Answer::Crash,
        "malformed" => Answer::Respond(json!({"body": "no status code"})),
        // A 401 with its own challenge, as shared::http's ApiError answers.
        "challenge" => Answer::Respond(json!({
            "statusCode": 401,
            "headers": {"content-type": "application/json", "WWW-Authenticate": "Bearer"},
            "body": "{\"detail\":\"Not authenticated\"}",
        })),
        // A key API Gateway does not know.
        "extra" => Answer::Respond(json!({"statusCode": 200, "body": "", "cookies": ["a=1"]})),
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
            "headers": {
                "content-type": "application/json",
                // Which build of the "binary" answered, and which process.
                "x-fake-version": std::env::var("LGW_FAKE_VERSION").unwrap_or_else(|_| "1".into()),
                "x-fake-pid": std::process::id().to_string(),
                "x-fake-trace": trace,
            },
            "body": event.to_string(),
            "isBase64Encoded": false
        })),
    }
}
