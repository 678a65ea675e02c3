//! Test support for handler unit tests (feature `memory`): requests shaped as API Gateway
//! (REST, v1) hands them to a function, the answers read back, and users and posts made in a
//! store, so each route crate tests its handler against [`MemoryStore`](crate::memory::MemoryStore)
//! with plain `cargo test`.
//!
//! ```ignore
//! let store = MemoryStore::new();
//! let ann = add_user(&store, "ann@example.com").await;
//! let post = add_post(&store, &ann, "hello").await;
//! let answer = respond(handle(&store, request("GET", "/posts/1").path_param("id", post.id).as_caller(&ann).build()).await);
//! assert_eq!(answer.status(), 200);
//! assert_eq!(body_json(&answer)["Post"]["title"], "hello");
//! ```
//!
//! Requests are built with `http::Request::builder()` and lambda_http's [`RequestExt`]
//! (`with_path_parameters`, `with_query_string_parameters`, `with_request_context`): what
//! lambda_http itself fills in from a real event, so `shared::http`'s readers see the same.

use crate::ApiError;
use crate::auth::Jwt;
use crate::config::{HashConfig, JwtConfig, LoginLimitsConfig, SessionConfig};
use crate::domain::{Email, PasswordHash, Post, PostDraft, User};
use crate::passwords::Passwords;
use crate::ports::{PostStore, UserStore};
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::collections::HashMap;
use std::fmt::Display;

/// bcrypt cost for tests: the lowest bcrypt allows, ~1 ms per hash instead of ~250 ms.
pub const TEST_BCRYPT_COST: u32 = 4;

/// The source address [`TestRequest`] reports unless [`TestRequest::from_ip`] says otherwise.
pub const TEST_SOURCE_IP: &str = "203.0.113.7";

/// The HS256 key of [`test_jwt`] (32 bytes or more, as `JWT_SECRET` must be).
pub const TEST_JWT_SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

/// A request under construction; [`TestRequest::build`] makes the [`Request`] a handler takes.
#[derive(Debug, Clone)]
#[must_use = "a TestRequest does nothing until it is built and handed to a handler"]
pub struct TestRequest {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Body,
    path_parameters: HashMap<String, String>,
    query: HashMap<String, Vec<String>>,
    context: ApiGatewayProxyRequestContext,
}

/// A `method` request to `path` (e.g. `request("GET", "/posts/7")`), with the request context
/// API Gateway gives every request (stage, method, source address) but no caller: a protected
/// handler answers it 401 until [`TestRequest::as_caller`] adds one.
///
/// `path` is only the URI: path parameters the handler reads come from
/// [`TestRequest::path_param`], as API Gateway passes them.
///
/// # Panics
/// When `method` is not an HTTP method.
pub fn request(method: &str, path: &str) -> TestRequest {
    let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut context = ApiGatewayProxyRequestContext::default();
    context.stage = Some("Prod".into());
    context.http_method = method.clone();
    context.path = Some(format!("/Prod{path}"));
    context.resource_path = Some(path.into());
    context.request_id = Some("test-request".into());
    context.identity.source_ip = Some(TEST_SOURCE_IP.into());
    TestRequest {
        method,
        path: path.into(),
        headers: Vec::new(),
        body: Body::Empty,
        path_parameters: HashMap::new(),
        query: HashMap::new(),
        context,
    }
}

impl TestRequest {
    /// A JSON body (`Content-Type: application/json`).
    pub fn json(self, body: serde_json::Value) -> Self {
        self.body("application/json", body.to_string())
    }

    /// A raw body with its `Content-Type` (a bad JSON text, a `text/plain` body...).
    pub fn body(mut self, content_type: &str, body: impl Into<String>) -> Self {
        self.headers.retain(|(name, _)| name != "content-type");
        self.headers
            .push(("content-type".into(), content_type.into()));
        self.body = Body::Text(body.into());
        self
    }

