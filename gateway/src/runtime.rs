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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{Notify, oneshot};

use crate::process::{die_with_parent, forward_lines};
use crate::template::ACCOUNT_ID;
use crate::util::{epoch_ms, random_hex, uuid_v4};

/// Lambda's limit for the init phase (process start until the first `next` call).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Lambda's limit on a synchronous response payload.
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

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

/// Why [`LambdaRuntime::invoke`] could not run the function at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// No function has that name (logical id or binary name).
    #[error("function not found: {0}")]
    UnknownFunction(String),
    /// The runtime is shutting down.
    #[error("the local Lambda service is shutting down")]
    ShuttingDown,
}

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
            let pool = Pool {
                arn: format!(
                    "arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{}",
                    spec.name
                ),
                spec,
                state: Mutex::new(PoolState::default()),
                next_id: AtomicU64::new(1),
            };
            pools.insert(pool.spec.name.clone(), Arc::new(pool));
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
        let name = self
            .resolve_name(function)
            .ok_or_else(|| InvokeError::UnknownFunction(function.to_string()))?;
        match self.pools.get(name) {
            Some(pool) => pool.invoke(payload).await,
            None => Err(InvokeError::UnknownFunction(function.to_string())),
        }
    }

    /// How many instances (processes) the function has right now, starting ones included.
    pub fn instance_count(&self, function: &str) -> Option<usize> {
        let pool = self.pools.get(self.resolve_name(function)?)?;
        Some(pool.lock().instances.len())
    }

    /// Kills every instance, fails queued invocations and refuses new ones. Waits (up to 5 s)
    /// until the processes are gone.
    pub async fn shutdown(&self) {
        for pool in self.pools.values() {
            let mut st = pool.lock();
            st.closed = true;
            st.queue.clear();
            for slot in st.instances.values() {
                slot.kill.notify_one();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && self.pools.values().any(|p| !p.lock().instances.is_empty())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An invocation waiting for an instance.
struct Pending {
    request_id: String,
    payload: Vec<u8>,
    reply: oneshot::Sender<InvokeOutcome>,
}

/// What the `next` long-poll hands to the runtime.
struct Dispatch {
    request_id: String,
    payload: Vec<u8>,
    deadline_ms: u128,
}

/// An invocation an instance is running.
struct InFlight {
    request_id: String,
    reply: oneshot::Sender<InvokeOutcome>,
}

enum Phase {
    /// Process started, has not asked for work yet.
    Starting { init_error: Option<FunctionError> },
    /// Waiting in `next`; the sender completes that long-poll.
    Idle(oneshot::Sender<Dispatch>),
    /// Running an invocation.
    Busy(InFlight),
    /// Answered its invocation, not yet back in `next`.
    Between,
    /// Being killed (timeout, init error): gets no more work.
    Doomed,
}

struct Slot {
    phase: Phase,
    kill: Arc<Notify>,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Pending>,
    instances: HashMap<u64, Slot>,
    closed: bool,
}

struct Pool {
    spec: FunctionSpec,
    arn: String,
    state: Mutex<PoolState>,
    next_id: AtomicU64,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding the lock leaves the state consistent enough to go on with.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn log(&self, msg: impl std::fmt::Display) {
        eprintln!("[{}] {msg}", self.spec.name);
    }

    async fn invoke(self: &Arc<Self>, payload: Vec<u8>) -> Result<InvokeOutcome, InvokeError> {
        let (reply, outcome) = oneshot::channel();
        let pending = Pending {
            request_id: uuid_v4(),
            payload,
            reply,
        };
        let to_start = {
            let mut st = self.lock();
            if st.closed {
                return Err(InvokeError::ShuttingDown);
            }
            if let Some(p) = self.dispatch_to_idle(&mut st, pending) {
                st.queue.push_back(p);
            }
            self.reserve_instances(&mut st)
        };
        self.start_instances(to_start);
        outcome.await.map_err(|_| InvokeError::ShuttingDown)
    }

    /// Hands `pending` to an idle instance; gives it back when there is none.
    fn dispatch_to_idle(
        self: &Arc<Self>,
        st: &mut PoolState,
        mut pending: Pending,
    ) -> Option<Pending> {
        let idle: Vec<u64> = st
            .instances
            .iter()
            .filter(|(_, s)| matches!(s.phase, Phase::Idle(_)))
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            let Some(slot) = st.instances.get_mut(&id) else {
                continue;
            };
            let Phase::Idle(tx) = std::mem::replace(&mut slot.phase, Phase::Between) else {
                continue;
            };
            let Pending {
                request_id,
                payload,
                reply,
            } = pending;
            let dispatch = Dispatch {
                request_id: request_id.clone(),
                payload,
                deadline_ms: self.deadline_ms(),
            };
            match tx.send(dispatch) {
                Ok(()) => {
                    slot.phase = Phase::Busy(InFlight {
                        request_id: request_id.clone(),
                        reply,
                    });
                    self.start_timer(id, request_id);
                    return None;
                }
                // The long-poll is gone (its process is dying): leave the slot for the reaper.
                Err(d) => {
                    pending = Pending {
                        request_id: d.request_id,
                        payload: d.payload,
                        reply,
                    }
                }
            }
        }
        Some(pending)
    }

    fn deadline_ms(&self) -> u128 {
        epoch_ms() + self.spec.timeout.as_millis()
    }

    /// Reserves slots for the instances to start: one per queued invocation that no starting
    /// instance will take, within the limit. An instance that has just answered is back in
    /// `next` within moments, so it counts as coming too: a back-to-back call reuses it
    /// instead of cold-starting a second process. (If it dies instead, the reaper starts one.)
    fn reserve_instances(&self, st: &mut PoolState) -> Vec<(u64, Arc<Notify>)> {
        if st.closed {
            return Vec::new();
        }
        st.queue.retain(|p| !p.reply.is_closed());
        let coming = st
            .instances
            .values()
            .filter(|s| matches!(s.phase, Phase::Starting { .. } | Phase::Between))
            .count();
        let wanted = st.queue.len().saturating_sub(coming);
        let room = self
            .spec
            .max_instances
            .max(1)
            .saturating_sub(st.instances.len());
        (0..wanted.min(room))
            .map(|_| {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let kill = Arc::new(Notify::new());
                st.instances.insert(
                    id,
                    Slot {
                        phase: Phase::Starting { init_error: None },
                        kill: kill.clone(),
                    },
                );
                (id, kill)
            })
            .collect()
    }

    fn start_instances(self: &Arc<Self>, ids: Vec<(u64, Arc<Notify>)>) {
        for (id, kill) in ids {
            tokio::spawn(self.clone().run_instance(id, kill));
        }
    }

    fn start_timer(self: &Arc<Self>, id: u64, request_id: String) {
        let pool = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(pool.spec.timeout).await;
            pool.on_timeout(id, &request_id);
        });
    }

    fn on_timeout(&self, id: u64, request_id: &str) {
        let mut st = self.lock();
        let Some(slot) = st.instances.get_mut(&id) else {
            return;
        };
        if !matches!(&slot.phase, Phase::Busy(f) if f.request_id == request_id) {
            return;
        }
        if let Phase::Busy(f) = std::mem::replace(&mut slot.phase, Phase::Doomed) {
            let secs = self.spec.timeout.as_secs_f64();
            self.log(format!(
                "RequestId: {request_id} timed out after {secs:.2} s: killing instance {id}"
            ));
            let _ = f.reply.send(InvokeOutcome::Error(FunctionError {
                error_type: "Sandbox.Timedout".into(),
                error_message: format!(
                    "RequestId: {request_id} Error: Task timed out after {secs:.2} seconds"
                ),
            }));
        }
        slot.kill.notify_one();
    }

    /// Starts one instance and supervises it until it exits.
    async fn run_instance(self: Arc<Self>, id: u64, kill: Arc<Notify>) {
        let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(l) => l,
            Err(e) => {
                return self.instance_gone(id, format!("could not open its Runtime API port: {e}"));
            }
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                return self.instance_gone(id, format!("could not open its Runtime API port: {e}"));
            }
        };
        let server =
            tokio::spawn(axum::serve(listener, runtime_api(self.clone(), id)).into_future());

        let spec = &self.spec;
        let mut cmd = Command::new(&spec.executable);
        cmd.args(&spec.args)
            .env_clear()
            .envs(&spec.env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", spec.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream_name())
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                server.abort();
                return self.instance_gone(
                    id,
                    format!("could not start {}: {e}", spec.executable.display()),
                );
            }
        };
        forward_lines(child.stdout.take(), spec.binary.clone());
        forward_lines(child.stderr.take(), spec.binary.clone());
        self.log(format!(
            "cold start: instance {id} (pid {})",
            child.id().unwrap_or(0)
        ));

        let pool = self.clone();
        let init_timer = tokio::spawn(async move {
            tokio::time::sleep(INIT_TIMEOUT).await;
            pool.on_init_timeout(id);
        });
        let status = tokio::select! {
            status = child.wait() => status,
            _ = kill.notified() => {
                let _ = child.start_kill();
                child.wait().await
            }
        };
        init_timer.abort();
        server.abort();
        let how = match status {
            Ok(s) => match s.code() {
                Some(code) => format!("exit status {code}"),
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    format!("signal {}", s.signal().unwrap_or(0))
                }
            },
            Err(e) => format!("unknown status ({e})"),
        };
        self.instance_gone(id, how);
    }

    fn on_init_timeout(&self, id: u64) {
        let mut st = self.lock();
        if let Some(slot) = st.instances.get_mut(&id)
            && let Phase::Starting { init_error } = &mut slot.phase
        {
            self.log(format!(
                "instance {id} did not ask for work within {INIT_TIMEOUT:?}: killing it"
            ));
            init_error.get_or_insert(FunctionError {
                error_type: "Runtime.InitTimeout".into(),
                error_message: format!("Init timed out after {} seconds", INIT_TIMEOUT.as_secs()),
            });
            slot.kill.notify_one();
        }
    }

    /// Cleans up after an instance's process exited, failing what it owed.
    fn instance_gone(self: &Arc<Self>, id: u64, how: String) {
        let to_start = {
            let mut st = self.lock();
            let Some(slot) = st.instances.remove(&id) else {
                return;
            };
            match slot.phase {
                Phase::Busy(f) => {
                    self.log(format!(
                        "instance {id} exited ({how}) during RequestId: {}",
                        f.request_id
                    ));
                    let _ = f.reply.send(InvokeOutcome::Error(FunctionError {
                        error_type: "Runtime.ExitError".into(),
                        error_message: format!(
                            "RequestId: {} Error: Runtime exited with error: {how}",
                            f.request_id
                        ),
                    }));
                }
                Phase::Starting { init_error } if !st.closed => {
                    let error = init_error.unwrap_or_else(|| FunctionError {
                        error_type: "Runtime.ExitError".into(),
                        error_message: format!("Runtime exited during init: {how}"),
                    });
                    self.log(format!(
                        "instance {id} failed to start ({how}): {}: {}",
                        error.error_type, error.error_message
                    ));
                    // The invocation that was waiting for this instance fails, as on Lambda; the
                    // others get a new instance, so a binary that always fails cannot loop forever.
                    while let Some(p) = st.queue.pop_front() {
                        if p.reply.send(InvokeOutcome::Error(error.clone())).is_ok() {
                            break;
                        }
                    }
                }
                _ if !st.closed => self.log(format!("instance {id} exited ({how})")),
                _ => {}
            }
            self.reserve_instances(&mut st)
        };
        self.start_instances(to_start);
    }

    /// `GET /runtime/invocation/next`: the instance is ready for work.
    async fn next(self: &Arc<Self>, id: u64) -> Response {
        enum Next {
            Now(Dispatch),
            Wait(oneshot::Receiver<Dispatch>),
            Never,
            Gone,
        }
        // Decide under the lock, wait after releasing it.
        let next = {
            let mut guard = self.lock();
            let st = &mut *guard;
            match st.instances.get_mut(&id) {
                None => Next::Gone,
                Some(slot) => match std::mem::replace(&mut slot.phase, Phase::Between) {
                    Phase::Doomed => {
                        slot.phase = Phase::Doomed;
                        Next::Never
                    }
                    // It reported an init error and is being killed: no work for it.
                    Phase::Starting {
                        init_error: Some(e),
                    } => {
                        slot.phase = Phase::Starting {
                            init_error: Some(e),
                        };
                        Next::Never
                    }
                    previous => {
                        if let Phase::Busy(f) = previous {
                            // The runtime asked for more work without answering: that one is lost.
                            let _ = f.reply.send(InvokeOutcome::Error(FunctionError {
                                error_type: "Runtime.NoResponse".into(),
                                error_message: format!(
                                    "RequestId: {} Error: the runtime asked for the next invocation without answering this one",
                                    f.request_id
                                ),
                            }));
                        }
                        let mut dispatched = None;
                        while let Some(p) = st.queue.pop_front() {
                            if p.reply.is_closed() {
                                continue;
                            }
                            slot.phase = Phase::Busy(InFlight {
                                request_id: p.request_id.clone(),
                                reply: p.reply,
                            });
                            self.start_timer(id, p.request_id.clone());
                            dispatched = Some(Dispatch {
                                request_id: p.request_id,
                                payload: p.payload,
                                deadline_ms: self.deadline_ms(),
                            });
                            break;
                        }
                        match dispatched {
                            Some(d) => Next::Now(d),
                            None => {
                                let (tx, rx) = oneshot::channel();
                                slot.phase = Phase::Idle(tx);
                                Next::Wait(rx)
                            }
                        }
                    }
                },
            }
        };
        match next {
            Next::Now(d) => self.next_response(d),
            Next::Wait(rx) => match rx.await {
                Ok(d) => self.next_response(d),
                Err(_) => runtime_error(
                    StatusCode::GONE,
                    "InstanceGone",
                    "this instance was stopped",
                ),
            },
            // Never answered: the process is about to be killed.
            Next::Never => std::future::pending().await,
            Next::Gone => runtime_error(
                StatusCode::GONE,
                "InstanceGone",
                "this instance was stopped",
            ),
        }
    }

    fn next_response(&self, d: Dispatch) -> Response {
        let mut headers = HeaderMap::new();
        let mut put = |k: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                headers.insert(k, v);
            }
        };
        put("lambda-runtime-aws-request-id", d.request_id);
        put("lambda-runtime-deadline-ms", d.deadline_ms.to_string());
        put("lambda-runtime-invoked-function-arn", self.arn.clone());
        put(
            "lambda-runtime-trace-id",
            format!(
                "Root=1-{:08x}-{};Parent={};Sampled=0",
                epoch_ms() / 1000,
                random_hex(12),
                random_hex(8)
            ),
        );
        put("content-type", "application/json".into());
        (StatusCode::OK, headers, d.payload).into_response()
    }

    /// Completes the instance's current invocation if it is `request_id`.
    fn complete(&self, id: u64, request_id: &str, outcome: InvokeOutcome) -> Response {
        let mut st = self.lock();
        let Some(slot) = st.instances.get_mut(&id) else {
            return runtime_error(
                StatusCode::GONE,
                "InstanceGone",
                "this instance was stopped",
            );
        };
        if !matches!(&slot.phase, Phase::Busy(f) if f.request_id == request_id) {
            return runtime_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestID",
                "Invalid request ID",
            );
        }
        if let Phase::Busy(f) = std::mem::replace(&mut slot.phase, Phase::Between) {
            let _ = f.reply.send(outcome);
        }
        (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({"status": "OK"})),
        )
            .into_response()
    }

    fn init_error(&self, id: u64, error: FunctionError) -> Response {
        let mut st = self.lock();
        let Some(slot) = st.instances.get_mut(&id) else {
            return runtime_error(
                StatusCode::GONE,
                "InstanceGone",
                "this instance was stopped",
            );
        };
        if !matches!(slot.phase, Phase::Starting { .. }) {
            return runtime_error(
                StatusCode::FORBIDDEN,
                "InvalidStateTransition",
                "init is over",
            );
        }
        self.log(format!(
            "instance {id} reported an init error: {}: {}",
            error.error_type, error.error_message
        ));
        slot.phase = Phase::Starting {
            init_error: Some(error),
        };
        // Lambda discards an environment whose init failed; the waiting invocation fails with it.
        slot.kill.notify_one();
        (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({"status": "OK"})),
        )
            .into_response()
    }
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"errorType": error_type, "errorMessage": message})),
    )
        .into_response()
}

