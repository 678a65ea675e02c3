//! `POST /login`: the OAuth2 password-flow form.

use std::time::{Duration, Instant};

use api_tests::*;

use crate::refresh_token::{logged_in, pair};

#[tokio::test]
async fn login_with_the_form_answers_200_with_a_bearer_token() {
    let api = api().await;
    let user = api.new_user().await;
    let body = api.login(&user.email, &user.password).await.expect(200);
    // The course's two keys, and (new, ignored by its clients) the refresh token and the
    // lifetimes: tests/api/refresh_token.rs.
    assert_eq!(
        keys(&body),
        [
            "access_token",
            "expires_in",
            "refresh_expires_in",
            "refresh_token",
            "token_type"
        ],
        "body: {body}"
    );
    assert_eq!(body["token_type"], json!("bearer"));
    let token = body["access_token"].as_str().expect("access_token string");
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
}

#[tokio::test]
async fn the_token_is_an_hs256_jwt_with_the_users_integer_id_and_an_expiry() {
    let api = api().await;
    let user = api.new_user().await;
    assert_eq!(token_header(&user.token)["alg"], json!("HS256"));
    let claims = token_claims(&user.token);
    assert_eq!(claims["user_id"], json!(user.id), "claims: {claims}");
    let exp = claims["exp"].as_i64().expect("exp must be an integer");
    let now = now();
    assert!(
        exp > now + 30,
        "token expires too soon: exp {exp}, now {now}"
    );
    assert!(
        exp <= now + 24 * 3600 + 60,
        "token lives too long: exp {exp}"
    );
    if is_local() {
        // The local gateway runs the template's default lifetime, 30 minutes.
        let lifetime = exp - now;
        assert!(
            (30 * 60 - 60..=30 * 60 + 5).contains(&lifetime),
            "default lifetime must be 30 minutes, got {lifetime} s"
        );
    }
}

#[tokio::test]
async fn a_token_from_login_is_accepted_by_protected_routes() {
    let api = api().await;
    let user = api.new_user().await;
    api.get("/posts", Some(&user.token)).await.expect(200);
}

#[tokio::test]
async fn login_accepts_grant_type_password_and_the_other_oauth2_fields() {
    let api = api().await;
    let user = api.new_user().await;
    api.login_form(&[
        ("grant_type", "password"),
        ("username", &user.email),
        ("password", &user.password),
        ("scope", ""),
        ("client_id", "some-client"),
        ("client_secret", "some-secret"),
    ])
    .await
    .expect(200);
}

#[tokio::test]
async fn login_with_another_grant_type_is_422() {
    let api = api().await;
    let user = api.new_user().await;
    api.login_form(&[
        ("grant_type", "client_credentials"),
        ("username", &user.email),
        ("password", &user.password),
    ])
    .await
    .expect_422(&["body", "grant_type"]);
}

#[tokio::test]
async fn login_without_username_or_password_is_422() {
    let api = api().await;
    api.login_form(&[("password", "s3cret-password")])
        .await
        .expect_422(&["body", "username"]);
    api.login_form(&[("username", &unique_email())])
        .await
        .expect_422(&["body", "password"]);
    let empty = api.login_form(&[]).await;
    empty.expect_422(&["body", "username"]);
    empty.expect_422(&["body", "password"]);
}

#[tokio::test]
async fn login_with_a_json_body_instead_of_a_form_is_422() {
    let api = api().await;
    let user = api.new_user().await;
    api.json(
        "POST",
        "/login",
        None,
        json!({"username": user.email, "password": user.password}),
    )
    .await
    .expect_validation_error();
}

