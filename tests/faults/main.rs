//! DynamoDB faults through the whole stack: a local gateway of the test's own, its functions
//! pointed at a fault proxy in front of DynamoDB Local (`api_tests::fault_proxy`), with the
//! template's own timeouts (2 s per call).
//!
//! Needs `DYNAMODB_ENDPOINT` (make test sets it) and built binaries; skipped otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api_tests::fault_proxy::{DynamoDbError, Fault, FaultProxy};
use api_tests::*;

/// What the issue asks: a hung DynamoDB answers within 3 s, whatever the route.
const WITHIN: Duration = Duration::from_secs(3);

/// A proxy in front of the suite's DynamoDB Local and a gateway behind it, or `None` (skip)
/// when there is no DynamoDB Local to put it in front of.
async fn faulty_stack(test: &str) -> Option<(FaultProxy, OwnGateway)> {
    let Some(endpoint) = std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty() && is_local())
    else {
        println!("SKIPPED {test}: needs DYNAMODB_ENDPOINT and the local gateway");
        return None;
    };
    let proxy = FaultProxy::start(&endpoint).await;
    let gateway = OwnGateway::start(&GatewayOptions {
        env_parameters: &[("BCRYPT_COST", "6")],
        dynamodb_endpoint: Some(proxy.url()),
    })
    .unwrap_or_else(|e| panic!("{test}: {e}"));
    Some((proxy, gateway))
}

