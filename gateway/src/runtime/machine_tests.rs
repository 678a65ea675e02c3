//! The pool's transitions, without processes, sockets or clocks.

use std::collections::HashSet;
use std::time::Duration;

use super::machine::{Effect, Machine, NextAnswer, Phase, PostAnswer, Waiters};
use super::{FunctionError, InvokeOutcome};

/// Which callers and long-polls are still there; everyone is, unless told otherwise.
#[derive(Default)]
struct World {
    gone_callers: HashSet<String>,
    closed_polls: HashSet<u64>,
}

impl Waiters for World {
    fn caller_waiting(&self, request: &str) -> bool {
        !self.gone_callers.contains(request)
    }
    fn polling(&self, instance: u64) -> bool {
        !self.closed_polls.contains(&instance)
    }
}

fn pool(max: usize) -> Machine {
    Machine::new("F", Duration::from_secs(3), max)
}

fn ok(body: &str) -> InvokeOutcome {
    InvokeOutcome::Response(body.as_bytes().to_vec())
}

fn error_type(fx: &[Effect], request: &str) -> Option<String> {
    fx.iter().find_map(|e| match e {
        Effect::Reply(r, InvokeOutcome::Error(err)) if r == request => Some(err.error_type.clone()),
        _ => None,
    })
}

/// One instance started for `r1`, asked for work and got it.
fn busy_with_r1(m: &mut Machine, w: &World) {
    assert_eq!(m.invoke("r1".into(), w).unwrap(), vec![Effect::Start(1)]);
    let (answer, fx) = m.next(1, w);
    assert_eq!(answer, NextAnswer::Now("r1".into()));
    assert_eq!(fx, vec![Effect::StartTimer(1, "r1".into())]);
}

#[test]
fn when_an_invocation_arrives_at_an_empty_pool_then_one_instance_cold_starts() {
    let (mut m, w) = (pool(10), World::default());
    assert_eq!(m.invoke("r1".into(), &w).unwrap(), vec![Effect::Start(1)]);
    assert_eq!(m.phase(1), Some(&Phase::Starting { init_error: None }));
    assert_eq!(m.queued().collect::<Vec<_>>(), ["r1"]);
}

#[test]
fn when_an_instance_is_idle_then_the_next_invocation_is_dispatched_to_it_warm() {
    let (mut m, w) = (pool(10), World::default());
    busy_with_r1(&mut m, &w);
    assert_eq!(m.complete(1, "r1", ok("a")).0, PostAnswer::Accepted);
    assert_eq!(m.next(1, &w), (NextAnswer::Wait, vec![]));
    assert_eq!(m.phase(1), Some(&Phase::Idle));
    assert_eq!(
        m.invoke("r2".into(), &w).unwrap(),
        vec![
            Effect::Dispatch(1, "r2".into()),
            Effect::StartTimer(1, "r2".into())
        ]
    );
    assert_eq!(m.instance_count(), 1);
}

#[test]
fn when_an_instance_has_just_answered_then_a_back_to_back_call_waits_for_it() {
    let (mut m, w) = (pool(10), World::default());
    busy_with_r1(&mut m, &w);
    let (answer, fx) = m.complete(1, "r1", ok("a"));
    assert_eq!(answer, PostAnswer::Accepted);
    assert_eq!(fx, vec![Effect::Reply("r1".into(), ok("a"))]);
    assert_eq!(
        m.invoke("r2".into(), &w).unwrap(),
        vec![],
        "no second cold start"
    );
    assert_eq!(m.next(1, &w).0, NextAnswer::Now("r2".into()));
}

#[test]
fn when_more_invocations_wait_than_the_limit_then_only_the_limit_starts() {
    let (mut m, w) = (pool(2), World::default());
    let mut starts = 0;
    for r in ["a", "b", "c", "d"] {
        starts += m
            .invoke(r.into(), &w)
            .unwrap()
            .iter()
            .filter(|e| matches!(e, Effect::Start(_)))
            .count();
    }
    assert_eq!((starts, m.instance_count()), (2, 2));
    assert_eq!(m.queued().count(), 4);
}

#[test]
fn when_the_time_is_up_then_the_caller_gets_sandbox_timedout_and_the_instance_is_killed() {
    let (mut m, w) = (pool(1), World::default());
    busy_with_r1(&mut m, &w);
    let fx = m.timed_out(1, "r1");
    assert_eq!(error_type(&fx, "r1").as_deref(), Some("Sandbox.Timedout"));
    assert!(fx.contains(&Effect::Kill(1)));
    assert_eq!(m.phase(1), Some(&Phase::Doomed));
    assert_eq!(
        m.next(1, &w).0,
        NextAnswer::Never,
        "a doomed instance gets no work"
    );
    assert_eq!(m.timed_out(1, "r1"), vec![], "a timer fires once");
}

