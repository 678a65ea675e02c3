//! Authentication: who gets a 401, with which detail, and before what.

use api_tests::*;

const NOT_AUTHENTICATED: &str = "Not authenticated";
const BAD_CREDENTIALS: &str = "Could not validate credentials";

/// Every protected route of the harness's list, with a body that would be valid.
fn protected_requests() -> Vec<(&'static str, String, Option<Value>)> {
    let id = missing_id();
    protected_routes()
        .map(|route| {
            let body = match route.function {
                "create_post" | "update_post" => Some(json!({"title": "t", "content": "c"})),
                "patch_post" => Some(json!({"title": "t"})),
                "vote" => Some(json!({"post_id": id, "dir": 1})),
                _ => None,
            };
            (route.method, route.path_with_id(id), body)
        })
        .collect()
}

/// Sends `method path` with this exact Authorization header (or none).
async fn with_header(
    api: &Api,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> Resp {
    let mut request = api.request(method, path);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    api.send(request).await
}

#[tokio::test]
async fn every_protected_route_without_a_header_is_401_not_authenticated() {
    let api = api().await;
    for (method, path, body) in protected_requests() {
        with_header(&api, method, &path, None, body.as_ref())
            .await
            .expect_401(NOT_AUTHENTICATED);
    }
}

#[tokio::test]
async fn a_header_that_is_not_bearer_is_401_not_authenticated() {
    let api = api().await;
    let user = api.new_user().await;
    let headers = [
        "Basic dXNlcjpwYXNzd29yZA==".to_owned(),
        format!("Token {}", user.token),
        // The bare token, without a scheme.
        user.token.clone(),
    ];
    for header in &headers {
        with_header(&api, "GET", "/posts", Some(header), None)
            .await
            .expect_401(NOT_AUTHENTICATED);
    }
}

#[tokio::test]
async fn every_protected_route_with_a_bad_token_is_401_could_not_validate_credentials() {
    let api = api().await;
    for (method, path, body) in protected_requests() {
        with_header(&api, method, &path, Some("Bearer garbage"), body.as_ref())
            .await
            .expect_401(BAD_CREDENTIALS);
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let api = api().await;
    let user = api.new_user().await;
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        with_header(
            &api,
            "GET",
            "/posts",
            Some(&format!("{scheme} {}", user.token)),
            None,
        )
        .await
        .expect(200);
    }
}

#[tokio::test]
async fn a_garbage_token_is_401() {
    let api = api().await;
    for token in ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30", "x.y"] {
        api.get("/posts", Some(token))
            .await
            .expect_401(BAD_CREDENTIALS);
    }
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_401() {
    let api = api().await;
    let user = api.new_user().await;
    let token = sign_token(
        Algorithm::HS256,
        b"some-other-key-that-is-long-enough-0123456789",
        &claims_for(user.id),
    );
    api.get("/posts", Some(&token))
        .await
        .expect_401(BAD_CREDENTIALS);
}

#[tokio::test]
async fn a_token_whose_claims_were_changed_after_signing_is_401() {
    let api = api().await;
    let user = api.new_user().await;
    let victim = api.new_user().await;
    // Keep the header and the signature, swap in claims naming another user.
    let parts: Vec<&str> = user.token.split('.').collect();
    let mut claims = token_claims(&user.token);
    claims["user_id"] = json!(victim.id);
    claims["sub"] = json!(victim.id.to_string());
    let forged_claims = unsigned_token(&claims);
    let forged_payload = forged_claims.split('.').nth(1).unwrap();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    api.get("/posts", Some(&forged))
        .await
        .expect_401(BAD_CREDENTIALS);
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_401() {
    let api = api().await;
    let user = api.new_user().await;
    let token = unsigned_token(&claims_for(user.id));
    api.get("/posts", Some(&token))
        .await
        .expect_401(BAD_CREDENTIALS);
    // With a stray signature part too.
    api.get("/posts", Some(&format!("{token}c2ln")))
        .await
        .expect_401(BAD_CREDENTIALS);
}

#[tokio::test]
async fn a_minted_token_for_a_real_user_is_accepted() {
    let Some(_) = secret_or_skip("a_minted_token_for_a_real_user_is_accepted") else {
        return;
    };
    let api = api().await;
    let user = api.new_user().await;
    let token = mint_token(&claims_for(user.id)).unwrap();
    api.get("/posts", Some(&token)).await.expect(200);
}

#[tokio::test]
async fn an_hs512_token_signed_with_the_right_key_is_401() {
    let Some(secret) = secret_or_skip("an_hs512_token_signed_with_the_right_key_is_401") else {
        return;
    };
    let api = api().await;
    let user = api.new_user().await;
    for algorithm in [Algorithm::HS512, Algorithm::HS384] {
        let token = sign_token(algorithm, secret.as_bytes(), &claims_for(user.id));
        api.get("/posts", Some(&token))
            .await
            .expect_401(BAD_CREDENTIALS);
    }
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let Some(_) = secret_or_skip("an_expired_token_is_401") else {
        return;
    };
    let api = api().await;
    let user = api.new_user().await;
    let now = now();
    let long_ago = claims_with(user.id, json!({"iat": now - 7200, "exp": now - 3600}));
    api.get("/posts", Some(&mint_token(&long_ago).unwrap()))
        .await
        .expect_401(BAD_CREDENTIALS);
}

#[tokio::test]
async fn a_token_expired_30_seconds_ago_is_401_as_leeway_is_a_few_seconds_at_most() {
    let Some(_) = secret_or_skip("a_token_expired_30_seconds_ago_is_401") else {
        return;
    };
    let api = api().await;
    let user = api.new_user().await;
    let now = now();
    let just_expired = claims_with(user.id, json!({"iat": now - 900, "exp": now - 30}));
    api.get("/posts", Some(&mint_token(&just_expired).unwrap()))
        .await
        .expect_401(BAD_CREDENTIALS);
}

#[tokio::test]
async fn a_token_that_expires_inside_the_authorizer_cache_window_is_401_from_its_exp_on() {
    let Some(_) = secret_or_skip("a_token_that_expires_inside_the_authorizer_cache_window") else {
        return;
    };
    // GIVEN a token that expires in 2 seconds, allowed once: API Gateway (and the local
    // gateway, which reads `ReauthorizeEvery` from the template) now answers its requests from
    // the authorizer cache for AuthorizerCacheSeconds (5 minutes), without asking again
    let api = api().await;
    let user = api.new_user().await;
    let issued = now();
    let exp = issued + 2;
    let token = mint_token(&claims_with(user.id, json!({"iat": issued, "exp": exp}))).unwrap();
    api.get("/posts", Some(&token)).await.expect(200);
    api.get(&format!("/users/{}", user.id), None)
        .await
        .expect(200);
    api.get("/posts", Some(&token)).await.expect(200);
    // WHEN it is used after its exp (plus the few seconds of leeway the authorizer allows)
    let refused_from = exp + shared::auth::LEEWAY_SECS as i64 + 1;
    let wait = u64::try_from(refused_from - now()).unwrap_or(0) + 1;
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    // THEN every protected route refuses it, although the cached Allow is still fresh: the
    // authorizer handed `exp` on and the handlers check it
    api.get("/posts", Some(&token))
        .await
        .expect_401(BAD_CREDENTIALS);
    api.json(
        "POST",
        "/posts",
        Some(&token),
        json!({"title": "t", "content": "c"}),
    )
    .await
    .expect_401(BAD_CREDENTIALS);
}

#[tokio::test]
async fn a_token_without_user_id_is_401() {
    let Some(_) = secret_or_skip("a_token_without_user_id_is_401") else {
        return;
    };
    let api = api().await;
    let user = api.new_user().await;
    let claims = claims_with(user.id, json!({"user_id": null}));
    api.get("/posts", Some(&mint_token(&claims).unwrap()))
        .await
        .expect_401(BAD_CREDENTIALS);
}

#[tokio::test]
async fn a_token_that_never_expires_is_401() {
    let Some(_) = secret_or_skip("a_token_that_never_expires_is_401") else {
        return;
    };
    let api = api().await;
    let user = api.new_user().await;
    let claims = claims_with(user.id, json!({"exp": null}));
    api.get("/posts", Some(&mint_token(&claims).unwrap()))
        .await
        .expect_401(BAD_CREDENTIALS);
}

#[tokio::test]
async fn a_valid_token_for_a_user_that_does_not_exist_is_401() {
    let Some(_) = secret_or_skip("a_valid_token_for_a_user_that_does_not_exist_is_401") else {
        return;
    };
    let api = api().await;
    let token = mint_token(&claims_for(missing_id())).unwrap();
    api.get("/posts", Some(&token))
        .await
        .expect_401(BAD_CREDENTIALS);
    api.json(
        "POST",
        "/posts",
        Some(&token),
        json!({"title": "t", "content": "c"}),
    )
    .await
    .expect_401(BAD_CREDENTIALS);
}

#[tokio::test]
async fn authentication_comes_before_validation() {
    let api = api().await;
    // Bodies, queries and paths that would be 422 for a signed-in user.
    let cases: [(&str, &str, Option<Value>); 5] = [
        ("POST", "/posts", Some(json!({"title": 123}))),
        ("POST", "/vote", Some(json!({"post_id": "x", "dir": 7}))),
        ("GET", "/posts?limit=1000&skip=-4", None),
        ("GET", "/posts/abc", None),
        ("PATCH", "/posts/0", Some(json!({"published": "maybe"}))),
    ];
    for (method, path, body) in &cases {
        with_header(&api, method, path, None, body.as_ref())
            .await
            .expect_401(NOT_AUTHENTICATED);
        with_header(&api, method, path, Some("Bearer garbage"), body.as_ref())
            .await
            .expect_401(BAD_CREDENTIALS);
    }
    // A malformed JSON body too.
    let resp = api
        .call(
            "POST",
            "/posts",
            None,
            Body::Raw("{not json".into(), "application/json"),
        )
        .await;
    resp.expect_401(NOT_AUTHENTICATED);
}

#[tokio::test]
async fn authentication_comes_before_404_and_403() {
    let api = api().await;
    let owner = api.new_user().await;
    let post = id_of(&api.new_post(&owner, "guarded").await);
    let missing = missing_id();
    // 404 would be the answer for a signed-in user...
    api.get(&format!("/posts/{missing}"), None)
        .await
        .expect_401(NOT_AUTHENTICATED);
    api.call(
        "DELETE",
        &format!("/posts/{missing}"),
        Some("garbage"),
        Body::None,
    )
    .await
    .expect_401(BAD_CREDENTIALS);
    api.json("POST", "/vote", None, json!({"post_id": missing, "dir": 0}))
        .await
        .expect_401(NOT_AUTHENTICATED);
    // ...and 403 for a signed-in stranger.
    api.json(
        "PUT",
        &format!("/posts/{post}"),
        Some("garbage"),
        json!({"title": "t", "content": "c"}),
    )
    .await
    .expect_401(BAD_CREDENTIALS);
    api.call("DELETE", &format!("/posts/{post}"), None, Body::None)
        .await
        .expect_401(NOT_AUTHENTICATED);
    api.get_post(&owner.token, post).await.expect(200);
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let api = api().await;
    api.get("/", None).await.expect(200);
    let email = unique_email();
    let user = api.signup(&email, "s3cret-password").await.expect(201);
    api.get(&format!("/users/{}", id_of(&user)), None)
        .await
        .expect(200);
    api.login(&email, "s3cret-password").await.expect(200);
}

// ---------------------------------------------------------------------------------------------
// Every claim checked (RFC 8725), and one Authorization header only
// ---------------------------------------------------------------------------------------------

/// The claims (or header) of a minted token that must make it a 401: each case changes one
/// thing in otherwise valid claims for a real user.
#[tokio::test]
async fn a_token_that_fails_any_check_of_rfc_8725_is_401() {
    let Some(_) = secret_or_skip("a_token_that_fails_any_check_of_rfc_8725_is_401") else {
        return;
    };
    let api = api().await;
    let user = api.new_user().await;
    let now = now();
    let year = 365 * 24 * 3600;
    let cases: Vec<(&str, Value)> = vec![
        (
            "a foreign issuer",
            json!({"iss": "https://evil.example.com"}),
        ),
        ("no issuer", json!({"iss": null})),
        ("a foreign audience", json!({"aud": "another-api"})),
        ("no audience", json!({"aud": null})),
        (
            "iat a year ahead",
            json!({"iat": now + year, "exp": now + year + 60}),
        ),
        ("no iat", json!({"iat": null})),
        ("exp = 2^63", json!({"exp": 1u64 << 63})),
        (
            "a lifetime of 2 hours",
            json!({"iat": now - 60, "exp": now + 7140}),
        ),
        ("no jti", json!({"jti": null})),
        (
            "sub naming another user",
            json!({"sub": (user.id + 1).to_string()}),
        ),
    ];
    for (what, changes) in cases {
        let token = mint_token(&claims_with(user.id, changes)).unwrap();
        let r = api.get("/posts", Some(&token)).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        r.expect_401(BAD_CREDENTIALS);
    }
    // The same claims are fine as an access token...
    let claims = claims_for(user.id);
    api.get("/posts", Some(&mint_token(&claims).unwrap()))
        .await
        .expect(200);
    // ...but not in a token of another type, or of no stated type.
    for typ in [Some("refresh+jwt"), Some("JWT"), None] {
        let token = mint_typed_token(typ, &claims).unwrap();
        api.get("/posts", Some(&token))
            .await
            .expect_401(BAD_CREDENTIALS);
    }
}

/// Sends `method path` with each of these `Authorization` headers, in this order.
async fn with_headers(
    api: &Api,
    method: &str,
    path: &str,
    values: &[&str],
    body: Option<&Value>,
) -> Resp {
    let mut request = api.request(method, path);
    for value in values {
        request = request.header("Authorization", *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    api.send(request).await
}

#[tokio::test]
async fn two_authorization_headers_are_401_whichever_is_valid() {
    let api = api().await;
    let user = api.new_user().await;
    let valid = format!("Bearer {}", user.token);
    // Each alone: as expected.
    with_headers(&api, "GET", "/posts", &[&valid], None)
        .await
        .expect(200);
    let pairs = [
        [valid.as_str(), "Bearer garbage"],
        ["Bearer garbage", valid.as_str()],
        [valid.as_str(), valid.as_str()],
        [valid.as_str(), "Basic dXNlcjpwYXNzd29yZA=="],
    ];
    for pair in pairs {
        for (method, path, body) in protected_requests() {
            let r = with_headers(&api, method, &path, &pair, body.as_ref()).await;
            assert_eq!(r.status, 401, "{method} {path} with {pair:?}: {}", r.text);
            r.expect_401(BAD_CREDENTIALS);
        }
    }
}