#[tokio::test]
async fn login_with_a_mixed_case_domain_works() {
    let api = api().await;
    let local = unique("mc");
    // Signed up lower-case, logs in mixed-case...
    api.signup(&format!("{local}@example.com"), "s3cret-password")
        .await
        .expect(201);
    api.login(&format!("{local}@ExAmple.COM"), "s3cret-password")
        .await
        .expect(200);
    // ...and the other way round.
    let other = unique("mc");
    api.signup(&format!("{other}@EXAMPLE.Com"), "s3cret-password")
        .await
        .expect(201);
    api.login(&format!("{other}@example.com"), "s3cret-password")
        .await
        .expect(200);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_403() {
    let api = api().await;
    let user = api.new_user().await;
    let unknown = api.login(&unique_email(), &user.password).await;
    let wrong = api.login(&user.email, "not-the-password").await;
    unknown.expect_detail(403, "Invalid Credentials");
    wrong.expect_detail(403, "Invalid Credentials");
    assert_eq!(unknown.json(), wrong.json());
}

#[tokio::test]
async fn login_does_not_truncate_a_password_longer_than_72_bytes() {
    let api = api().await;
    let email = unique_email();
    let password = "q".repeat(72);
    api.signup(&email, &password).await.expect(201);
    // bcrypt reads 72 bytes; a login that truncated silently would accept this one.
    api.login(&email, &format!("{password}x"))
        .await
        .expect_detail(403, "Invalid Credentials");
}

/// How long one request takes, asserting its status.
async fn timed(request: impl Future<Output = Resp>, status: u16) -> Duration {
    let started = Instant::now();
    let resp = request.await;
    let took = started.elapsed();
    assert_eq!(resp.status, status, "{}: {}", resp.request, resp.text);
    took
}

/// The contract: unknown email and wrong password answer "in about the same time". A login
/// that skipped bcrypt for unknown e-mails would tell an attacker which e-mails exist.
///
/// At bcrypt cost 6 the hash is a few milliseconds, about as long as the DynamoDB read, so
/// "the medians are within x% of each other" would let that regression through. Instead the
/// test measures what the hash costs: `GET /users/{unknown id}` does the same one-item miss as
/// the login of an unknown e-mail, without a hash, so `wrong password - that` is the hash time.
/// The two login medians must differ by less than half of it. Skipping bcrypt for unknown
/// e-mails makes them differ by all of it and fails. Measured locally: 0-1.5 ms apart when
/// right, 4-6 ms apart with the hash skipped, for a hash of 4-5 ms.
///
/// The kinds are interleaved (alternating which login goes first), a long warm-up gets past
/// cold starts and DynamoDB Local's JIT warm-up, and the test runs alone (`api_alone`) so
/// other tests' load does not skew it.
#[tokio::test]
async fn unknown_email_and_wrong_password_take_about_the_same_time() {
    let api = api_alone().await;
    let user = api.new_user().await;
    let unknown_email = unique_email();
    let no_such_user = format!("/users/{}", missing_id());
    let wrong = || api.login(&user.email, "wrong-password");
    let unknown = || api.login(&unknown_email, "wrong-password");
    let read_miss = || api.get(&no_such_user, None);

    for _ in 0..25 {
        timed(wrong(), 403).await;
        timed(unknown(), 403).await;
        timed(read_miss(), 404).await;
    }
    let (mut wrong_times, mut unknown_times, mut miss_times) = (vec![], vec![], vec![]);
    for round in 0..41 {
        if round % 2 == 0 {
            wrong_times.push(timed(wrong(), 403).await);
            unknown_times.push(timed(unknown(), 403).await);
        } else {
            unknown_times.push(timed(unknown(), 403).await);
            wrong_times.push(timed(wrong(), 403).await);
        }
        miss_times.push(timed(read_miss(), 404).await);
    }
    let wrong = median(&mut wrong_times);
    let unknown = median(&mut unknown_times);
    let miss = median(&mut miss_times);
    let hash = wrong.saturating_sub(miss);
    let allowed = (hash / 2).max(Duration::from_millis(1));
    let difference = wrong.abs_diff(unknown);
    println!(
        "login medians: wrong password {wrong:?}, unknown e-mail {unknown:?}, read miss \
         without a hash {miss:?}; hash ~{hash:?}, difference {difference:?}, allowed {allowed:?}"
    );
    assert!(
        difference < allowed,
        "login time tells whether an e-mail exists: wrong password {wrong:?}, unknown e-mail \
         {unknown:?}, a read miss without a hash {miss:?}; the logins differ by {difference:?}, \
         more than half the hash time ({hash:?})"
    );
}

/// A `multipart/form-data` body with `boundary` and these text fields, as Postman's
/// "form-data" tab or `curl -F` send it.
fn multipart_body(boundary: &str, fields: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body + &format!("--{boundary}--\r\n")
}

/// `POST /login` with this Content-Type and body.
async fn login_raw(api: &Api, content_type: &str, body: String) -> Resp {
    let request = api
        .request("POST", "/login")
        .header("Content-Type", content_type)
        .body(body);
    api.send(request).await
}

#[tokio::test]
async fn login_with_a_multipart_form_answers_200_with_a_working_token() {
    let api = api().await;
    let user = api.new_user().await;
    let body = multipart_body(
        "----postman1234",
        &[
            ("grant_type", "password"),
            ("username", &user.email),
            ("password", &user.password),
            ("scope", ""),
        ],
    );
    let answer = login_raw(&api, "multipart/form-data; boundary=----postman1234", body)
        .await
        .expect(200);
    assert_eq!(answer["token_type"], json!("bearer"));
    let token = answer["access_token"].as_str().expect("a token");
    assert_eq!(token_claims(token)["user_id"], json!(user.id));
    api.get("/posts", Some(token)).await.expect(200);
}

#[tokio::test]
async fn a_multipart_content_type_is_matched_case_insensitively_with_a_quoted_boundary() {
    let api = api().await;
    let user = api.new_user().await;
    let body = multipart_body(
        "a b:c",
        &[("username", &user.email), ("password", &user.password)],
    );
    login_raw(
        &api,
        "Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"",
        body,
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_multipart_login_with_a_wrong_password_is_the_usual_403() {
    let api = api().await;
    let user = api.new_user().await;
    let body = multipart_body(
        "XyZ",
        &[("username", &user.email), ("password", "not-the-password")],
    );
    login_raw(&api, "multipart/form-data; boundary=XyZ", body)
        .await
        .expect_detail(403, "Invalid Credentials");
}

#[tokio::test]
async fn a_multipart_login_without_fields_or_with_a_bad_boundary_is_422_never_500() {
    let api = api().await;
    let missing = login_raw(
        &api,
        "multipart/form-data; boundary=XyZ",
        multipart_body("XyZ", &[("scope", "")]),
    )
    .await;
    missing.expect_422(&["body", "username"]);
    missing.expect_422(&["body", "password"]);
    let fields = [("username", "a@example.com"), ("password", "whatever-pw")];
    for content_type in [
        "multipart/form-data",
        "multipart/form-data; boundary=NotTheOneUsed",
    ] {
        login_raw(&api, content_type, multipart_body("XyZ", &fields))
            .await
            .expect_validation_error();
    }
}

#[tokio::test]
async fn a_url_encoded_login_with_a_charset_parameter_still_answers_200() {
    let api = api().await;
    let user = api.new_user().await;
    let body = format!(
        "username={}&password={}",
        user.email.replace('@', "%40"),
        user.password
    );
    login_raw(
        &api,
        "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
        body,
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_form_sent_as_another_content_type_is_422_for_missing_fields() {
    let api = api().await;
    let user = api.new_user().await;
    let body = format!(
        "username={}&password={}",
        user.email.replace('@', "%40"),
        user.password
    );
    let answer = login_raw(&api, "text/plain", body).await;
    answer.expect_422(&["body", "username"]);
    answer.expect_422(&["body", "password"]);
}

/// DynamoDB refuses a partition key over 2,048 bytes; a username that long used to reach the
/// key and answer 500. No address of ours is longer than 254 bytes (RFC 5321), so any longer
/// username is the normal 403, at every length, well-formed or not.
#[tokio::test]
async fn a_username_too_long_to_be_an_email_is_the_normal_403_never_500() {
    let api = api().await;
    for username in [
        format!("{}@example.com", "a".repeat(243)), // 255 bytes: one past the limit
        format!("{}@example.com", "a".repeat(2_100)),
        format!("{}@{}.com", "a".repeat(60), "b".repeat(5_000)),
        "x".repeat(3_000),
        "é".repeat(1_100), // 2,200 bytes in 1,100 characters
        "a".repeat(100_000),
    ] {
        api.login(&username, "some-password")
            .await
            .expect_detail(403, "Invalid Credentials");
    }
}

/// The other side of that limit: the longest address sign-up accepts (254 bytes) is a key
/// DynamoDB takes, so it signs up and logs in; one byte more is refused at sign-up (422), so
/// no longer e-mail ever becomes a key.
#[tokio::test]
async fn the_longest_address_signs_up_and_logs_in_and_one_byte_more_is_422() {
    let api = api().await;
    let local = unique("long");
    let domain = format!(
        "{}.{}.{}.example.com",
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(63)
    );
    let pad = 254 - local.len() - 1 - domain.len();
    let email = format!("{local}{}@{domain}", "a".repeat(pad));
    assert_eq!(email.len(), 254);
    api.signup(&email, "s3cret-password").await.expect(201);
    api.login(&email, "s3cret-password").await.expect(200);
    api.signup(&format!("x{email}"), "s3cret-password")
        .await
        .expect_422(&["body", "email"]);
}

#[tokio::test]
async fn login_answers_a_refresh_token_beside_the_courses_two_keys() {
    let api = api().await;
    let (_, body) = logged_in(&api).await;
    assert_eq!(
        keys(&body),
        [
            "access_token",
            "expires_in",
            "refresh_expires_in",
            "refresh_token",
            "token_type"
        ]
    );
    let (access, refresh) = pair(&body);
    // Opaque: 256 random bits in hex, not a JWT.
    assert_eq!(refresh.len(), 64, "{refresh}");
    assert!(refresh.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(refresh, access);
    let claims = token_claims(&access);
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(body["expires_in"], json!(lifetime));
    let refresh_secs = body["refresh_expires_in"].as_u64().unwrap();
    assert!(
        (7 * 24 * 3600 - 60..=7 * 24 * 3600).contains(&refresh_secs),
        "7 days by default: {body}"
    );
}

#[tokio::test]
async fn login_issues_access_tokens_with_every_claim_the_authorizer_requires() {
    let api = api().await;
    let user = api.new_user().await;
    let header = token_header(&user.token);
    assert_eq!(header["typ"], json!("at+jwt"));
    assert_eq!(header["alg"], json!("HS256"));
    let claims = token_claims(&user.token);
    assert_eq!(claims["iss"], json!(token_issuer()));
    assert_eq!(claims["aud"], json!(token_audience()));
    assert_eq!(claims["sub"], json!(user.id.to_string()));
    assert_eq!(claims["user_id"], json!(user.id));
    let jti = claims["jti"].as_str().expect("a jti");
    assert!(jti.len() >= 16, "{jti}");
    // A second login: another jti.
    let again = api.login(&user.email, &user.password).await.expect(200);
    let again = token_claims(again["access_token"].as_str().unwrap());
    assert_ne!(again["jti"], claims["jti"]);
}
