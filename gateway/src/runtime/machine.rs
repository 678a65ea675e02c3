//! One function's instance pool as a pure state machine.
//!
//! [`Machine`] holds which instances exist, what each is doing and which invocations wait;
//! each event (an invocation arrives, an instance asks for work, answers, times out, exits)
//! is a method that changes that data and returns the [`Effect`]s the caller must carry out:
//! start or kill a process, hand an event to a waiting instance, answer a caller, start a
//! timer, log. Nothing here touches a process, a socket, a clock or a channel, so every
//! transition is unit-tested without any (see `machine_tests.rs`).
//!
//! Whether a caller still waits, or an idle instance's long-poll is still open, is asked of
//! the driver through [`Waiters`]: those change outside the pool's lock (a client hangs up).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::{FunctionError, InvokeOutcome};

/// An instance (one process) of the pool.
pub type InstanceId = u64;
/// An invocation's `lambda-runtime-aws-request-id`.
pub type RequestId = String;

/// Lambda's limit for the init phase (process start until the first `next` call).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What an instance is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Process started, has not asked for work yet; the error is set once init failed.
    Starting {
        /// Why init failed (reported by the runtime, or the init timeout), if it did.
        init_error: Option<FunctionError>,
    },
    /// Waiting in `next`: its long-poll is open.
    Idle,
    /// Running an invocation.
    Busy(RequestId),
    /// Answered its invocation (or is being handed one), not yet back in `next`.
    Between,
    /// Being killed (timeout): gets no more work.
    Doomed,
}

/// What the driver must do after a transition, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start the process of a new instance (its slot exists already).
    Start(InstanceId),
    /// Kill an instance's process; [`Machine::instance_gone`] follows when it has exited.
    Kill(InstanceId),
    /// Complete the idle instance's long-poll with this invocation's event.
    Dispatch(InstanceId, RequestId),
    /// After the function's timeout, call [`Machine::timed_out`] with these.
    StartTimer(InstanceId, RequestId),
    /// Answer the caller of an invocation.
    Reply(RequestId, InvokeOutcome),
    /// Forget an invocation nobody will run (its caller gave up, or shutdown): a caller
    /// still waiting learns that it was dropped.
    Drop(RequestId),
    /// A line for the gateway's log.
    Log(String),
}

/// What the driver knows and the machine cannot: the state of channels that close on their own.
pub trait Waiters {
    /// The caller of `request` still waits for its outcome.
    fn caller_waiting(&self, request: &str) -> bool;
    /// The idle instance's `next` long-poll is still open.
    fn polling(&self, instance: InstanceId) -> bool;
}

/// How `next` (an instance asking for work) is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextAnswer {
    /// Run this invocation now.
    Now(RequestId),
    /// Wait: a [`Effect::Dispatch`] will come.
    Wait,
    /// Never answer: the instance is being killed.
    Never,
    /// The instance is not (any more) in the pool.
    Gone,
}

/// How a posted response or error is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostAnswer {
    /// Taken (`202`).
    Accepted,
    /// The instance is not in the pool (`410`).
    Gone,
    /// Not the instance's current invocation (`400`).
    InvalidRequestId,
    /// An init error after init (`403`).
    InitOver,
}

/// One function's pool: instances, their phases and the queue of waiting invocations.
#[derive(Debug, Clone)]
pub struct Machine {
    function: String,
    timeout: Duration,
    max_instances: usize,
    queue: VecDeque<RequestId>,
    instances: BTreeMap<InstanceId, Phase>,
    next_id: InstanceId,
    closed: bool,
    /// Instances that run an old binary: each is stopped when it next asks for work, so a
    /// busy one finishes its invocation first.
    retiring: BTreeSet<InstanceId>,
    /// Why the last instance that failed to start failed.
    last_init_failure: Option<FunctionError>,
}

impl Machine {
    /// An empty pool for `function`, whose invocations may run `timeout`, with at most
    /// `max_instances` processes (at least one).
    pub fn new(function: impl Into<String>, timeout: Duration, max_instances: usize) -> Self {
        Machine {
            function: function.into(),
            timeout,
            max_instances: max_instances.max(1),
            queue: VecDeque::new(),
            instances: BTreeMap::new(),
            next_id: 1,
            closed: false,
            retiring: BTreeSet::new(),
            last_init_failure: None,
        }
    }

