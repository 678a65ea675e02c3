//! Drives one function's [`Machine`]: holds the channels its effects act on (callers waiting
//! for an outcome, instances waiting in `next`, kill switches), carries the effects out under
//! the pool's lock, and turns timers and process exits into events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

use super::machine::{Effect, InstanceId, Machine, NextAnswer, PostAnswer, RequestId, Waiters};
use super::{FunctionError, FunctionSpec, InvokeError, InvokeOutcome, InvokeReport};
use crate::util::{epoch_ms, uuid_v4};

/// What the `next` long-poll hands to the runtime.
pub(super) struct Dispatch {
    /// `lambda-runtime-aws-request-id`.
    pub request_id: String,
    /// The event.
    pub payload: Vec<u8>,
    /// `lambda-runtime-deadline-ms`: when the function's timeout strikes.
    pub deadline_ms: u128,
    /// The X-Ray trace header of the request that caused the invocation, if any.
    pub trace: Option<String>,
}

/// An invocation's caller and, until an instance takes it, its event.
struct Call {
    payload: Option<Vec<u8>>,
    reply: oneshot::Sender<(InvokeOutcome, Option<Duration>)>,
    /// When an instance took it: Lambda's `Duration` runs from there to the answer.
    dispatched: Option<Instant>,
    /// The caller's X-Ray trace header (`Root=1-...`), handed on to the function.
    trace: Option<String>,
}

/// Everything the lock guards: the machine and the channels its ids stand for.
struct Shared {
    machine: Machine,
    calls: HashMap<RequestId, Call>,
    polls: HashMap<InstanceId, oneshot::Sender<Dispatch>>,
    kills: HashMap<InstanceId, Arc<Notify>>,
    /// The binary the newest instance was started from.
    loaded: Option<BinaryId>,
    /// The last output of the last instance that exited, to explain a failed start.
    last_output: Option<String>,
}

/// What identifies one build of a binary on disk: a rebuild changes at least one of these
/// (cargo writes a new file and links it in place: a new inode; `cp` over it: a new mtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BinaryId {
    dev: u64,
    inode: u64,
    size: u64,
    mtime_ns: i128,
}

impl BinaryId {
    /// The identity of the file at `path` now (following symlinks); `None` if it is missing.
    pub fn of(path: &std::path::Path) -> Option<BinaryId> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(BinaryId {
            dev: m.dev(),
            inode: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })
    }
}

/// The channels' state, as the machine asks for it.
struct Live<'a> {
    calls: &'a HashMap<RequestId, Call>,
    polls: &'a HashMap<InstanceId, oneshot::Sender<Dispatch>>,
}

impl Waiters for Live<'_> {
    fn caller_waiting(&self, request: &str) -> bool {
        self.calls
            .get(request)
            .is_some_and(|c| !c.reply.is_closed())
    }
    fn polling(&self, instance: InstanceId) -> bool {
        self.polls.get(&instance).is_some_and(|p| !p.is_closed())
    }
}

/// One function's instance pool.
pub(super) struct Pool {
    /// How to run the function.
    pub spec: FunctionSpec,
    /// The function's ARN, given to every invocation.
    pub arn: String,
    /// Memory and CPU limits for its instances, when the gateway runs with them.
    pub limits: std::sync::OnceLock<Arc<super::limits::Limits>>,
    shared: Mutex<Shared>,
}