    /// An HTML form body (`application/x-www-form-urlencoded`), fields in this order.
    ///
    /// # Panics
    /// Never for string pairs (url-encoding them cannot fail).
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let encoded = serde_urlencoded::to_string(fields).expect("url-encoded form");
        self.body("application/x-www-form-urlencoded", encoded)
    }

    /// Adds a header (a repeated name adds another value).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// A path parameter, as API Gateway passes `{name}` of the resource path
    /// (`path_param("id", post.id)`, or `path_param("id", "abc")` for a bad one).
    pub fn path_param(mut self, name: &str, value: impl Display) -> Self {
        self.path_parameters.insert(name.into(), value.to_string());
        self
    }

    /// A query parameter (`query("limit", 5)`); a repeated name keeps every value in order, as
    /// API Gateway's `multiValueQueryStringParameters` does.
    pub fn query(mut self, name: &str, value: impl Display) -> Self {
        self.query
            .entry(name.into())
            .or_default()
            .push(value.to_string());
        self
    }

    /// The caller, as the authorizer hands it to the integration: `requestContext.authorizer`
    /// with `principalId`, `user_id` (a string, as every context value), `email` and
    /// `created_at`; plus the `Authorization` header the client sent.
    pub fn as_caller(mut self, user: &User) -> Self {
        let fields = &mut self.context.authorizer.fields;
        for (key, value) in [
            ("principalId", user.id.to_string()),
            ("user_id", user.id.to_string()),
            ("email", user.email.to_string()),
            ("created_at", user.created_at.clone()),
            // A token that is good for another hour, as the authorizer hands on its `exp`.
            ("exp", (crate::auth::unix_now() + 3600).to_string()),
        ] {
            fields.insert(key.into(), serde_json::Value::String(value));
        }
        self.header("authorization", "Bearer test-access-token")
    }

    /// The client's address as API Gateway saw it (`requestContext.identity.sourceIp`).
    pub fn from_ip(mut self, ip: &str) -> Self {
        self.context.identity.source_ip = Some(ip.into());
        self
    }

    /// The request as lambda_http would hand it to the handler.
    ///
    /// # Panics
    /// When a header name or value, or the path, is not valid HTTP.
    pub fn build(self) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method(self.method)
            .uri(format!("https://api.example.com{}", self.path));
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let mut req = builder
            .body(self.body)
            .expect("a valid request")
            .with_request_context(RequestContext::ApiGatewayV1(self.context));
        if !self.path_parameters.is_empty() {
            req = req.with_path_parameters(self.path_parameters);
        }
        if !self.query.is_empty() {
            req = req.with_query_string_parameters(QueryMap::from(self.query));
        }
        req
    }
}

impl From<TestRequest> for Request {
    fn from(r: TestRequest) -> Self {
        r.build()
    }
}

