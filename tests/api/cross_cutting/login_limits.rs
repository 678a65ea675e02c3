//! `POST /login`: the failed-login limits (429 with `Retry-After`).
//!
//! These run on a local gateway of their own with small limits and a short window (the shared
//! gateway raises the limits so that no other test meets them; see the harness). Each test
//! talks from addresses of its own: the client binds to a random address of 127.0.0.0/8
//! (all loopback on Linux), which the local gateway passes on as
//! `requestContext.identity.sourceIp`, as API Gateway does with the client's address. So tests
//! run in parallel without sharing a source, and a test can be two clients in two places.
//!
//! Windows are aligned to the clock (`[k·w, (k+1)·w)`), so a test that must stay inside one
//! window first waits for a fresh one ([`fresh_window`]).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use api_tests::*;
use rand::Rng as _;

/// `LOGIN_FAILURE_WINDOW_SECONDS` of the test gateway.
const WINDOW_SECS: u64 = 5;
/// `LOGIN_MAX_FAILURES_PER_ACCOUNT_SOURCE`.
const PER_ACCOUNT_SOURCE: usize = 3;
/// `LOGIN_MAX_FAILURES_PER_ACCOUNT`.
const PER_ACCOUNT: usize = 7;
/// `LOGIN_MAX_FAILURES_PER_SOURCE`.
const PER_SOURCE: usize = 8;
/// The `detail` of a 429 from the login function.
const TOO_MANY: &str = "Too many failed logins: try again later";

/// The gateway of these tests, started once; `None` against a deployed stage, whose limits
/// (15-minute windows) these tests cannot wait out.
fn gateway() -> Option<&'static OwnGateway> {
    static GATEWAY: OnceLock<Option<OwnGateway>> = OnceLock::new();
    GATEWAY
        .get_or_init(|| {
            if !is_local() {
                return None;
            }
            let window = WINDOW_SECS.to_string();
            let per_account_source = PER_ACCOUNT_SOURCE.to_string();
            let per_account = PER_ACCOUNT.to_string();
            let per_source = PER_SOURCE.to_string();
            let gateway = OwnGateway::start(&GatewayOptions {
                env_parameters: &[
                    ("BCRYPT_COST", "6"),
                    ("DYNAMODB_OPERATION_TIMEOUT_MS", "10000"),
                    ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "5000"),
                    ("LOGIN_FAILURE_WINDOW_SECONDS", &window),
                    ("LOGIN_MAX_FAILURES_PER_ACCOUNT_SOURCE", &per_account_source),
                    ("LOGIN_MAX_FAILURES_PER_ACCOUNT", &per_account),
                    ("LOGIN_MAX_FAILURES_PER_SOURCE", &per_source),
                ],
                dynamodb_endpoint: None,
            })
            .unwrap_or_else(|e| panic!("start the login-limits gateway: {e}"));
            eprintln!("login_limits: gateway log {}", gateway.log_path().display());
            Some(gateway)
        })
        .as_ref()
}

/// A client of the test gateway that connects from `ip`, or `None` (after saying why) when
/// the tests run against a deployed stage.
fn client_from(test: &str, ip: Ipv4Addr) -> Option<Api> {
    let Some(gateway) = gateway() else {
        println!("SKIPPED {test}: it needs a local gateway with small login limits");
        return None;
    };
    let mut api = gateway.api();
    api.client = reqwest::Client::builder()
        .local_address(IpAddr::V4(ip))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .expect("build a client bound to a loopback address");
    Some(api)
}

/// A random loopback address other than 127.0.0.1 (which every other test uses).
fn fresh_ip() -> Ipv4Addr {
    let mut rng = rand::rng();
    Ipv4Addr::new(
        127,
        rng.random_range(1..=254),
        rng.random(),
        rng.random_range(1..=254),
    )
}

/// Waits, if need be, until a new window starts, so that what follows (a few logins) happens
/// inside one window.
async fn fresh_window() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    let window = Duration::from_secs(WINDOW_SECS);
    let into = Duration::from_millis((now.as_millis() % window.as_millis()) as u64);
    if window - into < Duration::from_millis(3_500) {
        tokio::time::sleep(window - into + Duration::from_millis(50)).await;
    }
}

/// Asserts a 429 from the limits and returns its `Retry-After`, in seconds.
#[track_caller]
fn expect_429(resp: &Resp) -> u64 {
    resp.expect_detail(429, TOO_MANY);
    let retry_after: u64 = resp
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{}: a 429 needs Retry-After", resp.request));
    assert!(
        (1..=WINDOW_SECS).contains(&retry_after),
        "Retry-After {retry_after} is not within the {WINDOW_SECS}-second window"
    );
    retry_after
}

