//! A local Lambda service: runs each function's real binary behind the Lambda Runtime API.
//!
//! Like Lambda, every function has a pool of instances (execution environments); an instance
//! is one process with its own Runtime API endpoint (`AWS_LAMBDA_RUNTIME_API`) and handles one
//! invocation at a time. [`LambdaRuntime::invoke`] hands the event to an idle instance, or
//! queues it and starts a new instance (up to the function's limit); idle instances stay warm.
//!
//! Each instance gets its own loopback port rather than sharing one per function: the port is
//! how the server knows which process is asking for work, so a crash or a timeout fails
//! exactly the invocation that process was running.

//!
//! The layers: [`machine`] is each pool's state as a pure state machine; `pool` drives it
//! (channels, timers, its lock); `instance` supervises one process; `api` is the Runtime
//! API an instance's process talks to.

mod api;
mod instance;
pub mod limits;
pub mod machine;
#[cfg(test)]
mod machine_tests;
mod pool;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::template::ACCOUNT_ID;
use pool::Pool;

/// How to run one function.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The function name: the template's logical id (`CreateUserFunction`).
    pub name: String,
    /// The binary name (`create_user`): another name the function answers to, and the prefix
    /// of its log lines.
    pub binary: String,
    /// The executable to start.
    pub executable: PathBuf,
    /// Arguments for the executable (none for real function binaries).
    pub args: Vec<String>,
    /// The complete environment of the process, except the variables Lambda itself sets
    /// (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, ...), which are added per instance.
    pub env: BTreeMap<String, String>,
    /// How long one invocation may run before the instance is killed.
    pub timeout: Duration,
    /// Reported as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (not enforced).
    pub memory_mb: u32,
    /// Most instances running at once; invocations beyond that wait in a queue.
    pub max_instances: usize,
}

/// What an invocation ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The function answered: the payload its runtime posted to `/response`.
    Response(Vec<u8>),
    /// The function failed: it posted to `/error`, or crashed, timed out or failed to start.
    Error(FunctionError),
}

impl InvokeOutcome {
    /// The response payload parsed as JSON; `None` for errors and non-JSON payloads.
    pub fn json(&self) -> Option<serde_json::Value> {
        match self {
            InvokeOutcome::Response(bytes) => serde_json::from_slice(bytes).ok(),
            InvokeOutcome::Error(_) => None,
        }
    }
}

/// A function error, shaped like the body Lambda's Invoke API answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionError {
    /// `errorType`, e.g. `Runtime.ExitError`, `Sandbox.Timedout` or the handler's error type.
    #[serde(rename = "errorType", default)]
    pub error_type: String,
    /// `errorMessage`.
    #[serde(rename = "errorMessage", default)]
    pub error_message: String,
}

/// What Lambda reports about one invocation besides its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeReport {
    /// The invocation's request id (`lambda-runtime-aws-request-id`, the `requestId` of the
    /// function's log lines; on AWS distinct from API Gateway's request id).
    pub request_id: String,
    /// Lambda's `Duration`: from the hand-over to the function until its answer. `None` when
    /// no instance took the invocation (its start failed).
    pub duration: Option<Duration>,
}

/// Why [`LambdaRuntime::invoke`] could not run the function at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// No function has that name (logical id or binary name).
    #[error("function not found: {0}")]
    UnknownFunction(String),
    /// The runtime is shutting down.
    #[error("the local Lambda service is shutting down")]
    ShuttingDown,
    /// The event is over Lambda's limit for a synchronous invocation.
    #[error(
        "RequestEntityTooLargeException: Request must be smaller than {limit} bytes for the InvokeFunction operation (the event has {size})"
    )]
    PayloadTooLarge {
        /// The event's size in bytes.
        size: usize,
        /// [`MAX_REQUEST_PAYLOAD`].
        limit: usize,
    },
}

/// Lambda's limit on a synchronous invocation's event: 6 MB (6,291,456 bytes), after API
/// Gateway has built the event (so a body of a little less than 6 MB is already too much,
/// and base64 makes a binary body a third larger).
pub const MAX_REQUEST_PAYLOAD: usize = 6 * 1024 * 1024;

/// The local Lambda service: one instance pool per function.
pub struct LambdaRuntime {
    pools: HashMap<String, Arc<Pool>>,
    aliases: HashMap<String, String>,
}

impl LambdaRuntime {
    /// A runtime for `functions`, in `region` (used in ARNs). Starts no process yet: instances
    /// start on demand, like Lambda's cold starts.
    pub fn new(functions: Vec<FunctionSpec>, region: &str) -> Self {
        let mut pools = HashMap::new();
        let mut aliases = HashMap::new();
        for spec in functions {
            aliases.insert(spec.binary.clone(), spec.name.clone());
            let arn = format!(
                "arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{}",
                spec.name
            );
            pools.insert(spec.name.clone(), Arc::new(Pool::new(spec, arn)));
        }
        LambdaRuntime { pools, aliases }
    }