/// Sends `method path` (with an optional token and JSON body) and checks a 503 with
/// `Retry-After` came back within [`WITHIN`].
async fn expect_quick_503(api: &Api, method: &str, path: &str, token: Option<&str>, body: Value) {
    let started = Instant::now();
    let body = if body.is_null() {
        Body::None
    } else {
        Body::Json(body)
    };
    let resp = api.call(method, path, token, body).await;
    let took = started.elapsed();
    assert_eq!(resp.status, 503, "{method} {path}: {}", resp.text);
    assert_eq!(resp.json(), json!({"detail": "Service Unavailable"}));
    assert!(
        resp.header("retry-after").is_some(),
        "{method} {path}: 503 without Retry-After"
    );
    assert!(took < WITHIN, "{method} {path} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_dynamodb_is_a_503_with_retry_after_within_3_s_on_every_route() {
    let Some((proxy, gateway)) = faulty_stack("hung dynamodb").await else {
        return;
    };
    let api = Arc::new(gateway.api());
    let owner = api.new_user().await;
    let post = api.new_post(&owner, "before the hang").await;
    let id = id_of(&post);

    // GIVEN DynamoDB answers only the authorizer's read of the caller, so every protected
    // route gets past authentication and meets the hang in its own function
    proxy.set(Fault::HangWhere(Arc::new(|operation, body| {
        !(operation == "GetItem" && body.contains("\"PROFILE\""))
    })));
    let edit = json!({"title": "during the hang", "content": "x"});
    let mut tasks = tokio::task::JoinSet::new();
    for route in protected_routes() {
        let (method, path) = (route.method, route.path_with_id(id));
        let body = match route.function {
            "create_post" | "update_post" | "patch_post" => edit.clone(),
            "vote" => json!({"post_id": id, "dir": 1}),
            _ => Value::Null,
        };
        let (api, token) = (api.clone(), owner.token.clone());
        tasks.spawn(async move { expect_quick_503(&api, method, &path, Some(&token), body).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a protected route answered in time");
    }

    // AND with everything hung: the public routes, and the authorizer (API Gateway's 503)
    proxy.set(Fault::HangWhere(Arc::new(|_, _| true)));
    let public: Vec<(&str, String, Option<String>, Value)> = vec![
        (
            "POST",
            "/users".into(),
            None,
            json!({"email": unique_email(), "password": "during-the-hang"}),
        ),
        ("GET", format!("/users/{}", owner.id), None, Value::Null),
        (
            "GET",
            "/posts".into(),
            Some(owner.token.clone()),
            Value::Null,
        ),
    ];
    for (method, path, token, body) in public {
        let (api, token) = (api.clone(), token.clone());
        tasks.spawn(
            async move { expect_quick_503(&api, method, &path, token.as_deref(), body).await },
        );
    }
    let (email, password) = (owner.email.clone(), owner.password.clone());
    let login_api = api.clone();
    tasks.spawn(async move {
        let started = Instant::now();
        let resp = login_api.login(&email, &password).await;
        assert_eq!(resp.status, 503, "login: {}", resp.text);
        assert!(resp.header("retry-after").is_some());
        assert!(
            started.elapsed() < WITHIN,
            "login took {:?}",
            started.elapsed()
        );
    });
    while let Some(done) = tasks.join_next().await {
        done.expect("a route answered in time");
    }

    // THEN once DynamoDB is back, nothing was half-written: the post is as it was, no vote
    proxy.set(Fault::None);
    let after = api.get_post(&owner.token, id).await.expect(200);
    assert_eq!(after["Post"], post, "the post changed during the hang");
    assert_eq!(after["votes"], json!(0));
    api.vote(&owner.token, id, 1).await.expect(201);
    assert_eq!(api.votes_of(&owner.token, id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_up_whose_answer_was_lost_can_be_retried_into_the_same_account() {
    let Some((proxy, gateway)) = faulty_stack("lost sign-up answer").await else {
        return;
    };
    let api = gateway.api();
    let email = unique_email();
    // GIVEN DynamoDB commits the sign-up but its answer never comes back
    proxy.set(Fault::LoseAnswers);
    let started = Instant::now();
    let lost = api.signup(&email, "lost-answer-password").await;
    assert_eq!(lost.status, 503, "{}", lost.text);
    assert!(started.elapsed() < WITHIN, "took {:?}", started.elapsed());

    // WHEN the client, which cannot tell whether the account exists, tries again
    proxy.set(Fault::None);
    let retried = api.signup(&email, "lost-answer-password").await.expect(201);

    // THEN it gets its account (the one the first call made), which logs in; and a sign-up
    // with another password is still a 409
    let id = id_of(&retried);
    api.get(&format!("/users/{id}"), None).await.expect(200);
    let login = api.login(&email, "lost-answer-password").await.expect(200);
    assert_eq!(
        token_claims(login["access_token"].as_str().unwrap())["user_id"],
        json!(id)
    );
    api.signup(&email, "someone-else-s-password")
        .await
        .expect(409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_and_transaction_conflicts_that_outlast_the_retries_are_503s() {
    let Some((proxy, gateway)) = faulty_stack("throttled and conflicting").await else {
        return;
    };
    let api = gateway.api();
    let owner = api.new_user().await;
    let id = id_of(&api.new_post(&owner, "contended").await);

    // GIVEN every write is throttled (reads pass, so the authorizer lets the caller in)
    let writes = |operation: &str, _: &str| {
        matches!(
            operation,
            "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems"
        )
    };
    proxy.set(Fault::ErrorWhere(
        Arc::new(writes),
        DynamoDbError::throttled(),
    ));
    // THEN a write answers 503 with Retry-After once the SDK's retries are spent, in time
    expect_quick_503(
        &api,
        "POST",
        "/posts",
        Some(&owner.token),
        json!({"title": "t", "content": "c"}),
    )
    .await;
    expect_quick_503(
        &api,
        "PATCH",
        &format!("/posts/{id}"),
        Some(&owner.token),
        json!({"title": "t"}),
    )
    .await;

    // GIVEN every vote transaction meets a conflicting one (DynamoDB does not retry those)
    proxy.set(Fault::ErrorWhere(
        Arc::new(|operation, _| operation == "TransactWriteItems"),
        DynamoDbError::transaction_conflict(2),
    ));
    // THEN the store retries a few times, then answers 503, not 500
    expect_quick_503(
        &api,
        "POST",
        "/vote",
        Some(&owner.token),
        json!({"post_id": id, "dir": 1}),
    )
    .await;

    // AND nothing was written: the post is unchanged and has no vote
    proxy.set(Fault::None);
    let after = api.get_post(&owner.token, id).await.expect(200);
    assert_eq!(after["Post"]["title"], json!("contended"));
    assert_eq!(after["votes"], json!(0));
    api.vote(&owner.token, id, 1).await.expect(201);
}