#[test]
fn when_a_timer_fires_after_the_answer_then_nothing_happens() {
    let (mut m, w) = (pool(1), World::default());
    busy_with_r1(&mut m, &w);
    m.complete(1, "r1", ok("a"));
    assert_eq!(m.timed_out(1, "r1"), vec![]);
    assert_eq!(m.phase(1), Some(&Phase::Between));
}

#[test]
fn when_a_busy_instance_crashes_then_its_caller_gets_an_exit_error_and_the_queue_gets_a_new_instance()
 {
    let (mut m, w) = (pool(1), World::default());
    busy_with_r1(&mut m, &w);
    m.invoke("r2".into(), &w).unwrap();
    let fx = m.instance_gone(1, "signal 9", &w);
    assert_eq!(error_type(&fx, "r1").as_deref(), Some("Runtime.ExitError"));
    assert!(fx.contains(&Effect::Start(2)), "{fx:?}");
    assert_eq!(m.instance_gone(1, "signal 9", &w), vec![], "gone once");
}

#[test]
fn when_an_instance_dies_during_init_then_one_waiting_caller_fails_with_the_init_error() {
    let (mut m, w) = (pool(1), World::default());
    m.invoke("r1".into(), &w).unwrap();
    m.invoke("r2".into(), &w).unwrap();
    let error = FunctionError {
        error_type: "Runtime.InitError".into(),
        error_message: "no config".into(),
    };
    assert_eq!(
        m.init_error(1, error.clone()),
        (
            PostAnswer::Accepted,
            vec![
                Effect::Log(
                    "instance 1 reported an init error: Runtime.InitError: no config".into()
                ),
                Effect::Kill(1)
            ]
        )
    );
    assert_eq!(m.next(1, &w).0, NextAnswer::Never);
    let fx = m.instance_gone(1, "signal 9", &w);
    assert!(fx.contains(&Effect::Reply("r1".into(), InvokeOutcome::Error(error))));
    assert_eq!(
        error_type(&fx, "r2"),
        None,
        "the next caller gets a new instance"
    );
    assert!(fx.contains(&Effect::Start(2)));
}

#[test]
fn when_init_takes_too_long_then_the_instance_is_killed_with_an_init_timeout() {
    let (mut m, w) = (pool(1), World::default());
    m.invoke("r1".into(), &w).unwrap();
    assert!(m.init_timed_out(1).contains(&Effect::Kill(1)));
    let fx = m.instance_gone(1, "signal 9", &w);
    assert_eq!(
        error_type(&fx, "r1").as_deref(),
        Some("Runtime.InitTimeout")
    );
    assert_eq!(
        m.init_timed_out(1),
        vec![],
        "no timeout for an instance that is gone"
    );
}

#[test]
fn when_a_runtime_asks_for_work_without_answering_then_that_invocation_fails() {
    let (mut m, w) = (pool(1), World::default());
    busy_with_r1(&mut m, &w);
    let (answer, fx) = m.next(1, &w);
    assert_eq!(answer, NextAnswer::Wait);
    assert_eq!(error_type(&fx, "r1").as_deref(), Some("Runtime.NoResponse"));
}

#[test]
fn when_an_answer_names_another_request_or_instance_then_it_is_refused() {
    let (mut m, w) = (pool(1), World::default());
    busy_with_r1(&mut m, &w);
    assert_eq!(
        m.complete(1, "r9", ok("x")),
        (PostAnswer::InvalidRequestId, vec![])
    );
    assert_eq!(m.complete(7, "r1", ok("x")), (PostAnswer::Gone, vec![]));
    assert_eq!(
        m.init_error(1, FunctionError::default_for_tests()).0,
        PostAnswer::InitOver
    );
    assert_eq!(m.next(7, &w).0, NextAnswer::Gone);
}

#[test]
fn when_callers_gave_up_then_their_invocations_are_dropped_not_run() {
    let (mut m, mut w) = (pool(1), World::default());
    m.invoke("r1".into(), &w).unwrap();
    m.invoke("r2".into(), &w).unwrap();
    w.gone_callers.insert("r1".into());
    let (answer, fx) = m.next(1, &w);
    assert_eq!(answer, NextAnswer::Now("r2".into()));
    assert_eq!(fx[0], Effect::Drop("r1".into()));
}