/// `2026/11/21/[$LATEST]<32 hex>`, the shape of a Lambda log stream name.
fn log_stream_name() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}/{:02}/{:02}/[$LATEST]{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        random_hex(16)
    )
}

/// Reads an error body posted by a runtime; accepts any body, as Lambda does.
fn parse_function_error(headers: &HeaderMap, body: &[u8]) -> FunctionError {
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_string();
    match serde_json::from_slice::<FunctionError>(body) {
        Ok(mut e) => {
            if e.error_type.is_empty() {
                e.error_type = header_type;
            }
            e
        }
        Err(_) => FunctionError {
            error_type: header_type,
            error_message: String::from_utf8_lossy(body).into_owned(),
        },
    }
}

type InstanceState = (Arc<Pool>, u64);

/// The Runtime API of one instance.
fn runtime_api(pool: Arc<Pool>, id: u64) -> Router {
    async fn next(State((pool, id)): State<InstanceState>) -> Response {
        pool.next(id).await
    }
    async fn response(
        State((pool, id)): State<InstanceState>,
        Path(request_id): Path<String>,
        body: Body,
    ) -> Response {
        match axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await {
            Ok(bytes) => pool.complete(id, &request_id, InvokeOutcome::Response(bytes.to_vec())),
            Err(_) => {
                let outcome = InvokeOutcome::Error(FunctionError {
                    error_type: "Function.ResponseSizeTooLarge".into(),
                    error_message: format!(
                        "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                    ),
                });
                let _ = pool.complete(id, &request_id, outcome);
                runtime_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    "response too large",
                )
            }
        }
    }
    async fn error(
        State((pool, id)): State<InstanceState>,
        Path(request_id): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        pool.complete(
            id,
            &request_id,
            InvokeOutcome::Error(parse_function_error(&headers, &body)),
        )
    }
    async fn init_error(
        State((pool, id)): State<InstanceState>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        pool.init_error(id, parse_function_error(&headers, &body))
    }
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state((pool, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_is_read_with_the_header_as_fallback_type() {
        let mut h = HeaderMap::new();
        h.insert(
            "lambda-runtime-function-error-type",
            HeaderValue::from_static("Runtime.InitError"),
        );
        let e = parse_function_error(&h, br#"{"errorType":"MyError","errorMessage":"boom"}"#);
        assert_eq!(
            e,
            FunctionError {
                error_type: "MyError".into(),
                error_message: "boom".into()
            }
        );
        let e = parse_function_error(&h, br#"{"errorMessage":"Unauthorized"}"#);
        assert_eq!(e.error_type, "Runtime.InitError");
        assert_eq!(e.error_message, "Unauthorized");
        let e = parse_function_error(&HeaderMap::new(), b"not json");
        assert_eq!(
            e,
            FunctionError {
                error_type: "Unhandled".into(),
                error_message: "not json".into()
            }
        );
    }

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

    #[test]
    fn log_stream_names_look_like_lambdas() {
        let s = log_stream_name();
        assert!(
            s.contains("/[$LATEST]") && s.len() == "2026/11/21/[$LATEST]".len() + 32,
            "{s}"
        );
    }
}