/// Fails `times` logins of `email` with wrong passwords, each the usual 403.
async fn fail(api: &Api, email: &str, times: usize) {
    for i in 0..times {
        api.login(email, &format!("wrong-password-{i}"))
            .await
            .expect_detail(403, "Invalid Credentials");
    }
}

#[tokio::test]
async fn the_right_password_after_the_limit_of_failures_is_429_until_the_window_ends() {
    let Some(api) = client_from("lockout", fresh_ip()) else {
        return;
    };
    let _others_may_run = api_tests::api().await;
    let user = api.new_user().await;
    fresh_window().await;
    // GIVEN as many wrong passwords as the limit allows
    fail(&api, &user.email, PER_ACCOUNT_SOURCE).await;
    // WHEN the next attempt comes, with the wrong password or the right one
    let wrong = api.login(&user.email, "wrong-again").await;
    let right = api.login(&user.email, &user.password).await;
    // THEN both are 429 with Retry-After (the password is not even checked)
    expect_429(&wrong);
    let retry_after = expect_429(&right);
    // AND once Retry-After has passed, the right password works again
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(100)).await;
    api.login(&user.email, &user.password).await.expect(200);
}

#[tokio::test]
async fn the_limit_counts_per_account_and_source_so_the_owner_elsewhere_still_logs_in() {
    let (Some(attacker), Some(owner)) = (
        client_from("per account and source", fresh_ip()),
        client_from("per account and source", fresh_ip()),
    ) else {
        return;
    };
    let _others_may_run = api_tests::api().await;
    let user = owner.new_user().await;
    fresh_window().await;
    fail(&attacker, &user.email, PER_ACCOUNT_SOURCE).await;
    expect_429(&attacker.login(&user.email, &user.password).await);
    owner.login(&user.email, &user.password).await.expect(200);
}

#[tokio::test]
async fn a_successful_login_clears_the_count_of_failures() {
    let Some(api) = client_from("success resets", fresh_ip()) else {
        return;
    };
    let _others_may_run = api_tests::api().await;
    let user = api.new_user().await;
    fresh_window().await;
    fail(&api, &user.email, PER_ACCOUNT_SOURCE - 1).await;
    api.login(&user.email, &user.password).await.expect(200);
    // Without the reset, the third of these would already be 429.
    fail(&api, &user.email, PER_ACCOUNT_SOURCE).await;
    expect_429(&api.login(&user.email, "one-too-many").await);
}

#[tokio::test]
async fn another_account_from_the_same_source_is_unaffected_until_the_source_limit() {
    let ip = fresh_ip();
    let (Some(api), Some(elsewhere)) = (
        client_from("per source", ip),
        client_from("per source", fresh_ip()),
    ) else {
        return;
    };
    let _others_may_run = api_tests::api().await;
    let locked = elsewhere.new_user().await;
    let other = elsewhere.new_user().await;
    fresh_window().await;
    // One account locked from this source (its refused attempt counts for the source too)...
    fail(&api, &locked.email, PER_ACCOUNT_SOURCE).await;
    expect_429(&api.login(&locked.email, "wrong").await);
    let mut source_count = PER_ACCOUNT_SOURCE + 1;
    // ...another account still logs in from it (a success counts for nothing)...
    api.login(&other.email, &other.password).await.expect(200);
    // ...and fails normally, here on e-mails nobody has, until the source's limit...
    while source_count < PER_SOURCE {
        fail(&api, &unique_email(), 1).await;
        source_count += 1;
    }
    // ...past which this source gets 429 for any account, the right password included.
    expect_429(&api.login(&other.email, &other.password).await);
    // A header the client writes does not make it another source.
    let spoofed = api
        .request("POST", "/login")
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&[("username", &other.email), ("password", &other.password)]);
    expect_429(&api.send(spoofed).await);
    // Other sources are not affected.
    elsewhere
        .login(&other.email, &other.password)
        .await
        .expect(200);
}

#[tokio::test]
async fn failures_from_many_sources_close_an_account_to_new_sources_not_to_known_ones() {
    let (Some(home), Some(new_place)) = (
        client_from("per account", fresh_ip()),
        client_from("per account", fresh_ip()),
    ) else {
        return;
    };
    let _others_may_run = api_tests::api().await;
    // GIVEN the owner signed up and logged in from home (new_user logs in)
    let user = home.new_user().await;
    fresh_window().await;
    // WHEN sources that each stay under their own limit fail more than the account's limit
    let mut failures = 0;
    while failures < PER_ACCOUNT {
        let bot = client_from("per account", fresh_ip()).expect("a local run");
        let n = PER_ACCOUNT_SOURCE.min(PER_ACCOUNT - failures);
        fail(&bot, &user.email, n).await;
        failures += n;
    }
    // THEN a source the account never logged in from is refused, even with the password...
    expect_429(&new_place.login(&user.email, &user.password).await);
    // ...but home is not
    home.login(&user.email, &user.password).await.expect(200);
}

