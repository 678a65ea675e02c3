// The failed-login limits, with the clock passed in (each test picks its own instants, so
// windows never depend on when it runs), as every `LoginLimitStore` promises. Included by
// `stores.rs` once per implementation (see there).

#[tokio::test]
async fn twenty_concurrent_attempts_let_exactly_the_limit_through() {
    // GIVEN a limit of 5 per account and source
    let store = store().await;
    let limits = limits(5, 0, 0);
    let attempt = at("ann@example.com", "198.51.100.1", T0 + 10);
    // WHEN 20 attempts race
    let gates = futures_util::future::join_all(
        (0..20).map(|_| store.check_login_limits(&limits, &attempt)),
    )
    .await;
    // THEN the atomic ADD gave each its own number: exactly 5 go on
    let open = gates
        .into_iter()
        .filter(|g| *g.as_ref().unwrap() == OPEN)
        .count();
    assert_eq!(open, 5);
}

#[tokio::test]
async fn past_the_limit_the_gate_closes_until_the_window_ends() {
    let store = store().await;
    let limits = limits(3, 0, 0);
    for i in 0..3 {
        let a = at("ann@example.com", "198.51.100.1", T0 + i);
        assert_eq!(gate(&store, &limits, &a).await, OPEN);
    }
    let late = at("ann@example.com", "198.51.100.1", T0 + 600);
    assert_eq!(
        gate(&store, &limits, &late).await,
        LoginGate::Closed {
            retry_after_secs: WINDOW - 600
        }
    );
    // Knocking on it during the lockout does not make it longer.
    for _ in 0..5 {
        gate(&store, &limits, &late).await;
    }
    let next_window = at("ann@example.com", "198.51.100.1", T0 + WINDOW);
    assert_eq!(gate(&store, &limits, &next_window).await, OPEN);
}

#[tokio::test]
async fn one_accounts_lockout_leaves_its_other_sources_and_other_accounts_alone() {
    let store = store().await;
    let limits = limits(2, 0, 0);
    let attacker = at("ann@example.com", "198.51.100.66", T0);
    for _ in 0..3 {
        gate(&store, &limits, &attacker).await;
    }
    assert_ne!(gate(&store, &limits, &attacker).await, OPEN);
    assert_eq!(
        gate(&store, &limits, &at("ann@example.com", "203.0.113.5", T0)).await,
        OPEN,
        "the owner elsewhere"
    );
    assert_eq!(
        gate(&store, &limits, &at("bob@example.com", "198.51.100.66", T0)).await,
        OPEN,
        "another account from the same source"
    );
}

#[tokio::test]
async fn a_success_clears_the_count_of_its_account_and_source() {
    let store = store().await;
    let limits = limits(3, 0, 0);
    let a = at("ann@example.com", "198.51.100.1", T0);
    for _ in 0..3 {
        assert_eq!(gate(&store, &limits, &a).await, OPEN);
    }
    store.record_login_success(&limits, &a).await.unwrap();
    for _ in 0..3 {
        assert_eq!(gate(&store, &limits, &a).await, OPEN);
    }
    assert_ne!(gate(&store, &limits, &a).await, OPEN);
}

#[tokio::test]
async fn a_source_spraying_many_accounts_is_stopped_and_successes_do_not_count() {
    let store = store().await;
    let limits = limits(0, 0, 4);
    let ip = "198.51.100.9";
    // Successes give their attempt back: any number of them never close the gate.
    for i in 0..6 {
        let a = at(&format!("user{i}@example.com"), ip, T0);
        assert_eq!(gate(&store, &limits, &a).await, OPEN);
        store.record_login_success(&limits, &a).await.unwrap();
    }
    for i in 0..4 {
        let a = at(&format!("victim{i}@example.com"), ip, T0);
        assert_eq!(gate(&store, &limits, &a).await, OPEN);
    }
    let fifth = at("victim4@example.com", ip, T0);
    assert_ne!(gate(&store, &limits, &fifth).await, OPEN);
    assert_eq!(
        gate(
            &store,
            &limits,
            &at("victim4@example.com", "198.51.100.10", T0)
        )
        .await,
        OPEN
    );
}

#[tokio::test]
async fn many_sources_close_an_account_to_new_sources_but_not_to_known_ones() {
    let store = store().await;
    let limits = limits(2, 6, 0);
    let user = "ann@example.com";
    // GIVEN the owner logged in from home a while ago
    let home = at(user, "203.0.113.1", T0 - 5 * 24 * 3600);
    assert_eq!(gate(&store, &limits, &home).await, OPEN);
    store.record_login_success(&limits, &home).await.unwrap();
    // WHEN three attacker sources fail twice each (each under its own limit of 2)
    for bot in 1..=3 {
        for _ in 0..2 {
            let a = at(user, &format!("198.51.100.{bot}"), T0);
            assert_eq!(gate(&store, &limits, &a).await, OPEN);
        }
    }
    // THEN a new source is refused, home is not, and neither is another account
    assert!(matches!(
        gate(&store, &limits, &at(user, "192.0.2.77", T0)).await,
        LoginGate::Closed { .. }
    ));
    assert_eq!(
        gate(&store, &limits, &at(user, "203.0.113.1", T0)).await,
        OPEN
    );
    assert_eq!(
        gate(&store, &limits, &at("bob@example.com", "192.0.2.77", T0)).await,
        OPEN
    );
    // A source known too long ago is a new source again.
    let long_after = T0 - 5 * 24 * 3600 + KNOWN_SOURCE_SECS + WINDOW;
    let later: Vec<_> = (1..=7)
        .map(|bot| at(user, &format!("198.51.100.{bot}"), long_after))
        .collect();
    for a in &later {
        gate(&store, &limits, a).await;
    }
    assert!(matches!(
        gate(&store, &limits, &at(user, "203.0.113.1", long_after)).await,
        LoginGate::Closed { .. }
    ));
}

#[tokio::test]
async fn attempts_refused_for_their_source_do_not_count_against_the_account() {
    // One source can close the account only to itself, however often it knocks.
    let store = store().await;
    let limits = limits(2, 3, 0);
    let bot = at("ann@example.com", "198.51.100.1", T0);
    for _ in 0..50 {
        gate(&store, &limits, &bot).await;
    }
    assert_eq!(
        gate(&store, &limits, &at("ann@example.com", "192.0.2.1", T0)).await,
        OPEN
    );
}

#[tokio::test]
async fn limits_of_zero_write_nothing_and_never_close() {
    let store = store().await;
    let limits = limits(0, 0, 0);
    let a = at("ann@example.com", "198.51.100.1", T0);
    for _ in 0..20 {
        assert_eq!(gate(&store, &limits, &a).await, OPEN);
    }
    store.record_login_success(&limits, &a).await.unwrap();
}