impl Pool {
    /// An empty pool: no process starts before the first invocation.
    pub fn new(spec: FunctionSpec, arn: String) -> Self {
        let machine = Machine::new(spec.name.clone(), spec.timeout, spec.max_instances);
        Pool {
            spec,
            arn,
            limits: std::sync::OnceLock::new(),
            shared: Mutex::new(Shared {
                machine,
                calls: HashMap::new(),
                polls: HashMap::new(),
                kills: HashMap::new(),
                loaded: None,
                last_output: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock leaves the state consistent enough to go on with.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs one transition under the lock and carries out its effects.
    fn step<T>(
        self: &Arc<Self>,
        transition: impl FnOnce(&mut Machine, &Live) -> (T, Vec<Effect>),
    ) -> T {
        let mut guard = self.lock();
        let sh = &mut *guard;
        let live = Live {
            calls: &sh.calls,
            polls: &sh.polls,
        };
        let (out, fx) = transition(&mut sh.machine, &live);
        self.apply(sh, fx);
        out
    }

    /// A log line about this function, `[FunctionName] ...`.
    pub fn log(&self, msg: impl std::fmt::Display) {
        tracing::info!("[{}] {msg}", self.spec.name);
    }

    /// How many instances exist, starting ones included.
    pub fn instance_count(&self) -> usize {
        self.lock().machine.instance_count()
    }

    fn deadline_ms(&self) -> u128 {
        epoch_ms() + self.spec.timeout.as_millis()
    }

    fn apply(self: &Arc<Self>, sh: &mut Shared, fx: Vec<Effect>) {
        for effect in fx {
            match effect {
                Effect::Start(id) => {
                    let kill = Arc::new(Notify::new());
                    sh.kills.insert(id, kill.clone());
                    tokio::spawn(self.clone().run_instance(id, kill));
                }
                Effect::Kill(id) => {
                    if let Some(kill) = sh.kills.get(&id) {
                        kill.notify_one();
                    }
                }
                Effect::Dispatch(id, request_id) => {
                    let (payload, trace) = sh
                        .calls
                        .get_mut(&request_id)
                        .map(|c| {
                            c.dispatched = Some(Instant::now());
                            (c.payload.take().unwrap_or_default(), c.trace.clone())
                        })
                        .unwrap_or_default();
                    let dispatch = Dispatch {
                        request_id,
                        payload,
                        deadline_ms: self.deadline_ms(),
                        trace,
                    };
                    let sent = match sh.polls.remove(&id) {
                        Some(poll) => poll.send(dispatch),
                        None => Err(dispatch),
                    };
                    // The long-poll closed since the machine asked: the event goes elsewhere.
                    if let Err(d) = sent {
                        if let Some(call) = sh.calls.get_mut(&d.request_id) {
                            call.payload = Some(d.payload);
                        }
                        let live = Live {
                            calls: &sh.calls,
                            polls: &sh.polls,
                        };
                        let more = sh.machine.dispatch_failed(id, d.request_id, &live);
                        self.apply(sh, more);
                    }
                }
                Effect::StartTimer(id, request_id) => {
                    let pool = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(pool.spec.timeout).await;
                        pool.step(|m, _| ((), m.timed_out(id, &request_id)));
                    });
                }
                Effect::Reply(request_id, outcome) => {
                    if let Some(call) = sh.calls.remove(&request_id) {
                        let duration = call.dispatched.map(|t| t.elapsed());
                        let _ = call.reply.send((outcome, duration));
                    }
                }
                Effect::Drop(request_id) => {
                    sh.calls.remove(&request_id);
                }
                Effect::Log(line) => self.log(line),
            }
        }
    }

    /// Records the binary a new instance starts from.
    pub fn loading(&self, id: Option<BinaryId>) {
        self.lock().loaded = id;
    }

    /// Keeps the last output line of an exited instance.
    pub fn last_output(&self, line: Option<String>) {
        if line.is_some() {
            self.lock().last_output = line;
        }
    }

    /// Starts one instance now unless there is one (see [`Machine::prewarm`]).
    pub fn prewarm(self: &Arc<Self>) {
        self.step(|m, _| ((), m.prewarm()));
    }

    /// `Some(Ok)` once an instance is idle, `Some(Err(why))` once the pool is empty after a
    /// failed start, `None` while an instance is still starting.
    pub fn warm_state(&self) -> Option<Result<(), String>> {
        let sh = self.lock();
        if sh.machine.is_warm() {
            return Some(Ok(()));
        }
        if sh.machine.instance_count() > 0 {
            return None;
        }
        let why = match sh.machine.last_init_failure() {
            Some(e) => {
                // The runtime exited without reporting: its last line says why (a config
                // error printed by `main`, a panic); else the runtime's own report.
                match (&sh.last_output, e.error_type.as_str()) {
                    (Some(line), "Runtime.ExitError") => format!(
                        "{} ({}: {})",
                        line.strip_prefix("Error: ").unwrap_or(line),
                        e.error_type,
                        e.error_message
                    ),
                    _ => format!("{}: {}", e.error_type, e.error_message),
                }
            }
            None => "it stopped before it was ready".into(),
        };
        Some(Err(why))
    }

    /// The binary on disk changed since the newest instance started: retire the instances
    /// of the old one, so this and later invocations cold-start the new one. One `stat` per
    /// invocation: microseconds, against the milliseconds of any invocation.
    fn reload_if_changed(self: &Arc<Self>, sh: &mut Shared, now: Option<BinaryId>) {
        let (Some(old), Some(new)) = (sh.loaded, now) else {
            return;
        };
        if old == new {
            return;
        }
        sh.loaded = Some(new);
        if sh.machine.instance_count() > 0 {
            self.log(format!(
                "{} changed on disk: new instances run the new binary; idle ones stop now, busy ones after their invocation",
                self.spec.executable.display()
            ));
        }
        let fx = sh.machine.retire_all();
        self.apply(sh, fx);
    }

    /// Runs one invocation to its outcome: with it its Lambda request id, and how long the
    /// function took (Lambda's `Duration`: from the hand-over to the answer; none if no
    /// instance ever took it).
    pub async fn invoke(
        self: &Arc<Self>,
        payload: Vec<u8>,
        trace: Option<String>,
    ) -> Result<(InvokeOutcome, InvokeReport), InvokeError> {
        let request_id = uuid_v4();
        let (reply, outcome) = oneshot::channel();
        let on_disk = BinaryId::of(&self.spec.executable);
        {
            let mut guard = self.lock();
            let sh = &mut *guard;
            if sh.machine.is_closed() {
                return Err(InvokeError::ShuttingDown);
            }
            self.reload_if_changed(sh, on_disk);
            sh.calls.insert(
                request_id.clone(),
                Call {
                    payload: Some(payload),
                    reply,
                    dispatched: None,
                    trace,
                },
            );
            let live = Live {
                calls: &sh.calls,
                polls: &sh.polls,
            };
            let fx = sh
                .machine
                .invoke(request_id.clone(), &live)
                .unwrap_or_default();
            self.apply(sh, fx);
        }
        let (outcome, duration) = outcome.await.map_err(|_| InvokeError::ShuttingDown)?;
        Ok((
            outcome,
            InvokeReport {
                request_id,
                duration,
            },
        ))
    }

    /// The instance asks for work; waits until there is some. `None`: the instance is not
    /// in the pool (any more) or was stopped while waiting.
    pub async fn next(self: &Arc<Self>, id: InstanceId) -> Option<Dispatch> {
        enum Next {
            Now(Dispatch),
            Wait(oneshot::Receiver<Dispatch>),
            Never,
            Gone,
        }
        // Decide under the lock, wait after releasing it.
        let next = {
            let mut guard = self.lock();
            let sh = &mut *guard;
            // An earlier long-poll of the same instance is over: it learns the instance is gone.
            sh.polls.remove(&id);
            let live = Live {
                calls: &sh.calls,
                polls: &sh.polls,
            };
            let (answer, fx) = sh.machine.next(id, &live);
            self.apply(sh, fx);
            match answer {
                NextAnswer::Now(request_id) => {
                    let (payload, trace) = sh
                        .calls
                        .get_mut(&request_id)
                        .map(|c| {
                            c.dispatched = Some(Instant::now());
                            (c.payload.take().unwrap_or_default(), c.trace.clone())
                        })
                        .unwrap_or_default();
                    Next::Now(Dispatch {
                        request_id,
                        payload,
                        deadline_ms: self.deadline_ms(),
                        trace,
                    })
                }
                NextAnswer::Wait => {
                    let (tx, rx) = oneshot::channel();
                    sh.polls.insert(id, tx);
                    Next::Wait(rx)
                }
                NextAnswer::Never => Next::Never,
                NextAnswer::Gone => Next::Gone,
            }
        };
        match next {
            Next::Now(d) => Some(d),
            Next::Wait(rx) => rx.await.ok(),
            // Never answered: the process is about to be killed.
            Next::Never => std::future::pending().await,
            Next::Gone => None,
        }
    }

    /// The instance posts the outcome of `request_id`.
    pub fn complete(
        self: &Arc<Self>,
        id: InstanceId,
        request_id: &str,
        outcome: InvokeOutcome,
    ) -> PostAnswer {
        self.step(|m, _| m.complete(id, request_id, outcome))
    }

    /// The instance reports a failed init.
    pub fn init_error(self: &Arc<Self>, id: InstanceId, error: FunctionError) -> PostAnswer {
        self.step(|m, _| m.init_error(id, error))
    }

    /// The instance's process started.
    pub fn started(self: &Arc<Self>, id: InstanceId, pid: u32) {
        self.step(|m, _| ((), m.started(id, pid)));
    }

    /// The init timeout passed for the instance.
    pub fn init_timed_out(self: &Arc<Self>, id: InstanceId) {
        self.step(|m, _| ((), m.init_timed_out(id)));
    }

    /// The instance's process exited (or never started).
    pub fn instance_gone(self: &Arc<Self>, id: InstanceId, how: &str) {
        let mut guard = self.lock();
        let sh = &mut *guard;
        sh.kills.remove(&id);
        sh.polls.remove(&id);
        let live = Live {
            calls: &sh.calls,
            polls: &sh.polls,
        };
        let fx = sh.machine.instance_gone(id, how, &live);
        self.apply(sh, fx);
    }

    /// Refuses new invocations, drops queued ones, kills every instance.
    pub fn shutdown(self: &Arc<Self>) {
        self.step(|m, _| ((), m.shutdown()));
    }
}