    /// The canonical function name for a logical id, a binary name or a function ARN.
    pub fn resolve_name(&self, name: &str) -> Option<&str> {
        // `arn:aws:lambda:region:account:function:Name[:qualifier]`
        let name = match name.split_once(":function:") {
            Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
            None => name,
        };
        if let Some((k, _)) = self.pools.get_key_value(name) {
            return Some(k.as_str());
        }
        self.aliases.get(name).map(String::as_str)
    }

    /// The names of all functions.
    pub fn function_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.pools.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Invokes `function` (logical id or binary name) with a JSON event and waits for the outcome.
    pub async fn invoke(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> Result<InvokeOutcome, InvokeError> {
        // Serialising a `Value` cannot fail: its keys are always strings.
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        self.invoke_bytes(function, payload).await
    }

    /// Invokes `function` with a raw payload (what the Invoke API receives).
    pub async fn invoke_bytes(
        &self,
        function: &str,
        payload: Vec<u8>,
    ) -> Result<InvokeOutcome, InvokeError> {
        Ok(self.invoke_reported(function, payload).await?.0)
    }

    /// [`LambdaRuntime::invoke_bytes`], with the invocation's request id and duration.
    pub async fn invoke_reported(
        &self,
        function: &str,
        payload: Vec<u8>,
    ) -> Result<(InvokeOutcome, InvokeReport), InvokeError> {
        self.invoke_traced(function, payload, None).await
    }

    /// [`LambdaRuntime::invoke_reported`] for a request with an X-Ray trace header
    /// (`Root=1-...;...`): the function's `lambda-runtime-trace-id` gets the same root.
    pub async fn invoke_traced(
        &self,
        function: &str,
        payload: Vec<u8>,
        trace: Option<String>,
    ) -> Result<(InvokeOutcome, InvokeReport), InvokeError> {
        let name = self
            .resolve_name(function)
            .ok_or_else(|| InvokeError::UnknownFunction(function.to_string()))?;
        if payload.len() > MAX_REQUEST_PAYLOAD {
            return Err(InvokeError::PayloadTooLarge {
                size: payload.len(),
                limit: MAX_REQUEST_PAYLOAD,
            });
        }
        match self.pools.get(name) {
            Some(pool) => pool.invoke(payload, trace).await,
            None => Err(InvokeError::UnknownFunction(function.to_string())),
        }
    }

    /// How many instances (processes) the function has right now, starting ones included.
    pub fn instance_count(&self, function: &str) -> Option<usize> {
        let pool = self.pools.get(self.resolve_name(function)?)?;
        Some(pool.instance_count())
    }

    /// Starts one instance of every function and waits until each is ready for work (sam's
    /// `--warm-containers EAGER`), so that bad configuration fails the start, not the first
    /// request. `Err` lists each function that could not start, in name order, with why
    /// (its init error, or the last line it printed before it exited).
    pub async fn start_all(&self) -> Result<(), Vec<(String, String)>> {
        for pool in self.pools.values() {
            pool.prewarm();
        }
        // Each pool ends in a known state within the init timeout: ready, or empty after
        // its instance failed (the machine kills one that takes longer than INIT_TIMEOUT).
        let mut failed = Vec::new();
        for name in self.function_names() {
            let pool = &self.pools[name];
            loop {
                match pool.warm_state() {
                    Some(Ok(())) => break,
                    Some(Err(why)) => {
                        failed.push((format!("{name} ({})", pool.spec.binary), why));
                        break;
                    }
                    None => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed)
        }
    }

    /// Runs every instance from now on inside cgroups with its function's memory and CPU
    /// share (see [`limits`]).
    pub fn set_limits(&self, limits: Arc<limits::Limits>) {
        for pool in self.pools.values() {
            let _ = pool.limits.set(limits.clone());
        }
    }

    /// Kills every instance, fails queued invocations and refuses new ones. Waits (up to 5 s)
    /// until the processes are gone.
    pub async fn shutdown(&self) {
        for pool in self.pools.values() {
            pool.shutdown();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.pools.values().any(|p| p.instance_count() > 0) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_answer_to_logical_id_binary_name_and_arn() {
        let spec = FunctionSpec {
            name: "CreateUserFunction".into(),
            binary: "create_user".into(),
            executable: "/bin/false".into(),
            args: vec![],
            env: BTreeMap::new(),
            timeout: Duration::from_secs(1),
            memory_mb: 128,
            max_instances: 1,
        };
        let rt = LambdaRuntime::new(vec![spec], "us-east-1");
        assert_eq!(
            rt.resolve_name("CreateUserFunction"),
            Some("CreateUserFunction")
        );
        assert_eq!(rt.resolve_name("create_user"), Some("CreateUserFunction"));
        assert_eq!(
            rt.resolve_name(
                "arn:aws:lambda:us-east-1:123456789012:function:CreateUserFunction:$LATEST"
            ),
            Some("CreateUserFunction")
        );
        assert_eq!(rt.resolve_name("nope"), None);
        assert_eq!(rt.function_names(), vec!["CreateUserFunction"]);
    }
}
