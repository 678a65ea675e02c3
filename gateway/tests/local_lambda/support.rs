//! Helpers: runtimes of fake functions, invoking them, serving a router, running the binary.

use super::*;

pub(crate) fn fake_spec(
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

pub(crate) fn runtime_with(specs: Vec<FunctionSpec>) -> Arc<LambdaRuntime> {
    Arc::new(LambdaRuntime::new(specs, "us-east-1"))
}

pub(crate) async fn respond(rt: &LambdaRuntime, function: &str, event: Value) -> Value {
    match rt.invoke(function, event).await.expect("invoke") {
        InvokeOutcome::Response(bytes) => serde_json::from_slice(&bytes).expect("JSON payload"),
        InvokeOutcome::Error(e) => panic!("function error: {e:?}"),
    }
}

pub(crate) async fn error_of(
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

pub(crate) async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // The gateway's own server (timeouts, header names in the client's case), as serve runs.
    tokio::spawn(local_gateway::http_server::serve(
        listener,
        router,
        local_gateway::http_server::Timeouts::default(),
        "API",
    ));
    format!("http://{addr}")
}

/// A bin dir where every function of the template is the fake function.
pub(crate) fn fake_bin_dir() -> tempfile::TempDir {
    fake_bins("fake_lambda_runtime")
}

pub(crate) fn run_gateway(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_local_gateway"))
        .args(args)
        .env_remove("DYNAMODB_ENDPOINT")
        .env_remove("PORT")
        // Else the gateway keeps a development key in the project's .local/.
        .env("JWT_SECRET", "test-secret-test-secret-test-secret!")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run local_gateway");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
