//! The local Lambda service in process: invocations, instances, errors, the Invoke API.

use super::*;

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
pub(crate) async fn futures_join_all<F: std::future::Future<Output = Value>>(
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

#[tokio::test]
async fn a_payload_over_6_mb_gets_lambdas_request_entity_too_large() {
    let rt = runtime_with(vec![fake_spec(
        "EchoFunction",
        Duration::from_secs(10),
        1,
        &[],
    )]);
    let base = serve(local_gateway::invoke_api::router(rt.clone())).await;
    // A JSON string of 7 MB.
    let payload = format!("\"{}\"", "a".repeat(7_000_000));
    let r = reqwest::Client::new()
        .post(format!(
            "{base}/2015-03-31/functions/EchoFunction/invocations"
        ))
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.headers()["x-amzn-errortype"],
        "RequestEntityTooLargeException"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["message"],
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    );
    assert_eq!(rt.instance_count("EchoFunction"), Some(0));
    rt.shutdown().await;
}

/// The value of `file` in the v1 cgroup of `controller` that process `pid` is in.
fn cgroup_value(pid: u64, controller: &str, file: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup of pid");
    let path = text
        .lines()
        .find_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, c, path) = (p.next()?, p.next()?, p.next()?);
            c.split(',')
                .any(|c| c == controller)
                .then(|| path.to_string())
        })
        .expect("controller");
    std::fs::read_to_string(format!("/sys/fs/cgroup/{controller}{path}/{file}"))
        .expect("cgroup file")
        .trim()
        .to_string()
}

#[tokio::test]
async fn with_limits_an_instance_gets_its_memory_size_and_cpu_share_and_dies_over_it() {
    let limits = match local_gateway::runtime::limits::Limits::detect() {
        Ok(l) => Arc::new(l),
        Err(why) => {
            println!("SKIPPED: no cgroups here: {why}");
            return;
        }
    };
    // GIVEN a function of 128 MB, run with limits
    let mut spec = fake_spec("SmallFunction", Duration::from_secs(10), 1, &[]);
    spec.memory_mb = 128;
    let rt = runtime_with(vec![spec]);
    rt.set_limits(limits.clone());
    // THEN its instance runs with 128 MB and 128/1769 of a CPU
    let v = respond(&rt, "SmallFunction", json!({})).await;
    let pid = v["pid"].as_u64().expect("pid");
    assert_eq!(
        cgroup_value(pid, "memory", "memory.limit_in_bytes"),
        (128u64 * 1024 * 1024).to_string()
    );
    assert_eq!(cgroup_value(pid, "cpu", "cpu.cfs_quota_us"), "7235");
    assert_eq!(cgroup_value(pid, "cpu", "cpu.cfs_period_us"), "100000");
    // AND within its memory it works
    let v = respond(
        &rt,
        "SmallFunction",
        json!({"action": "allocate", "mb": 16}),
    )
    .await;
    assert_eq!(v["allocated_mb"], 16);
    // WHEN it needs more than its MemorySize THEN it dies as on Lambda
    let e = error_of(
        &rt,
        "SmallFunction",
        json!({"action": "allocate", "mb": 300}),
    )
    .await;
    assert_eq!(e.error_type, "Runtime.ExitError");
    assert!(
        e.error_message.contains(
            "Runtime exited with error: signal: killed (out of memory: MemorySize 128 MB"
        ),
        "{e:?}"
    );
    // AND the next invocation gets a new instance
    let v = respond(&rt, "SmallFunction", json!({})).await;
    assert_ne!(v["pid"].as_u64(), Some(pid));
    rt.shutdown().await;
    limits.remove();
}
