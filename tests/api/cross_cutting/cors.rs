//! CORS: `Access-Control-Allow-Origin` on every answer, preflight answered before auth.

use api_tests::*;

const ORIGIN: &str = "https://app.example.com";

/// Asserts the answer allows the browser to read it.
#[track_caller]
fn assert_allows_origin(resp: &Resp) {
    let allowed = resp
        .header("access-control-allow-origin")
        .unwrap_or_else(|| {
            panic!(
                "{} ({}): no Access-Control-Allow-Origin",
                resp.request, resp.status
            )
        });
    if is_local() {
        // The template's default, which the local gateway uses.
        assert_eq!(allowed, "*", "{}", resp.request);
    } else {
        assert!(
            allowed == "*" || allowed.starts_with("http"),
            "{}: {allowed:?}",
            resp.request
        );
    }
}

#[tokio::test]
async fn preflight_is_answered_for_every_route_without_a_token() {
    let api = api().await;
    for route in ROUTES {
        let (path, method) = (route.path_with_id(1), route.method);
        let request = api
            .request("OPTIONS", &path)
            .header("Origin", ORIGIN)
            .header("Access-Control-Request-Method", method)
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            );
        let resp = api.send(request).await;
        assert!(
            (200..300).contains(&resp.status),
            "OPTIONS {path} for {method}: {} {}",
            resp.status,
            resp.text
        );
        assert_allows_origin(&resp);
        let methods = resp
            .header("access-control-allow-methods")
            .unwrap_or_default()
            .to_ascii_uppercase();
        assert!(
            methods.contains(method) || methods.contains('*'),
            "OPTIONS {path}: Access-Control-Allow-Methods {methods:?} lacks {method}"
        );
        let headers = resp
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            (headers.contains("authorization") && headers.contains("content-type"))
                || headers.contains('*'),
            "OPTIONS {path}: Access-Control-Allow-Headers {headers:?} must allow Authorization \
             and Content-Type"
        );
    }
}

#[tokio::test]
async fn preflight_with_a_bad_token_is_still_answered() {
    let api = api().await;
    let request = api
        .request("OPTIONS", "/posts")
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", "GET")
        .header("Authorization", "Bearer garbage");
    let resp = api.send(request).await;
    assert!(
        (200..300).contains(&resp.status),
        "{} {}",
        resp.status,
        resp.text
    );
    assert_allows_origin(&resp);
}

#[tokio::test]
async fn every_kind_of_answer_carries_access_control_allow_origin() {
    let api = api().await;
    let owner = api.new_user().await;
    let stranger = api.new_user().await;
    let post = id_of(&api.new_post(&owner, "cors").await);
    let doomed = id_of(&api.new_post(&owner, "cors delete").await);
    let answers = vec![
        (200, api.get("/", None).await),
        (200, api.get("/posts", Some(&owner.token)).await),
        (201, api.vote(&stranger.token, post, 1).await),
        (204, api.delete_post(&owner.token, doomed).await),
        (401, api.get("/posts", None).await),
        (401, api.get("/posts", Some("garbage")).await),
        (403, api.delete_post(&stranger.token, post).await),
        (403, api.login(&unique_email(), "whatever-password").await),
        (404, api.get("/nothing-here", None).await),
        (404, api.get_post(&owner.token, missing_id()).await),
        (409, api.vote(&stranger.token, post, 1).await),
        (422, api.get("/users/abc", None).await),
    ];
    for (status, resp) in answers {
        assert_eq!(resp.status, status, "{}: {}", resp.request, resp.text);
        assert_allows_origin(&resp);
    }
}
