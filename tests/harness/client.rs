//! The client of the API under test, with a helper per route.
//!
//! # Isolation
//! Every test makes its own users (unique e-mails) and posts, so tests run in parallel on one
//! table. Timing-sensitive tests take [`api_alone`], which waits until no other test of this
//! process is talking to the server and keeps the others waiting while it measures.
//!
//! The gateway's stderr and stdout go to `gateway.log` in the run's temp folder
//! (`$TMPDIR/api-tests-<pid>-<random>/`, pruned after a day); its path is printed once, and
//! the tail of it is shown when the gateway fails to start.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::data::{unique, unique_email};
use crate::response::Resp;
use crate::target::base_url;

// Shared by ordinary tests, exclusive for timing tests (see `api_alone`). tokio's lock is not
// tied to a runtime, so the per-test runtimes of `#[tokio::test]` can all use it.
static TEST_LOCK: RwLock<()> = RwLock::const_new(());

pub(crate) enum Guard {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
    /// A gateway of the test's own: no other test talks to it.
    Own,
}

/// A request body.
pub enum Body {
    /// No body.
    None,
    /// A JSON body (`Content-Type: application/json`).
    Json(Value),
    /// An HTML form (`application/x-www-form-urlencoded`).
    Form(Vec<(String, String)>),
    /// Any bytes with the given Content-Type.
    Raw(String, &'static str),
}

/// A user made by [`Api::new_user`].
#[derive(Debug, Clone)]
pub struct User {
    /// Server-assigned id.
    pub id: u64,
    /// The e-mail, as the server stored it.
    pub email: String,
    /// The password it was made with.
    pub password: String,
    /// An access token from `POST /login`.
    pub token: String,
    /// The sign-up answer (`{"id", "email", "created_at"}`).
    pub json: Value,
}

/// A client of the API under test. One per test: reqwest's connection pool belongs to the
/// runtime that made it, and every `#[tokio::test]` has a runtime of its own.
pub struct Api {
    /// The HTTP client (no redirects followed: the contract has none).
    pub client: reqwest::Client,
    base: &'static str,
    _guard: Guard,
}

/// A client for an ordinary test (runs in parallel with the others).
pub async fn api() -> Api {
    let base = base_url();
    Api::with_guard(base, Guard::Shared(TEST_LOCK.read().await))
}

/// A client for a timing test: waits until no other test is running and keeps them out until
/// it is dropped, so other tests' load does not skew the measurements.
pub async fn api_alone() -> Api {
    let base = base_url();
    Api::with_guard(base, Guard::Exclusive(TEST_LOCK.write().await))
}

/// A plain HTTP client (no redirects, 60 s timeout, no proxy).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .expect("build the HTTP client")
}

impl Api {
    pub(crate) fn with_guard(base: &'static str, guard: Guard) -> Api {
        Api {
            client: http_client(),
            base,
            _guard: guard,
        }
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request builder for `method path`, for tests that need unusual headers.
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        self.client.request(method, self.url(path))
    }

    /// Sends a prepared request and reads the whole answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let request = request.build().expect("a valid request");
        let description = format!("{} {}", request.method(), request.url());
        let response = self
            .client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{description}: request failed: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{description}: reading the body failed: {e}"));
        Resp {
            status,
            headers,
            text,
            request: description,
        }
    }

    /// `method path` with an optional bearer token and a body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Body) -> Resp {
        let mut request = self.request(method, path);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Form(fields) => request.form(&fields),
            Body::Raw(text, content_type) => {
                request.header("Content-Type", content_type).body(text)
            }
        };
        self.send(request).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call("GET", path, token, Body::None).await
    }

    /// `method path` with a JSON body.
    pub async fn json(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(method, path, token, Body::Json(body)).await
    }

    /// `POST /users`.
    pub async fn signup(&self, email: &str, password: &str) -> Resp {
        self.json(
            "POST",
            "/users",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// `POST /login` with the OAuth2 password-flow form.
    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.login_form(&[("username", email), ("password", password)])
            .await
    }

    /// `POST /login` with any form fields.
    pub async fn login_form(&self, fields: &[(&str, &str)]) -> Resp {
        let fields = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.call("POST", "/login", None, Body::Form(fields)).await
    }

    /// Signs up a fresh user and logs in.
    pub async fn new_user(&self) -> User {
        let email = unique_email();
        let password = format!("pw-{}", unique("p"));
        let json = self.signup(&email, &password).await.expect(201);
        let id = json["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("sign-up id is not a positive integer: {json}"));
        let login = self.login(&email, &password).await.expect(200);
        let token = login["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("login answer without access_token: {login}"))
            .to_owned();
        User {
            id,
            email: json["email"].as_str().unwrap_or(&email).to_owned(),
            password,
            token,
            json,
        }
    }

    /// `POST /posts`.
    pub async fn create_post(&self, token: &str, body: Value) -> Resp {
        self.json("POST", "/posts", Some(token), body).await
    }

    /// Creates a post with this title (and some content) and returns the 201 body.
    pub async fn new_post(&self, user: &User, title: &str) -> Value {
        self.create_post(
            &user.token,
            json!({"title": title, "content": format!("content of {title}")}),
        )
        .await
        .expect(201)
    }

    /// `GET /posts/{id}`.
    pub async fn get_post(&self, token: &str, id: u64) -> Resp {
        self.get(&format!("/posts/{id}"), Some(token)).await
    }

    /// `GET /posts` with query parameters.
    pub async fn list_posts(&self, token: &str, query: &[(&str, &str)]) -> Resp {
        let request = self
            .request("GET", "/posts")
            .query(query)
            .header("Authorization", format!("Bearer {token}"));
        self.send(request).await
    }

    /// The posts whose title contains `search` (limit 100), as the list's JSON array.
    pub async fn search(&self, token: &str, search: &str) -> Vec<Value> {
        let body = self
            .list_posts(token, &[("search", search), ("limit", "100")])
            .await
            .expect(200);
        body.as_array()
            .cloned()
            .unwrap_or_else(|| panic!("GET /posts did not answer a list: {body}"))
    }

    /// `PUT /posts/{id}`.
    pub async fn update_post(&self, token: &str, id: u64, body: Value) -> Resp {
        self.json("PUT", &format!("/posts/{id}"), Some(token), body)
            .await
    }

    /// `PATCH /posts/{id}`.
    pub async fn patch_post(&self, token: &str, id: u64, body: Value) -> Resp {
        self.json("PATCH", &format!("/posts/{id}"), Some(token), body)
            .await
    }

    /// `DELETE /posts/{id}`.
    pub async fn delete_post(&self, token: &str, id: u64) -> Resp {
        self.call("DELETE", &format!("/posts/{id}"), Some(token), Body::None)
            .await
    }

    /// `POST /vote`.
    pub async fn vote(&self, token: &str, post_id: u64, dir: i64) -> Resp {
        self.json(
            "POST",
            "/vote",
            Some(token),
            json!({"post_id": post_id, "dir": dir}),
        )
        .await
    }

    /// The `votes` count of a post, read through `GET /posts/{id}`.
    pub async fn votes_of(&self, token: &str, post_id: u64) -> i64 {
        let body = self.get_post(token, post_id).await.expect(200);
        body["votes"]
            .as_i64()
            .unwrap_or_else(|| panic!("GET /posts/{post_id}: votes is not an integer: {body}"))
    }
}
