//! `POST /users`: sign-up.

use std::sync::Arc;

use api_tests::*;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Asserts `created_at` is RFC 3339 in UTC, written with the `+00:00` offset.
#[track_caller]
pub fn assert_created_at(value: &Value) {
    let created_at = value["created_at"]
        .as_str()
        .unwrap_or_else(|| panic!("created_at must be a string: {value}"));
    let parsed = OffsetDateTime::parse(created_at, &Rfc3339)
        .unwrap_or_else(|e| panic!("created_at {created_at:?} is not RFC 3339: {e}"));
    assert!(
        parsed.offset().is_utc() && created_at.ends_with("+00:00"),
        "created_at {created_at:?} must be UTC with an explicit +00:00 offset"
    );
    let age = OffsetDateTime::now_utc() - parsed;
    assert!(
        age.whole_seconds().abs() < 300,
        "created_at {created_at:?} is not close to now"
    );
}

/// Asserts an id is a JSON integer, positive and below 2^53.
#[track_caller]
pub fn assert_id(value: &Value) -> u64 {
    let id = value["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("id must be a non-negative JSON integer: {value}"));
    assert!(id > 0 && id <= MAX_ID, "id {id} must be in 1..2^53");
    id
}

#[tokio::test]
async fn sign_up_answers_201_with_id_email_and_created_at_only() {
    let api = api().await;
    let email = unique_email();
    let resp = api.signup(&email, "s3cret-password").await;
    let body = resp.expect(201);
    assert_eq!(keys(&body), ["created_at", "email", "id"], "body: {body}");
    assert_eq!(body["email"], json!(email));
    assert_id(&body);
    assert_created_at(&body);
}

#[tokio::test]
async fn sign_up_never_returns_the_password_or_its_hash() {
    let api = api().await;
    let password = "a-very-distinctive-password";
    let resp = api.signup(&unique_email(), password).await;
    resp.expect(201);
    assert!(
        !resp.text.contains(password),
        "password echoed: {}",
        resp.text
    );
    assert!(
        !resp.text.contains("$2"),
        "a bcrypt hash leaked: {}",
        resp.text
    );
    assert!(
        !resp.text.contains("password"),
        "password key: {}",
        resp.text
    );
}

#[tokio::test]
async fn each_sign_up_gets_a_new_id() {
    let api = api().await;
    let first = api.new_user().await;
    let second = api.new_user().await;
    assert_ne!(first.id, second.id);
}

#[tokio::test]
async fn sign_up_ignores_client_set_id_and_created_at() {
    let api = api().await;
    let email = unique_email();
    let body = api
        .json(
            "POST",
            "/users",
            None,
            json!({
                "email": email,
                "password": "s3cret-password",
                "id": 7,
                "created_at": "2001-01-01T00:00:00+00:00",
            }),
        )
        .await
        .expect(201);
    assert_ne!(body["id"], json!(7), "client-set id took effect: {body}");
    assert_ne!(body["created_at"], json!("2001-01-01T00:00:00+00:00"));
    assert_created_at(&body);
}

#[tokio::test]
async fn invalid_email_addresses_are_422_at_body_email() {
    let api = api().await;
    for email in [
        "a@b",
        "user@",
        "@x.com",
        "a b@x.com",
        "",
        "no-at-sign.com",
        "a@@x.com",
    ] {
        api.signup(email, "s3cret-password")
            .await
            .expect_422(&["body", "email"]);
    }
}

#[tokio::test]
async fn ordinary_but_unusual_email_addresses_are_accepted() {
    let api = api().await;
    for template in ["first.last+tag-{}@example.com", "{}@mail.sub.example.co.uk"] {
        let email = template.replace("{}", &unique("e"));
        let body = api.signup(&email, "s3cret-password").await.expect(201);
        assert_eq!(body["email"], json!(email));
    }
}

#[tokio::test]
async fn email_domain_is_lower_cased_and_the_local_part_is_kept_as_typed() {
    let api = api().await;
    let local = format!("Mixed.Case.{}", unique("U"));
    let body = api
        .signup(&format!("{local}@Example.COM"), "s3cret-password")
        .await
        .expect(201);
    assert_eq!(body["email"], json!(format!("{local}@example.com")));
    // Stored that way too, not only echoed.
    let stored = api.get(&format!("/users/{}", id_of(&body)), None).await;
    assert_eq!(
        stored.expect(200)["email"],
        json!(format!("{local}@example.com"))
    );
}

#[tokio::test]
async fn password_shorter_than_8_characters_is_422() {
    let api = api().await;
    api.signup(&unique_email(), "1234567")
        .await
        .expect_422(&["body", "password"]);
    // Eight bytes but four characters: the minimum counts characters.
    api.signup(&unique_email(), "éééé")
        .await
        .expect_422(&["body", "password"]);
}

#[tokio::test]
async fn password_of_exactly_8_characters_is_accepted() {
    let api = api().await;
    api.signup(&unique_email(), "12345678").await.expect(201);
}

#[tokio::test]
async fn password_of_72_bytes_is_accepted_and_logs_in() {
    let api = api().await;
    let email = unique_email();
    let password = "p".repeat(72);
    api.signup(&email, &password).await.expect(201);
    api.login(&email, &password).await.expect(200);
}

#[tokio::test]
async fn password_of_73_bytes_is_422_rather_than_silently_truncated() {
    let api = api().await;
    api.signup(&unique_email(), &"p".repeat(73))
        .await
        .expect_422(&["body", "password"]);
    // 37 characters but 74 bytes in UTF-8: the maximum counts bytes.
    api.signup(&unique_email(), &"é".repeat(37))
        .await
        .expect_422(&["body", "password"]);
}

#[tokio::test]
async fn multibyte_password_within_72_bytes_is_accepted() {
    let api = api().await;
    let email = unique_email();
    let password = "é".repeat(36); // 72 bytes
    api.signup(&email, &password).await.expect(201);
    api.login(&email, &password).await.expect(200);
}

#[tokio::test]
async fn duplicate_email_is_409_with_a_detail() {
    let api = api().await;
    let email = unique_email();
    api.signup(&email, "s3cret-password").await.expect(201);
    let body = api.signup(&email, "other-password").await.expect(409);
    assert_eq!(keys(&body), ["detail"], "409 body: {body}");
    assert!(
        body["detail"].is_string(),
        "409 detail must be a string: {body}"
    );
}

#[tokio::test]
async fn duplicate_email_differing_only_in_domain_case_is_409() {
    let api = api().await;
    let local = unique("dup");
    api.signup(&format!("{local}@example.com"), "s3cret-password")
        .await
        .expect(201);
    api.signup(&format!("{local}@EXAMPLE.com"), "other-password")
        .await
        .expect(409);
}

#[tokio::test]
async fn a_repeated_sign_up_with_the_same_password_gets_the_same_account_not_a_409() {
    // GIVEN a sign-up whose answer the client may never have seen (a timeout, a lost reply)
    let api = api().await;
    let local = unique("again");
    let first = api
        .signup(&format!("{local}@example.com"), "s3cret-password")
        .await
        .expect(201);
    // WHEN it is sent again, the same e-mail (in any domain case) and the same password
    let again = api
        .signup(&format!("{local}@EXAMPLE.com"), "s3cret-password")
        .await
        .expect(201);
    // THEN it is answered like the first: the same account, and still only one
    assert_eq!(again, first);
    api.signup(&format!("{local}@example.com"), "another-password")
        .await
        .expect(409);
    api.login(&format!("{local}@example.com"), "s3cret-password")
        .await
        .expect(200);
}

#[tokio::test]
async fn a_failed_duplicate_sign_up_leaves_the_first_password_in_place() {
    let api = api().await;
    let email = unique_email();
    api.signup(&email, "first-password").await.expect(201);
    api.signup(&email, "second-password").await.expect(409);
    api.login(&email, "first-password").await.expect(200);
    api.login(&email, "second-password").await.expect(403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_sign_ups_with_one_email_make_exactly_one_account() {
    let api = Arc::new(api().await);
    let email = unique_email();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (api, email) = (api.clone(), email.clone());
        tasks.spawn(async move { api.signup(&email, &format!("password-{i:02}")).await });
    }
    let mut created = Vec::new();
    let mut conflicts = 0;
    while let Some(resp) = tasks.join_next().await {
        let resp = resp.expect("sign-up task");
        match resp.status {
            201 => created.push(resp.json()),
            409 => conflicts += 1,
            other => panic!("concurrent sign-up answered {other}: {}", resp.text),
        }
    }
    assert_eq!(
        created.len(),
        1,
        "expected exactly one 201, got {created:?}"
    );
    assert_eq!(conflicts, 19);
    // The one account that exists is the one whose sign-up succeeded; its password logs in.
    let winner = &created[0];
    let mut logins = 0;
    for i in 0..20 {
        let resp = api.login(&email, &format!("password-{i:02}")).await;
        match resp.status {
            200 => {
                logins += 1;
                let claims = token_claims(resp.json()["access_token"].as_str().unwrap());
                assert_eq!(claims["user_id"], winner["id"]);
            }
            403 => {}
            other => panic!("login answered {other}: {}", resp.text),
        }
    }
    assert_eq!(logins, 1, "exactly one of the 20 passwords must log in");
    api.get(&format!("/users/{}", id_of(winner)), None)
        .await
        .expect(200);
}

#[tokio::test]
async fn wrong_types_are_422_not_coerced() {
    let api = api().await;
    let cases = [
        (
            json!({"email": 123, "password": "s3cret-password"}),
            "email",
        ),
        (
            json!({"email": unique_email(), "password": 12345678}),
            "password",
        ),
        (
            json!({"email": null, "password": "s3cret-password"}),
            "email",
        ),
        (
            json!({"email": [unique_email()], "password": "s3cret-password"}),
            "email",
        ),
        (
            json!({"email": unique_email(), "password": true}),
            "password",
        ),
    ];
    for (body, field) in cases {
        api.json("POST", "/users", None, body)
            .await
            .expect_422(&["body", field]);
    }
}

#[tokio::test]
async fn missing_fields_are_422_naming_each_field() {
    let api = api().await;
    api.json(
        "POST",
        "/users",
        None,
        json!({"password": "s3cret-password"}),
    )
    .await
    .expect_422(&["body", "email"]);
    api.json("POST", "/users", None, json!({"email": unique_email()}))
        .await
        .expect_422(&["body", "password"]);
    let both = api.json("POST", "/users", None, json!({})).await;
    both.expect_422(&["body", "email"]);
    both.expect_422(&["body", "password"]);
}

#[tokio::test]
async fn a_body_that_is_not_an_object_or_is_absent_is_422() {
    let api = api().await;
    for body in [json!([]), json!("text"), json!(42), json!(null)] {
        api.json("POST", "/users", None, body)
            .await
            .expect_validation_error();
    }
    api.call("POST", "/users", None, Body::None)
        .await
        .expect_validation_error();
}
