//! The API Gateway emulation in process, on a small template of fake functions.

use super::*;

pub(crate) const TEMPLATE: &str = r#"
Globals:
  Function:
    Timeout: 10
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Cors:
        AllowOrigin: "'*'"
        AllowHeaders: "'Authorization,Content-Type'"
        MaxAge: "'600'"
      Auth:
        DefaultAuthorizer: Jwt
        AddDefaultAuthorizerToCorsPreflight: false
        Authorizers:
          Jwt:
            FunctionArn: !GetAtt AuthorizerFunction.Arn
            FunctionPayloadType: TOKEN
            Identity: { Header: Authorization, ReauthorizeEvery: 0 }
      GatewayResponses:
        UNAUTHORIZED:
          StatusCode: "401"
          ResponseParameters: { Headers: { WWW-Authenticate: "'Bearer'" } }
          ResponseTemplates: { application/json: '{"detail": "Not authenticated"}' }
        ACCESS_DENIED:
          StatusCode: "401"
          ResponseTemplates: { application/json: '{"detail": "Could not validate credentials"}' }
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseTemplates: { application/json: '{"detail": "Not Found"}' }
        AUTHORIZER_CONFIGURATION_ERROR:
          StatusCode: "503"
          ResponseTemplates: { application/json: '{"detail": "Service Unavailable"}' }
        DEFAULT_5XX:
          StatusCode: "500"
          ResponseParameters: { Headers: { Access-Control-Allow-Origin: "'*'" } }
          ResponseTemplates: { application/json: '{"detail": "Internal Server Error"}' }
  ItemsFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get: { Type: Api, Properties: { RestApiId: !Ref Api, Path: "/items/{id}", Method: get } }
        Post: { Type: Api, Properties: { RestApiId: !Ref Api, Path: /items, Method: post } }
  PublicFunction:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 1
      Events:
        Root: { Type: Api, Properties: { RestApiId: !Ref Api, Path: /, Method: get, Auth: { Authorizer: NONE } } }
  AuthorizerFunction:
    Type: AWS::Serverless::Function
"#;

pub(crate) struct Fixture {
    base: String,
    http: reqwest::Client,
    runtime: Arc<LambdaRuntime>,
}

pub(crate) async fn gateway() -> Fixture {
    gateway_from(TEMPLATE).await
}

pub(crate) async fn gateway_from(text: &str) -> Fixture {
    let template = Template::parse("template.yaml", text).expect("template");
    let app = template
        .resolve(&ResolveOptions {
            jwt_secret: "x".into(),
            ..Default::default()
        })
        .expect("resolve");
    let specs = app
        .functions
        .iter()
        .map(|f| fake_spec(&f.logical_id, f.timeout, 4, &[]))
        .collect();
    let runtime = runtime_with(specs);
    let gw = Arc::new(Gateway::new(&app, runtime.clone()).expect("gateway"));
    Fixture {
        base: serve(gw.router()).await,
        http: reqwest::Client::new(),
        runtime,
    }
}

impl Fixture {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", t);
        }
        req.send().await.expect("request")
    }
}

pub(crate) async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("JSON body")
}