    /// How many instances exist, starting ones included.
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// What an instance is doing.
    pub fn phase(&self, id: InstanceId) -> Option<&Phase> {
        self.instances.get(&id)
    }

    /// The invocations waiting for an instance, oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &str> {
        self.queue.iter().map(String::as_str)
    }

    /// The pool is shut down.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// An instance is idle, waiting for work: the function has started at least once.
    pub fn is_warm(&self) -> bool {
        self.instances.values().any(|p| *p == Phase::Idle)
    }

    /// Why the last instance that failed to start failed, if one did.
    pub fn last_init_failure(&self) -> Option<&FunctionError> {
        self.last_init_failure.as_ref()
    }

    /// Starts one instance ahead of any invocation (sam's `--warm-containers EAGER`), unless
    /// the pool has one: the gateway does this at start so that an init error (bad
    /// configuration) shows at once instead of on the first request.
    pub fn prewarm(&mut self) -> Vec<Effect> {
        if self.closed || !self.instances.is_empty() {
            return Vec::new();
        }
        let id = self.next_id;
        self.next_id += 1;
        self.instances
            .insert(id, Phase::Starting { init_error: None });
        vec![Effect::Start(id)]
    }

    /// The function's binary changed on disk: idle instances are killed now, the others
    /// when they next ask for work (a busy one answers its invocation first). Invocations
    /// from now on go to new instances, which run the new binary.
    pub fn retire_all(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        for (id, phase) in self.instances.iter_mut() {
            match phase {
                Phase::Idle => {
                    *phase = Phase::Doomed;
                    fx.push(Effect::Kill(*id));
                }
                Phase::Doomed => {}
                _ => {
                    self.retiring.insert(*id);
                }
            }
        }
        fx
    }

    /// A new invocation: handed to an idle instance, else queued (starting instances for it
    /// within the limit). `None` when the pool is shut down.
    pub fn invoke(&mut self, request: RequestId, w: &impl Waiters) -> Option<Vec<Effect>> {
        if self.closed {
            return None;
        }
        let mut fx = Vec::new();
        if let Some(request) = self.dispatch_to_idle(request, w, &mut fx) {
            self.queue.push_back(request);
        }
        self.reserve(w, &mut fx);
        Some(fx)
    }

    /// The driver could not complete the long-poll of a [`Effect::Dispatch`] (it closed in
    /// the meantime): the invocation goes to another idle instance or back to the queue front.
    pub fn dispatch_failed(
        &mut self,
        id: InstanceId,
        request: RequestId,
        w: &impl Waiters,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        if let Some(phase) = self.instances.get_mut(&id)
            && *phase == Phase::Busy(request.clone())
        {
            // Its long-poll is gone, so its process is dying: the reaper removes the slot.
            *phase = Phase::Between;
        }
        if let Some(request) = self.dispatch_to_idle(request, w, &mut fx) {
            self.queue.push_front(request);
        }
        self.reserve(w, &mut fx);
        fx
    }

    fn dispatch_to_idle(
        &mut self,
        request: RequestId,
        w: &impl Waiters,
        fx: &mut Vec<Effect>,
    ) -> Option<RequestId> {
        for (id, phase) in self.instances.iter_mut() {
            if *phase != Phase::Idle {
                continue;
            }
            if !w.polling(*id) {
                // The long-poll is gone (its process is dying): leave the slot for the reaper.
                *phase = Phase::Between;
                continue;
            }
            *phase = Phase::Busy(request.clone());
            fx.push(Effect::Dispatch(*id, request.clone()));
            fx.push(Effect::StartTimer(*id, request));
            return None;
        }
        Some(request)
    }

    /// Reserves slots for the instances to start: one per queued invocation that no starting
    /// instance will take, within the limit. An instance that has just answered is back in
    /// `next` within moments, so it counts as coming too: a back-to-back call reuses it
    /// instead of cold-starting a second process. (If it dies instead, the reaper starts one.)
    fn reserve(&mut self, w: &impl Waiters, fx: &mut Vec<Effect>) {
        if self.closed {
            return;
        }
        // Callers that gave up need no instance; the driver forgets their payloads.
        let (waiting, gone): (VecDeque<_>, VecDeque<_>) =
            self.queue.drain(..).partition(|r| w.caller_waiting(r));
        self.queue = waiting;
        fx.extend(gone.into_iter().map(Effect::Drop));
        let coming = self
            .instances
            .iter()
            .filter(|(id, p)| {
                matches!(p, Phase::Starting { .. } | Phase::Between) && !self.retiring.contains(id)
            })
            .count();
        let wanted = self.queue.len().saturating_sub(coming);
        let room = self.max_instances.saturating_sub(self.instances.len());
        for _ in 0..wanted.min(room) {
            let id = self.next_id;
            self.next_id += 1;
            self.instances
                .insert(id, Phase::Starting { init_error: None });
            fx.push(Effect::Start(id));
        }
    }

    /// The instance's process started (`pid` for the log); the driver calls
    /// [`Machine::init_timed_out`] if it has not asked for work after [`INIT_TIMEOUT`].
    pub fn started(&self, id: InstanceId, pid: u32) -> Vec<Effect> {
        vec![Effect::Log(format!(
            "cold start: instance {id} (pid {pid})"
        ))]
    }

    /// The invocation's time is up: if the instance still runs it, the caller gets
    /// `Sandbox.Timedout` and the instance is killed.
    pub fn timed_out(&mut self, id: InstanceId, request: &str) -> Vec<Effect> {
        let Some(phase) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        if !matches!(phase, Phase::Busy(r) if r == request) {
            return Vec::new();
        }
        *phase = Phase::Doomed;
        let secs = self.timeout.as_secs_f64();
        vec![
            Effect::Log(format!(
                "RequestId: {request} timed out after {secs:.2} s: killing instance {id}"
            )),
            Effect::Reply(
                request.to_string(),
                InvokeOutcome::Error(FunctionError {
                    error_type: "Sandbox.Timedout".into(),
                    error_message: format!(
                        "RequestId: {request} Error: Task timed out after {secs:.2} seconds"
                    ),
                }),
            ),
            Effect::Kill(id),
        ]
    }

    /// [`INIT_TIMEOUT`] passed: an instance still starting is killed with `Runtime.InitTimeout`.
    pub fn init_timed_out(&mut self, id: InstanceId) -> Vec<Effect> {
        let Some(Phase::Starting { init_error }) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        init_error.get_or_insert(FunctionError {
            error_type: "Runtime.InitTimeout".into(),
            error_message: format!("Init timed out after {} seconds", INIT_TIMEOUT.as_secs()),
        });
        vec![
            Effect::Log(format!(
                "instance {id} did not ask for work within {INIT_TIMEOUT:?}: killing it"
            )),
            Effect::Kill(id),
        ]
    }

    /// The instance's process exited (`how`: "exit status 1", "signal 9", ...): what it owed
    /// fails, and instances start for what still waits.
    pub fn instance_gone(&mut self, id: InstanceId, how: &str, w: &impl Waiters) -> Vec<Effect> {
        let Some(phase) = self.instances.remove(&id) else {
            return Vec::new();
        };
        self.retiring.remove(&id);
        let mut fx = Vec::new();
        match phase {
            Phase::Busy(request) => {
                fx.push(Effect::Log(format!(
                    "instance {id} exited ({how}) during RequestId: {request}"
                )));
                let error = FunctionError {
                    error_type: "Runtime.ExitError".into(),
                    error_message: format!(
                        "RequestId: {request} Error: Runtime exited with error: {how}"
                    ),
                };
                fx.push(Effect::Reply(request, InvokeOutcome::Error(error)));
            }
            Phase::Starting { init_error } if !self.closed => {
                let error = init_error.unwrap_or_else(|| FunctionError {
                    error_type: "Runtime.ExitError".into(),
                    error_message: format!("Runtime exited during init: {how}"),
                });
                fx.push(Effect::Log(format!(
                    "instance {id} failed to start ({how}): {}: {}",
                    error.error_type, error.error_message
                )));
                self.last_init_failure = Some(error.clone());
                // The invocation that was waiting for this instance fails, as on Lambda; the
                // others get a new instance, so a binary that always fails cannot loop forever.
                while let Some(request) = self.queue.pop_front() {
                    if w.caller_waiting(&request) {
                        fx.push(Effect::Reply(request, InvokeOutcome::Error(error)));
                        break;
                    }
                    fx.push(Effect::Drop(request));
                }
            }
            _ if !self.closed => fx.push(Effect::Log(format!("instance {id} exited ({how})"))),
            _ => {}
        }
        self.reserve(w, &mut fx);
        fx
    }

    /// The instance asks for work (`GET .../invocation/next`).
    pub fn next(&mut self, id: InstanceId, w: &impl Waiters) -> (NextAnswer, Vec<Effect>) {
        let mut fx = Vec::new();
        let Some(phase) = self.instances.get_mut(&id) else {
            return (NextAnswer::Gone, fx);
        };
        match phase {
            // Being killed, or it reported an init error and is being killed: no work for it.
            Phase::Doomed
            | Phase::Starting {
                init_error: Some(_),
            } => return (NextAnswer::Never, fx),
            Phase::Busy(request) => {
                // The runtime asked for more work without answering: that one is lost.
                let error = FunctionError {
                    error_type: "Runtime.NoResponse".into(),
                    error_message: format!(
                        "RequestId: {request} Error: the runtime asked for the next invocation without answering this one"
                    ),
                };
                fx.push(Effect::Reply(request.clone(), InvokeOutcome::Error(error)));
            }
            _ => {}
        }
        if self.retiring.remove(&id) {
            *phase = Phase::Doomed;
            fx.push(Effect::Log(format!(
                "instance {id} runs the old binary: stopping it"
            )));
            fx.push(Effect::Kill(id));
            return (NextAnswer::Never, fx);
        }
        while let Some(request) = self.queue.pop_front() {
            if !w.caller_waiting(&request) {
                fx.push(Effect::Drop(request));
                continue;
            }
            *phase = Phase::Busy(request.clone());
            fx.push(Effect::StartTimer(id, request.clone()));
            return (NextAnswer::Now(request), fx);
        }
        *phase = Phase::Idle;
        (NextAnswer::Wait, fx)
    }

    /// The instance posts the outcome of `request` (`.../response` or `.../error`).
    pub fn complete(
        &mut self,
        id: InstanceId,
        request: &str,
        outcome: InvokeOutcome,
    ) -> (PostAnswer, Vec<Effect>) {
        let Some(phase) = self.instances.get_mut(&id) else {
            return (PostAnswer::Gone, Vec::new());
        };
        if !matches!(phase, Phase::Busy(r) if r == request) {
            return (PostAnswer::InvalidRequestId, Vec::new());
        }
        *phase = Phase::Between;
        (
            PostAnswer::Accepted,
            vec![Effect::Reply(request.to_string(), outcome)],
        )
    }

    /// The instance reports that its init failed (`.../init/error`): Lambda discards such an
    /// environment, and the invocation waiting for it fails with the error when it is gone.
    pub fn init_error(
        &mut self,
        id: InstanceId,
        error: FunctionError,
    ) -> (PostAnswer, Vec<Effect>) {
        let Some(phase) = self.instances.get_mut(&id) else {
            return (PostAnswer::Gone, Vec::new());
        };
        if !matches!(phase, Phase::Starting { .. }) {
            return (PostAnswer::InitOver, Vec::new());
        }
        let log = Effect::Log(format!(
            "instance {id} reported an init error: {}: {}",
            error.error_type, error.error_message
        ));
        *phase = Phase::Starting {
            init_error: Some(error),
        };
        (PostAnswer::Accepted, vec![log, Effect::Kill(id)])
    }

    /// Refuses new invocations, drops the queued ones and kills every instance.
    pub fn shutdown(&mut self) -> Vec<Effect> {
        self.closed = true;
        let mut fx: Vec<Effect> = self.queue.drain(..).map(Effect::Drop).collect();
        fx.extend(self.instances.keys().map(|id| Effect::Kill(*id)));
        fx
    }

    /// The function's name, for log lines.
    pub fn function(&self) -> &str {
        &self.function
    }
}