/// What the client receives for a handler's result: its answer, or the error's answer as
/// `shared::http::serve` makes it ([`ApiError::into_response`]).
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// The answer's body as JSON.
///
/// # Panics
/// When the body is not JSON (the message shows it).
pub fn body_json(response: &Response<Body>) -> serde_json::Value {
    let bytes = response.body().as_ref();
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// The `detail` string of an error answer (`{"detail": "..."}`).
///
/// # Panics
/// When the body has no string `detail` (a 422's is a list: use [`error_locations`]).
pub fn detail(response: &Response<Body>) -> String {
    let body = body_json(response);
    match body.get("detail") {
        Some(serde_json::Value::String(d)) => d.clone(),
        _ => panic!("no string detail in {body}"),
    }
}

/// The `loc` of every entry of a 422 answer, joined with `.` (`["body.title", "path.id"]`).
///
/// # Panics
/// When the body is not FastAPI's list of field errors.
pub fn error_locations(response: &Response<Body>) -> Vec<String> {
    let body = body_json(response);
    let entries = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list of field errors: {body}"));
    entries
        .iter()
        .map(|e| {
            e["loc"]
                .as_array()
                .unwrap_or_else(|| panic!("no loc in {e}"))
                .iter()
                .map(|part| match part {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

/// A header of the answer as text (`header(&answer, "retry-after")`).
pub fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A user with `email` in `store` whose password hash matches nothing (for handlers that never
/// check it); [`add_user_with_password`] for one that can log in.
///
/// # Panics
/// When `email` is not valid or the store refuses the sign-up.
pub async fn add_user(store: &impl UserStore, email: &str) -> User {
    let email = Email::parse(email).expect("a valid e-mail");
    store
        .create_user(&email, &PasswordHash::new("not a bcrypt hash"))
        .await
        .expect("the store creates the user")
}

/// A user with `email` and `password` (hashed at [`TEST_BCRYPT_COST`]) in `store`.
///
/// # Panics
/// When `email` is not valid, the password cannot be hashed, or the store refuses the sign-up.
pub async fn add_user_with_password(store: &impl UserStore, email: &str, password: &str) -> User {
    let hash = test_passwords()
        .hash(password.into())
        .await
        .expect("hash the password");
    let email = Email::parse(email).expect("a valid e-mail");
    store
        .create_user(&email, &hash)
        .await
        .expect("the store creates the user")
}

/// A published post of `owner`'s with `title` (and content `content of <title>`) in `store`.
///
/// # Panics
/// When the store refuses it.
pub async fn add_post(store: &impl PostStore, owner: &User, title: &str) -> Post {
    store
        .create_post(
            owner,
            PostDraft {
                title: title.into(),
                content: format!("content of {title}"),
                published: true,
            },
        )
        .await
        .expect("the store creates the post")
}

/// A hasher at [`TEST_BCRYPT_COST`] (sign-up).
pub fn test_passwords() -> Passwords {
    Passwords::new(HashConfig {
        bcrypt_cost: TEST_BCRYPT_COST,
    })
}

/// Access tokens signed with [`TEST_JWT_SECRET`], 30 minutes, default issuer and audience.
pub fn test_jwt() -> Jwt {
    Jwt::new(&JwtConfig::new(TEST_JWT_SECRET.to_vec(), 30))
}

/// Refresh tokens of 7 days in sessions of 30 (the production defaults).
pub fn test_sessions() -> SessionConfig {
    SessionConfig {
        refresh_expire_minutes: 7 * 24 * 60,
        session_max_minutes: 30 * 24 * 60,
    }
}

/// Failed-login limits small enough to reach in a test: `per_account_source` failures of one
/// account from one source per 15-minute window, the other limits off.
pub fn tiny_login_limits(per_account_source: u64) -> LoginLimitsConfig {
    LoginLimitsConfig {
        window_secs: 900,
        per_account_source,
        per_account: 0,
        per_source: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;
    use crate::http::{caller, path_id, query_int, source_ip};

    fn ann() -> User {
        User {
            id: UserId::new(7),
            email: Email::from_trusted("ann@example.com"),
            created_at: "2026-11-22T00:00:00.000000+00:00".into(),
        }
    }

    #[test]
    fn the_caller_reads_back_as_the_authorizer_put_it() {
        let req = request("GET", "/posts").as_caller(&ann()).build();
        assert_eq!(caller(&req).unwrap(), ann());
    }

    #[test]
    fn without_as_caller_a_request_has_no_caller() {
        let req = request("GET", "/posts").build();
        assert_eq!(caller(&req).unwrap_err().status(), 401);
    }

    #[test]
    fn path_and_query_parameters_and_the_source_reach_the_readers() {
        let req = request("GET", "/posts/5")
            .path_param("id", 5)
            .query("limit", 1)
            .query("limit", 3)
            .from_ip("198.51.100.1")
            .build();
        assert_eq!(path_id(&req, "id").unwrap(), 5);
        assert_eq!(query_int(&req, "limit", 10, 0, 100).unwrap(), 3);
        assert_eq!(source_ip(&req), Some("198.51.100.1"));
    }

    #[test]
    fn an_error_answers_as_serve_would_answer_it() {
        let answer = respond(Err(crate::answers::not_authenticated()));
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), crate::answers::NOT_AUTHENTICATED);
        assert_eq!(header(&answer, "www-authenticate"), Some("Bearer"));
        let answer = respond(Err(ApiError::field("path", "id", "int_parsing", "x")));
        assert_eq!(error_locations(&answer), ["path.id"]);
    }
}
