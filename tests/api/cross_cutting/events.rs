//! The sample events in `events/` (the ones `sam local invoke XFunction -e events/x.json`
//! takes), run through their real binaries via the local gateway's Lambda invoke API.
//!
//! Each event shows its function's happy path on a table prepared by the README's seed step,
//! `local_gateway seed`, which this test runs on the gateway's fresh table: fixture user 1
//! (`login.json`'s credentials; the protected events' `requestContext.authorizer`) and its
//! post 1 (the `{id}` events, `vote.json`), and a session with a fixture refresh token
//! (`refresh_token.json`, `logout.json`). The events run on a local gateway started as the
//! README says, with `--env-vars sam-local-env.json`: its development-only key signed the
//! events' token, and it lets the authorizer accept that token's ten-year lifetime (only there:
//! the shared test gateway runs the template's 30 minutes). The contract's 404s are checked
//! with copies of the events that name an id that never exists.

mod support;

use api_tests::*;

use support::*;

#[tokio::test]
async fn every_sample_event_is_a_rest_proxy_event_for_its_functions_route() {
    let events = load_events();
    // One route per function: the one its sample event is a request of.
    for route in ROUTES.iter().filter(|route| route.event.is_some()) {
        let (binary, method, resource) = (&route.function, &route.method, &route.path);
        let event = &events[*binary];
        assert_eq!(event["httpMethod"], json!(method), "events/{binary}.json");
        assert_eq!(event["resource"], json!(resource), "events/{binary}.json");
        assert_eq!(event["requestContext"]["httpMethod"], json!(method));
        assert_eq!(event["requestContext"]["resourcePath"], json!(resource));
        for key in [
            "path",
            "headers",
            "multiValueHeaders",
            "requestContext",
            "isBase64Encoded",
        ] {
            assert!(event.get(key).is_some(), "events/{binary}.json lacks {key}");
        }
        let protected = route.protected;
        let authorizer = &event["requestContext"]["authorizer"];
        if protected {
            for key in ["principalId", "user_id", "email", "created_at"] {
                assert!(
                    authorizer[key].is_string(),
                    "events/{binary}.json: requestContext.authorizer.{key} must be a string"
                );
            }
        }
        if resource.contains("{id}") {
            assert!(
                event["pathParameters"]["id"].is_string(),
                "events/{binary}.json"
            );
        }
    }
    // A REQUEST authorizer's event: the request without its body, `type` and `methodArn`.
    let authorizer = &events["authorizer"];
    assert_eq!(authorizer["type"], json!("REQUEST"));
    assert!(authorizer.get("body").is_none(), "no body: {authorizer}");
    assert!(authorizer["requestContext"].get("authorizer").is_none());
    let header = authorizer["headers"]["Authorization"]
        .as_str()
        .unwrap_or_default();
    assert!(
        header.starts_with("Bearer "),
        "events/authorizer.json: {authorizer}"
    );
    assert_eq!(
        authorizer["multiValueHeaders"]["Authorization"],
        json!([header]),
        "one Authorization header, in both maps"
    );
    let token = header["Bearer ".len()..].to_owned();
    // Signed with the development-only key, for the fixture user, with every claim login
    // issues, and long-lived (the events are static files; see `local_gateway event-token`,
    // which also regenerates them).
    assert_eq!(token_header(&token)["typ"], json!("at+jwt"));
    let key = dev_jwt_secret().expect("sam-local-env.json names the development key");
    shared::auth::crypto::install();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_issuer(&[token_issuer()]);
    validation.set_audience(&[token_audience()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(key.as_bytes()),
        &validation,
    )
    .unwrap_or_else(|e| {
        panic!("events/authorizer.json: the token does not verify with the development key ({e}); run `target/debug/local_gateway event-token --update-events`")
    })
    .claims;
    assert_eq!(claims["user_id"], json!(FIXTURE_ID), "claims: {claims}");
    assert!(claims["jti"].is_string(), "claims: {claims}");
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    assert!(
        lifetime > 365 * 24 * 3600,
        "the events' token should live for years: {claims}"
    );
    // Every event that shows an Authorization header shows that same token, and every
    // protected event's caller is the fixture user whose credentials login.json sends.
    let login_email = form_field(events["login"]["body"].as_str().unwrap(), "username");
    for (binary, event) in &events {
        if let Some(header) = event["headers"]["Authorization"].as_str() {
            assert_eq!(header, format!("Bearer {token}"), "events/{binary}.json");
        }
        let caller = &event["requestContext"]["authorizer"];
        if caller.is_object() {
            assert_eq!(caller["user_id"], json!(FIXTURE_ID.to_string()), "{binary}");
            assert_eq!(caller["email"], json!(login_email), "{binary}");
        }
        if let Some(id) = event["pathParameters"]["id"].as_str() {
            assert_eq!(
                id,
                FIXTURE_ID.to_string(),
                "events/{binary}.json names fixture ids"
            );
        }
    }
    let signup: Value =
        serde_json::from_str(events["create_user"]["body"].as_str().unwrap()).unwrap();
    assert_ne!(
        signup["email"],
        json!(login_email),
        "create_user.json must sign up someone other than the seeded user"
    );
    assert!(
        authorizer["methodArn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:execute-api:"))
    );
}