#[test]
fn when_an_idle_instance_long_poll_is_closed_then_another_instance_takes_the_work() {
    let (mut m, mut w) = (pool(2), World::default());
    busy_with_r1(&mut m, &w);
    m.complete(1, "r1", ok("a"));
    m.next(1, &w);
    w.closed_polls.insert(1);
    let fx = m.invoke("r2".into(), &w).unwrap();
    assert_eq!(m.phase(1), Some(&Phase::Between), "left for the reaper");
    assert_eq!(
        fx,
        vec![],
        "instance 1 counts as coming back, so no cold start yet"
    );
    let fx = m.instance_gone(1, "exit status 0", &w);
    assert!(fx.contains(&Effect::Start(2)), "{fx:?}");
}

#[test]
fn when_a_dispatch_cannot_be_delivered_then_the_invocation_goes_back_to_the_front() {
    let (mut m, w) = (pool(1), World::default());
    busy_with_r1(&mut m, &w);
    m.complete(1, "r1", ok("a"));
    m.next(1, &w);
    m.invoke("r2".into(), &w).unwrap();
    m.invoke("r3".into(), &w).unwrap();
    m.dispatch_failed(1, "r2".into(), &w);
    assert_eq!(m.queued().collect::<Vec<_>>(), ["r2", "r3"]);
}

#[test]
fn when_the_pool_shuts_down_then_queued_calls_are_dropped_instances_killed_and_new_calls_refused() {
    let (mut m, w) = (pool(1), World::default());
    busy_with_r1(&mut m, &w);
    m.invoke("r2".into(), &w).unwrap();
    assert_eq!(
        m.shutdown(),
        vec![Effect::Drop("r2".into()), Effect::Kill(1)]
    );
    assert_eq!(m.invoke("r3".into(), &w), None);
    let fx = m.instance_gone(1, "signal 9", &w);
    assert_eq!(error_type(&fx, "r1").as_deref(), Some("Runtime.ExitError"));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Start(_))));
}

impl FunctionError {
    fn default_for_tests() -> Self {
        FunctionError {
            error_type: "E".into(),
            error_message: "m".into(),
        }
    }
}

#[test]
fn when_prewarmed_then_one_instance_starts_without_an_invocation_and_serves_the_first() {
    let (mut m, w) = (pool(10), World::default());
    assert_eq!(m.prewarm(), vec![Effect::Start(1)]);
    assert_eq!(m.prewarm(), vec![], "one is enough");
    assert!(!m.is_warm());
    assert_eq!(m.next(1, &w), (NextAnswer::Wait, vec![]));
    assert!(m.is_warm());
    assert_eq!(
        m.invoke("r1".into(), &w).unwrap(),
        vec![
            Effect::Dispatch(1, "r1".into()),
            Effect::StartTimer(1, "r1".into())
        ]
    );
}

#[test]
fn when_a_prewarmed_instance_fails_to_start_then_its_error_is_kept_and_nothing_restarts() {
    let (mut m, w) = (pool(10), World::default());
    m.prewarm();
    let fx = m.instance_gone(1, "exit status 1", &w);
    assert!(!fx.iter().any(|e| matches!(e, Effect::Start(_))), "{fx:?}");
    assert_eq!(m.instance_count(), 0);
    assert_eq!(
        m.last_init_failure().map(|e| e.error_type.as_str()),
        Some("Runtime.ExitError")
    );
}

#[test]
fn when_the_binary_changes_then_idle_instances_stop_now_and_busy_ones_after_answering() {
    let (mut m, w) = (pool(10), World::default());
    // Instance 1 busy with r1; instance 2 idle.
    busy_with_r1(&mut m, &w);
    m.invoke("r2".into(), &w).unwrap();
    assert_eq!(m.next(2, &w).0, NextAnswer::Now("r2".into()));
    m.complete(2, "r2", ok("b"));
    assert_eq!(m.next(2, &w), (NextAnswer::Wait, vec![]));
    // WHEN the binary changes
    assert_eq!(m.retire_all(), vec![Effect::Kill(2)]);
    assert_eq!(m.phase(2), Some(&Phase::Doomed));
    // THEN a new invocation cold-starts a new instance rather than waiting for the old ones
    assert_eq!(m.invoke("r3".into(), &w).unwrap(), vec![Effect::Start(3)]);
    // AND the busy one answers its invocation, then is stopped instead of getting more work
    assert_eq!(m.complete(1, "r1", ok("a")).0, PostAnswer::Accepted);
    let (answer, fx) = m.next(1, &w);
    assert_eq!(answer, NextAnswer::Never);
    assert!(fx.contains(&Effect::Kill(1)), "{fx:?}");
    // AND the new instance takes r3
    assert_eq!(m.next(3, &w).0, NextAnswer::Now("r3".into()));
}