#[tokio::test]
async fn an_allowed_request_reaches_the_function_with_a_rest_proxy_event() {
    let f = gateway().await;
    let r = f.get("/items/42/?q=a%20b&q=c", Some("Bearer allow")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-amzn-requestid"));
    let e = json_of(r).await;
    assert_eq!(e["resource"], "/items/{id}");
    assert_eq!(e["path"], "/items/42/");
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["pathParameters"], json!({"id": "42"}));
    assert_eq!(e["queryStringParameters"], json!({"q": "c"}));
    assert_eq!(
        e["multiValueQueryStringParameters"],
        json!({"q": ["a b", "c"]})
    );
    assert_eq!(e["headers"]["authorization"], "Bearer allow");
    // What API Gateway adds, spelled as it spells them.
    assert_eq!(e["headers"]["X-Forwarded-Proto"], "https");
    assert_eq!(e["headers"]["X-Forwarded-Port"], "443");
    assert!(
        e["headers"]["X-Amzn-Trace-Id"]
            .as_str()
            .is_some_and(|t| t.starts_with("Root=1-")),
        "{}",
        e["headers"]
    );
    assert_eq!(e["body"], Value::Null);
    let ctx = &e["requestContext"];
    assert_eq!(ctx["stage"], "Prod");
    assert_eq!(ctx["path"], "/items/42/", "the path as the client sent it");
    assert_eq!(ctx["resourcePath"], "/items/{id}");
    assert_eq!(ctx["identity"]["sourceIp"], "127.0.0.1");
    let auth = &ctx["authorizer"];
    assert_eq!(auth["principalId"], "user-7");
    assert_eq!(
        auth["user_id"], "7",
        "context values arrive as strings, as on API Gateway"
    );
    let arn = auth["method_arn_seen"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:execute-api:us-east-1:123456789012:")
            && arn.ends_with("/Prod/GET/items/42/"),
        "{arn}"
    );
    assert!(auth["integrationLatency"].is_number());
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn the_functions_trace_id_has_the_root_of_the_requests_x_amzn_trace_id() {
    let f = gateway().await;
    let root = "Root=1-5759e988-bd862e3fe1be46a994272793";
    let r = f
        .http
        .get(format!("{}/", f.base))
        .header("X-Amzn-Trace-Id", format!("{root};Sampled=1"))
        .send()
        .await
        .unwrap();
    let runtime_trace = r.headers()["x-fake-trace"].to_str().unwrap().to_string();
    assert!(
        runtime_trace.starts_with(&format!("{root};Parent=")),
        "{runtime_trace}"
    );
    let e = json_of(r).await;
    // The client's own header, in its spelling (reqwest sends names in lower case).
    assert_eq!(e["headers"]["x-amzn-trace-id"], format!("{root};Sampled=1"));
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn the_function_response_is_passed_through_with_all_headers() {
    let f = gateway().await;
    let r = f
        .get("/items/1?action=created", Some("Bearer wildcard"))
        .await;
    assert_eq!(r.status(), 201);
    let cookies: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(r.headers()["x-single"], "s");
    assert_eq!(r.text().await.unwrap(), r#"{"ok":true}"#);
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn a_missing_authorization_header_is_401_without_calling_the_authorizer() {
    let f = gateway().await;
    for token in [None, Some(""), Some("   ")] {
        let r = f.get("/items/1", token).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(json_of(r).await, json!({"detail": "Not authenticated"}));
    }
    assert_eq!(f.runtime.instance_count("AuthorizerFunction"), Some(0));
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn the_authorizers_answers_map_to_gateway_responses() {
    let f = gateway().await;
    let cases = [
        (
            "Bearer nonsense",
            401,
            json!({"detail": "Not authenticated"}),
        ), // failed with "Unauthorized"
        (
            "Bearer deny",
            401,
            json!({"detail": "Could not validate credentials"}),
        ), // ACCESS_DENIED
        (
            "Bearer elsewhere",
            401,
            json!({"detail": "Could not validate credentials"}),
        ), // no matching Allow
        ("Bearer boom", 503, json!({"detail": "Service Unavailable"})), // other error
        (
            "Bearer garbage",
            503,
            json!({"detail": "Service Unavailable"}),
        ), // not a policy
    ];
    for (token, status, body) in cases {
        let r = f.get("/items/1", Some(token)).await;
        assert_eq!(r.status(), status, "{token}");
        assert_eq!(json_of(r).await, body, "{token}");
    }
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn public_routes_skip_the_authorizer() {
    let f = gateway().await;
    let r = f.get("/", None).await;
    assert_eq!(r.status(), 200);
    let e = json_of(r).await;
    assert_eq!(e["resource"], "/");
    assert!(e["requestContext"].get("authorizer").is_none());
    assert_eq!(f.runtime.instance_count("AuthorizerFunction"), Some(0));
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn a_request_authorizer_sees_every_authorization_header_and_none_means_no_call() {
    // GIVEN the project's kind of authorizer: REQUEST, identity source the Authorization header
    let text = TEMPLATE.replace(
        "FunctionPayloadType: TOKEN\n            Identity: { Header: Authorization, ReauthorizeEvery: 0 }",
        "FunctionPayloadType: REQUEST\n            Identity: { Headers: [Authorization], ReauthorizeEvery: 0 }",
    );
    assert_ne!(text, TEMPLATE);
    let f = gateway_from(&text).await;
    // WHEN there is no Authorization header THEN API Gateway answers 401 without calling it
    let r = f.get("/items/1", None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(json_of(r).await, json!({"detail": "Not authenticated"}));
    assert_eq!(f.runtime.instance_count("AuthorizerFunction"), Some(0));
    // WHEN there is one, it gets the request (without its body) and its answer counts
    let r = f.get("/items/1", Some("Bearer allow")).await;
    assert_eq!(r.status(), 200);
    let e = json_of(r).await;
    let seen: Value =
        serde_json::from_str(e["requestContext"]["authorizer"]["seen"].as_str().unwrap()).unwrap();
    assert_eq!(
        seen,
        json!({"authorization_values": 1, "has_body": false, "resource": "/items/{id}"})
    );
    // WHEN there are two, whichever order, it sees both and denies
    for pair in [
        ["Bearer allow", "Bearer other"],
        ["Bearer other", "Bearer allow"],
    ] {
        let r = f
            .http
            .get(format!("{}/items/1", f.base))
            .header("Authorization", pair[0])
            .header("Authorization", pair[1])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{pair:?}");
        assert_eq!(
            json_of(r).await,
            json!({"detail": "Could not validate credentials"})
        );
    }
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_and_undeclared_methods_are_the_missing_token_response() {
    let f = gateway().await;
    let r = f.get("/nope", Some("Bearer allow")).await;
    assert_eq!(r.status(), 404);
    assert_eq!(json_of(r).await, json!({"detail": "Not Found"}));
    let r = f
        .http
        .delete(format!("{}/items/1", f.base))
        .header("Authorization", "Bearer allow")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = f.get("/items", None).await;
    assert_eq!(r.status(), 404, "/items only has POST");
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn a_preflight_is_answered_before_authentication() {
    let f = gateway().await;
    let r = f
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/items/9/", f.base))
        .header("Origin", "https://example.com")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(
        h["access-control-allow-headers"],
        "Authorization,Content-Type"
    );
    assert_eq!(
        h["access-control-allow-methods"], "GET,OPTIONS",
        "the path's own methods when AllowMethods is unset"
    );
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(f.runtime.instance_count("AuthorizerFunction"), Some(0));
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn function_failures_become_the_default_5xx_response() {
    let f = gateway().await;
    for action in ["fail", "crash", "malformed"] {
        let r = f.get(&format!("/?action={action}"), None).await;
        assert_eq!(r.status(), 500, "{action}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            json_of(r).await,
            json!({"detail": "Internal Server Error"}),
            "{action}"
        );
    }
    // PublicFunction's Timeout is 1 s: the instance is killed and the client gets the 5XX.
    let started = Instant::now();
    let r = f.get("/?sleep_ms=20000", None).await;
    assert_eq!(r.status(), 500);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let r = f.get("/?action=echo", None).await;
    assert_eq!(r.status(), 200, "a new instance serves the next call");
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn without_binary_media_types_bodies_are_text_both_ways() {
    let f = gateway().await;
    let post = |body: Vec<u8>| {
        f.http
            .post(format!("{}/items", f.base))
            .header("Authorization", "Bearer allow")
            .header("Content-Type", "application/octet-stream")
            .body(body)
            .send()
    };
    let e = json_of(post(br#"{"title":"hi"}"#.to_vec()).await.unwrap()).await;
    assert_eq!(e["body"], r#"{"title":"hi"}"#);
    assert_eq!(e["isBase64Encoded"], false);
    assert_eq!(e["pathParameters"], Value::Null);
    // Bytes that are not UTF-8 arrive as (mangled) text, never base64, as on AWS.
    let e = json_of(post(vec![0xff, 0xfe, 0x00]).await.unwrap()).await;
    assert_eq!(e["body"], "\u{fffd}\u{fffd}\u{0}");
    assert_eq!(e["isBase64Encoded"], false);
    // A base64 result reaches the client as the base64 text, whatever it accepts.
    let r = f
        .http
        .get(format!("{}/items/1?action=binary", f.base))
        .header("Authorization", "Bearer allow")
        .header("Accept", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "AAEC/w==");
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn with_binary_media_types_matching_bodies_are_base64_in_and_bytes_out() {
    // GIVEN an API that treats application/octet-stream and image/* as binary
    let text = TEMPLATE.replace(
        "      StageName: Prod\n",
        "      StageName: Prod\n      BinaryMediaTypes: [\"application~1octet-stream\", \"image/*\"]\n",
    );
    let f = gateway_from(&text).await;
    let post = |content_type: &'static str, body: Vec<u8>| {
        f.http
            .post(format!("{}/items", f.base))
            .header("Authorization", "Bearer allow")
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    // WHEN the Content-Type is binary THEN the body is base64, even valid UTF-8
    let e = json_of(post("image/png", vec![0xff, 0xfe, 0x00]).await.unwrap()).await;
    assert_eq!(e["body"], "//4A");
    assert_eq!(e["isBase64Encoded"], true);
    let e = json_of(
        post("application/octet-stream", b"abc".to_vec())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (&e["body"], &e["isBase64Encoded"]),
        (&json!("YWJj"), &json!(true))
    );
    // WHEN it is not THEN text
    let e = json_of(
        post("application/json", br#"{"a":1}"#.to_vec())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (&e["body"], &e["isBase64Encoded"]),
        (&json!(r#"{"a":1}"#), &json!(false))
    );
    // AND a base64 result is decoded only for a client whose first Accept type is binary
    let get = |accept: &'static str| {
        f.http
            .get(format!("{}/items/1?action=binary", f.base))
            .header("Authorization", "Bearer allow")
            .header("Accept", accept)
            .send()
    };
    let r = get("image/webp, text/html").await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), [0u8, 1, 2, 255]);
    let r = get("text/html, image/webp").await.unwrap();
    assert_eq!(r.text().await.unwrap(), "AAEC/w==");
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn an_event_over_lambdas_6_mb_is_refused_before_the_function_with_413() {
    let f = gateway().await;
    // 6.5 MB: within API Gateway's 10 MB, over Lambda's 6 MB once in the event.
    let r = f
        .http
        .post(format!("{}/items", f.base))
        .header("Authorization", "Bearer allow")
        .body(vec![b'a'; 6_500_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(json_of(r).await, json!({"message": "Request Too Long"}));
    assert_eq!(
        f.runtime.instance_count("ItemsFunction"),
        Some(0),
        "Lambda refused the event: no instance ran"
    );
    // Just under: it runs.
    let r = f
        .http
        .post(format!("{}/items", f.base))
        .header("Authorization", "Bearer allow")
        .body(vec![b'a'; 6_000_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Over API Gateway's 10 MB: the same fixed answer, whatever the GatewayResponses say.
    let r = f
        .http
        .post(format!("{}/items", f.base))
        .header("Authorization", "Bearer allow")
        .body(vec![b'a'; 10 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(json_of(r).await, json!({"message": "Request Too Long"}));
    f.runtime.shutdown().await;
}

/// Sends `request` as it is on a new connection and returns the response's body.
async fn raw_request(base: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (_, body) = text.split_once("\r\n\r\n").expect("a response");
    body.to_string()
}

#[tokio::test]
async fn header_names_reach_the_event_in_the_clients_case() {
    let f = gateway().await;
    let body = raw_request(
        &f.base,
        "GET /?x=1 HTTP/1.1\r\nHost: localhost\r\nX-Custom-ID: 7\r\nx-lower: a\r\nAccept: */*\r\nConnection: close\r\n\r\n",
    )
    .await;
    let e: Value = serde_json::from_str(&body).expect("the echoed event");
    assert_eq!(e["headers"]["X-Custom-ID"], "7", "{}", e["headers"]);
    assert_eq!(e["headers"]["x-lower"], "a");
    assert_eq!(e["headers"]["Host"], "localhost");
    assert_eq!(e["multiValueHeaders"]["X-Custom-ID"], json!(["7"]));
    assert!(e["headers"].get("x-custom-id").is_none());
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn a_functions_www_authenticate_is_remapped_as_api_gateway_does() {
    let f = gateway().await;
    let r = f
        .get("/items/1?action=challenge", Some("Bearer allow"))
        .await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_none());
    assert_eq!(r.headers()["x-amzn-remapped-www-authenticate"], "Bearer");
    // The gateway's own 401 (a gateway response) keeps it.
    let r = f.get("/items/1", None).await;
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn a_null_authorizer_context_value_reaches_the_function_as_null() {
    let f = gateway().await;
    let e = json_of(f.get("/items/1", Some("Bearer allow")).await).await;
    let auth = &e["requestContext"]["authorizer"];
    assert!(auth.as_object().unwrap().contains_key("nothing"), "{auth}");
    assert_eq!(auth["nothing"], Value::Null);
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn a_proxy_result_with_a_key_api_gateway_does_not_know_is_a_5xx() {
    let f = gateway().await;
    let r = f.get("/items/1?action=extra", Some("Bearer allow")).await;
    assert_eq!(r.status(), 500, "DEFAULT_5XX, as for any malformed result");
    assert_eq!(json_of(r).await, json!({"detail": "Internal Server Error"}));
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn x_http_method_override_on_a_post_routes_by_the_method_it_names() {
    let f = gateway().await;
    let r = f
        .http
        .post(format!("{}/items/3", f.base))
        .header("Authorization", "Bearer allow")
        .header("X-HTTP-Method-Override", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "/items/{{id}} has only GET");
    let e = json_of(r).await;
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["resource"], "/items/{id}");
    // Not on other methods, and not to a method that is no HTTP method.
    let r = f
        .http
        .delete(format!("{}/items/3", f.base))
        .header("Authorization", "Bearer allow")
        .header("X-HTTP-Method-Override", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn with_reauthorize_every_the_policy_is_cached_per_token_and_checked_per_method() {
    // GIVEN an authorizer whose answers are cached, and a policy that allows one method ARN
    let f = gateway_from(&TEMPLATE.replace("ReauthorizeEvery: 0", "ReauthorizeEvery: 300")).await;
    assert_eq!(f.get("/items/1", Some("Bearer allow")).await.status(), 200);
    // WHEN the same token asks for another resource
    let r = f.get("/items/2", Some("Bearer allow")).await;
    // THEN the cached policy (for /items/1) is evaluated again, and denies it: API Gateway's
    // well-known caching pitfall, reproduced.
    assert_eq!(r.status(), 401);
    assert_eq!(
        json_of(r).await,
        json!({"detail": "Could not validate credentials"})
    );
    f.runtime.shutdown().await;

    // Without caching each request gets its own policy.
    let f = gateway().await;
    assert_eq!(f.get("/items/1", Some("Bearer allow")).await.status(), 200);
    assert_eq!(f.get("/items/2", Some("Bearer allow")).await.status(), 200);
    f.runtime.shutdown().await;
}

#[tokio::test]
async fn requests_over_a_methods_rate_and_burst_are_throttled_before_anything_else() {
    // GIVEN stage limits (each method gets its own bucket of them) and tighter ones for
    // POST /items, written as CloudFormation wants the path (`~1` for `/`)
    let text = TEMPLATE.replace(
        "      StageName: Prod\n",
        "      StageName: Prod\n      MethodSettings:\n        - { ResourcePath: \"/*\", HttpMethod: \"*\", ThrottlingRateLimit: 0.5, ThrottlingBurstLimit: 2 }\n        - { ResourcePath: \"/~1items\", HttpMethod: POST, ThrottlingRateLimit: 0.5, ThrottlingBurstLimit: 1 }\n",
    );
    let f = gateway_from(&text).await;
    assert_eq!(f.get("/nope", None).await.status(), 404);
    assert_eq!(f.get("/items/1", None).await.status(), 401);
    assert_eq!(f.get("/items/1", Some("Bearer allow")).await.status(), 200);
    let post = || {
        f.http
            .post(format!("{}/items", f.base))
            .header("Authorization", "Bearer allow")
            .send()
    };
    assert_eq!(post().await.unwrap().status(), 200);
    let r = post().await.unwrap();
    assert_eq!(r.status(), 429, "POST /items has a burst of 1");
    assert_eq!(json_of(r).await, json!({"message": "Too Many Requests"}));
    // A token the authorizer would fail with a 503: the 429 shows it was never asked.
    let r = f.get("/items/1", Some("Bearer boom")).await;
    assert_eq!(
        r.status(),
        429,
        "GET /items/{{id}} spent its own burst of 2"
    );
    assert_eq!(r.headers()["x-amzn-errortype"], "TooManyRequestsException");
    assert_eq!(json_of(r).await, json!({"message": "Too Many Requests"}));
    // One token every 2 s: after that long POST /items has one again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        post().await.unwrap().status(),
        200,
        "the bucket refills at the rate"
    );
    f.runtime.shutdown().await;
}

/// A "build" of the fake function: a script that runs it as `version`.
fn fake_build(version: &str) -> String {
    format!(
        "#!/bin/sh\nLGW_FAKE_VERSION={version} exec '{}' fake_lambda_runtime --exact --nocapture --test-threads=1\n",
        std::env::current_exe().expect("test executable").display()
    )
}

/// Replaces `path` the way cargo does: a new file moved over the old one.
fn install(path: &std::path::Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, script).expect("write");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test]
async fn a_binary_swapped_under_the_running_gateway_answers_the_next_request() {
    // GIVEN the gateway running PublicFunction from a bin dir, warm after one request
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = dir.path().join("public");
    install(&binary, &fake_build("1"));
    let app = Template::parse("template.yaml", TEMPLATE)
        .expect("template")
        .resolve(&ResolveOptions::default())
        .expect("resolve");
    let specs = app
        .functions
        .iter()
        .map(|f| {
            let mut spec = fake_spec(&f.logical_id, f.timeout, 4, &[]);
            if f.logical_id == "PublicFunction" {
                spec.executable = binary.clone();
                spec.args.clear();
            }
            spec
        })
        .collect();
    let runtime = runtime_with(specs);
    let gw = Arc::new(Gateway::new(&app, runtime.clone()).expect("gateway"));
    let base = serve(gw.router()).await;
    let http = reqwest::Client::new();
    let get = || http.get(format!("{base}/")).send();
    let r = get().await.expect("GET /");
    assert_eq!(r.headers()["x-fake-version"], "1");
    let old_pid: u32 = r.headers()["x-fake-pid"].to_str().unwrap().parse().unwrap();
    assert_eq!(
        get().await.unwrap().headers()["x-fake-pid"],
        old_pid.to_string().as_str(),
        "warm"
    );

    // WHEN another build is copied over the binary (no restart, no signal)
    install(&binary, &fake_build("2"));

    // THEN the next request is served by a new process of the new binary
    let r = get().await.expect("GET / after the swap");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-fake-version"], "2");
    assert_ne!(r.headers()["x-fake-pid"], old_pid.to_string().as_str());
    // AND the old instance, idle, was stopped rather than left running
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !std::path::Path::new(&format!("/proc/{old_pid}")).exists()
    });
    assert!(gone, "the old instance (pid {old_pid}) still runs");
    assert_eq!(runtime.instance_count("PublicFunction"), Some(1));
    runtime.shutdown().await;
}