#[tokio::test]
async fn every_sample_event_runs_through_its_binary_with_the_contracts_answer() {
    if !is_local() {
        println!("SKIPPED sample events: the Lambda invoke API exists only with the local gateway");
        return;
    }
    let api = api().await;
    let gateway = EventsGateway::start();
    let lambda = gateway.lambda_url.as_str();
    let events = load_events();
    let client = &api.client;
    let run = |binary: &'static str, event: Value| async move {
        proxy_answer(
            binary,
            invoke(client, lambda, &logical_id(binary), &event).await,
        )
    };

    // The seed step of the README, twice: it is idempotent.
    assert!(seed().contains("user 1 "), "seed prints what it wrote");
    seed();
    let caller = events["create_post"]["requestContext"]["authorizer"].clone();
    let email = caller["email"].clone();

    // Public routes: sign up someone new, log in as the seeded user, read it back.
    let user = run("create_user", events["create_user"].clone()).await;
    let user = user.expect("create_user", 201).clone();
    assert_eq!(keys(&user), ["created_at", "email", "id"]);
    assert_ne!(user["email"], email);

    let login = run("login", events["login"].clone()).await;
    let login = login.expect("login", 200);
    assert_eq!(login["token_type"], json!("bearer"));
    let token = login["access_token"].as_str().expect("a token");
    assert_eq!(token_claims(token)["user_id"], json!(FIXTURE_ID));

    let root = run("root", events["root"].clone()).await;
    assert!(root.expect("root", 200)["message"].is_string());

    // Swagger UI (HTML, not JSON): the event came through the `Prod` stage of an execute-api
    // URL, so the page loads its files and the document from under `/Prod`.
    let docs = invoke(client, lambda, "DocsFunction", &events["docs"]).await;
    assert!(docs.function_error.is_none(), "docs: {}", docs.payload);
    assert_eq!(
        docs.payload["statusCode"],
        json!(200),
        "docs: {}",
        docs.payload
    );
    let page = docs.payload["body"].as_str().expect("an HTML body");
    assert!(
        page.contains(r#"src="/Prod/docs/swagger-ui-bundle.js""#),
        "{page}"
    );
    assert!(page.contains(r#"url: "/Prod/openapi.json""#), "{page}");

    // The gateway also knows the functions by binary name.
    let by_name = invoke(client, lambda, "root", &events["root"]).await;
    proxy_answer("root", by_name).expect("root", 200);

    let found = run("get_user", events["get_user"].clone()).await;
    assert_eq!(
        found.expect("get_user", 200),
        &json!({"id": FIXTURE_ID, "email": email, "created_at": caller["created_at"]})
    );
    run("get_user", with_id(&events["get_user"], MISSING))
        .await
        .expect_detail(
            "get_user",
            404,
            &format!("User with id: {MISSING} does not exist"),
        );

    // The authorizer: the event's own token is allowed, with the fixture user in the context.
    let allowed = invoke(
        client,
        lambda,
        &logical_id(AUTHORIZER),
        &events["authorizer"],
    )
    .await;
    assert!(
        allowed.function_error.is_none(),
        "authorizer failed for the event's token: {}",
        allowed.payload
    );
    assert_eq!(
        policy_effect(&allowed.payload),
        Some("Allow"),
        "{}",
        allowed.payload
    );
    let context = &allowed.payload["context"];
    let context_user = match &context["user_id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    assert_eq!(context_user, FIXTURE_ID.to_string(), "context: {context}");
    assert_eq!(context["email"], email, "context: {context}");

    // A copy with an expired token (same key, every other claim right) is refused: a Deny
    // policy or "Unauthorized".
    let expired_token = mint_token(&claims_with(
        FIXTURE_ID,
        json!({"iat": now() - 3600, "exp": now() - 60}),
    ))
    .expect("local runs know the key");
    let mut expired = events["authorizer"].clone();
    let bearer = json!(format!("Bearer {expired_token}"));
    expired["headers"]["Authorization"] = bearer.clone();
    expired["multiValueHeaders"]["Authorization"] = json!([bearer]);
    let refused = invoke(client, lambda, &logical_id(AUTHORIZER), &expired).await;
    match &refused.function_error {
        Some(_) => assert_eq!(
            refused.payload["errorMessage"],
            json!("Unauthorized"),
            "authorizer error: {}",
            refused.payload
        ),
        None => assert_eq!(
            policy_effect(&refused.payload),
            Some("Deny"),
            "an expired token must be denied: {}",
            refused.payload
        ),
    }

    // A copy with the event's token and a second Authorization header is denied.
    let mut twice = events["authorizer"].clone();
    let valid = twice["headers"]["Authorization"].clone();
    twice["multiValueHeaders"]["Authorization"] = json!([valid, "Bearer garbage"]);
    twice["headers"]["Authorization"] = json!("Bearer garbage");
    let denied = invoke(client, lambda, &logical_id(AUTHORIZER), &twice).await;
    assert_eq!(
        policy_effect(&denied.payload),
        Some("Deny"),
        "two Authorization headers: {}",
        denied.payload
    );

    // Sessions: the seeded refresh token is traded once; presented again it is refused (and
    // its session revoked); the next seed starts a new session with it; logout ends that one.
    let refused = json!({"detail": "Could not validate credentials"});
    let refreshed = run("refresh_token", events["refresh_token"].clone()).await;
    let refreshed = refreshed.expect("refresh_token", 200).clone();
    let access = refreshed["access_token"].as_str().expect("an access token");
    assert_eq!(token_claims(access)["user_id"], json!(FIXTURE_ID));
    assert!(refreshed["refresh_token"].is_string());
    let again = run("refresh_token", events["refresh_token"].clone()).await;
    assert_eq!(again.expect("refresh_token", 401), &refused);
    assert!(seed().contains("refresh token"), "seed prints the session");
    run("refresh_token", events["refresh_token"].clone())
        .await
        .expect("refresh_token", 200);
    seed();
    let out = run("logout", events["logout"].clone()).await;
    assert_eq!(out.expect("logout", 204), &Value::Null);
    let after = run("refresh_token", events["refresh_token"].clone()).await;
    assert_eq!(after.expect("refresh_token", 401), &refused);
    seed();

    // Protected routes: the caller comes from requestContext.authorizer (user 1).
    let post = run("create_post", events["create_post"].clone()).await;
    let post = post.expect("create_post", 201).clone();
    assert_eq!(post["title"], json!("Hello from sam local"));
    assert_eq!(post["owner_id"], json!(FIXTURE_ID));
    assert_eq!(post["owner"]["email"], email);

    let list = run("list_posts", events["list_posts"].clone()).await;
    assert!(list.expect("list_posts", 200).is_array());

    let found = run("get_post", events["get_post"].clone()).await;
    let found = found.expect("get_post", 200).clone();
    assert_eq!(found["Post"]["id"], json!(FIXTURE_ID));
    assert_eq!(found["Post"]["owner_id"], json!(FIXTURE_ID));
    run("get_post", with_id(&events["get_post"], MISSING))
        .await
        .expect_detail(
            "get_post",
            404,
            &format!("post with id: {MISSING} was not found"),
        );

    let updated = run("update_post", events["update_post"].clone()).await;
    let updated = updated.expect("update_post", 200).clone();
    assert_eq!(updated["id"], json!(FIXTURE_ID));
    assert_eq!(updated["title"], json!("Hello again"));
    let patched = run("patch_post", events["patch_post"].clone()).await;
    let patched = patched.expect("patch_post", 200);
    assert_eq!(
        patched["title"],
        json!("Hello again"),
        "PATCH keeps the rest"
    );
    assert_eq!(patched["published"], json!(false));
    let does_not_exist = format!("post with id: {MISSING} does not exist");
    for binary in ["update_post", "patch_post", "delete_post"] {
        run(binary, with_id(&events[binary], MISSING))
            .await
            .expect_detail(binary, 404, &does_not_exist);
    }

    let added = json!({"message": "successfully added vote"});
    let vote = run("vote", events["vote"].clone()).await;
    assert_eq!(vote.expect("vote", 201), &added);
    run("vote", events["vote"].clone())
        .await
        .expect("vote", 409);
    // Seeding again takes the fixture user's vote back, so the event answers 201 again.
    assert!(seed().contains("taken back"));
    let vote = run("vote", events["vote"].clone()).await;
    assert_eq!(vote.expect("vote", 201), &added);
    let mut missing_post = events["vote"].clone();
    missing_post["body"] = json!(json!({"post_id": MISSING, "dir": 1}).to_string());
    run("vote", missing_post).await.expect_detail(
        "vote",
        404,
        &format!("Post with id: {MISSING} does not exist"),
    );

    // Last: delete the fixture post; the next seed brings it back.
    run("delete_post", events["delete_post"].clone())
        .await
        .expect("delete_post", 204);
    run("get_post", events["get_post"].clone())
        .await
        .expect_detail(
            "get_post",
            404,
            &format!("post with id: {FIXTURE_ID} was not found"),
        );
    seed();
    run("get_post", events["get_post"].clone())
        .await
        .expect("get_post", 200);
}