#[tokio::test]
async fn a_limited_unknown_email_and_a_limited_account_answer_the_same_429() {
    let (Some(a), Some(b)) = (
        client_from("same 429", fresh_ip()),
        client_from("same 429", fresh_ip()),
    ) else {
        return;
    };
    let _others_may_run = api_tests::api().await;
    let user = a.new_user().await;
    let nobody = unique_email();
    fresh_window().await;
    fail(&a, &user.email, PER_ACCOUNT_SOURCE).await;
    fail(&b, &nobody, PER_ACCOUNT_SOURCE).await;
    let real = a.login(&user.email, "wrong").await;
    let unknown = b.login(&nobody, "wrong").await;
    expect_429(&real);
    expect_429(&unknown);
    assert_eq!(real.text, unknown.text);
}

/// How long one attempt that the limits refuse takes; `None` if it was not refused (its
/// window had just ended: the attempt counted anew).
async fn time_refused(api: &Api, email: &str) -> Option<Duration> {
    let started = Instant::now();
    let resp = api.login(email, "wrong-password").await;
    let took = started.elapsed();
    match resp.status {
        429 => Some(took),
        403 => None,
        _ => panic!("{}: {} {}", resp.request, resp.status, resp.text),
    }
}

/// Locks `email` for `api`'s source: fails until the limits answer 429. A window that ends
/// in the middle starts the count again (on a loaded machine the attempts can straddle one),
/// so it keeps failing for up to three windows.
async fn lock(api: &Api, email: &str) {
    let deadline = Instant::now() + Duration::from_secs(3 * WINDOW_SECS);
    while Instant::now() < deadline {
        if time_refused(api, email).await.is_some() {
            return;
        }
    }
    panic!("{email} was not locked within three {WINDOW_SECS}-second windows");
}

/// A refused attempt reads no credential and runs no bcrypt, for an account and for an e-mail
/// nobody has alike: its time must not tell them apart. A 429 that still checked the password
/// of existing accounts would differ by a whole hash (4-5 ms at the tests' cost 6; the 429
/// itself takes a few milliseconds), so the medians must be within a fifth of the 429's time
/// (at least 1 ms). Interleaved, after a warm-up, with the other tests kept out.
#[tokio::test]
async fn a_429_takes_the_same_time_whether_the_account_exists_or_not() {
    let (Some(a), Some(b)) = (
        client_from("429 timing", fresh_ip()),
        client_from("429 timing", fresh_ip()),
    ) else {
        return;
    };
    let _alone = api_alone().await;
    let user = a.new_user().await;
    let nobody = unique_email();
    let (mut real, mut unknown) = (vec![], vec![]);
    let mut round = 0;
    while real.len() < 41 || unknown.len() < 41 {
        // A window that ends starts the count again: lock again, drop that round.
        lock(&a, &user.email).await;
        lock(&b, &nobody).await;
        let (first, second) = if round % 2 == 0 {
            (
                time_refused(&a, &user.email).await,
                time_refused(&b, &nobody).await,
            )
        } else {
            let u = time_refused(&b, &nobody).await;
            (time_refused(&a, &user.email).await, u)
        };
        round += 1;
        if round <= 15 {
            continue; // warm-up
        }
        if let (Some(r), Some(u)) = (first, second) {
            real.push(r);
            unknown.push(u);
        }
        assert!(round < 500, "could not measure 41 rounds in 500");
    }
    let real = median(&mut real);
    let unknown = median(&mut unknown);
    let difference = real.abs_diff(unknown);
    let allowed = (real.min(unknown) / 5).max(Duration::from_millis(1));
    println!(
        "429 medians: existing account {real:?}, unknown e-mail {unknown:?}; difference \
         {difference:?}, allowed {allowed:?}"
    );
    assert!(
        difference < allowed,
        "a 429's time tells whether the e-mail exists: {real:?} vs {unknown:?}"
    );
}

#[tokio::test]
async fn a_repeated_sign_up_is_a_login_attempt_so_it_cannot_guess_past_the_limits() {
    let Some(api) = client_from("sign-up oracle", fresh_ip()) else {
        return;
    };
    let _others_may_run = api_tests::api().await;
    let user = api.new_user().await;
    fresh_window().await;
    // GIVEN guesses of the password through sign-up (409 each: not the password)
    for i in 0..PER_ACCOUNT_SOURCE {
        api.signup(&user.email, &format!("guess-{i}-password"))
            .await
            .expect(409);
    }
    // WHEN the right password comes next, by sign-up or by login
    // THEN sign-up no longer confirms it (a plain 409) and login is locked (429): the guesses
    // counted as failed logins
    api.signup(&user.email, &user.password).await.expect(409);
    expect_429(&api.login(&user.email, &user.password).await);
}
