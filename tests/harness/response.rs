//! Reading answers: status, headers and body of one, and a few readers of their JSON.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// A whole answer: status, headers and body text, plus the request it answers (for messages).
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
    /// `METHOD url`, for failure messages.
    pub request: String,
}

impl Resp {
    /// The body as JSON; panics (showing the body) if it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}); status {}, body {:?}",
                self.request, self.status, self.text
            )
        })
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and returns the JSON body (`Value::Null` for an empty body).
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{}: expected status {status}, got {} with body {}",
            self.request, self.status, self.text
        );
        if self.text.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts the status and that the body is exactly `{"detail": detail}`.
    #[track_caller]
    pub fn expect_detail(&self, status: u16, detail: &str) {
        let body = self.expect(status);
        assert_eq!(
            body,
            json!({ "detail": detail }),
            "{}: wrong body for {status}",
            self.request
        );
    }

    /// Asserts a 422 in FastAPI's shape with an error whose `loc` is exactly `loc`.
    #[track_caller]
    pub fn expect_422(&self, loc: &[&str]) {
        let errors = self.expect_validation_error();
        let wanted: Vec<Value> = loc.iter().map(|s| json!(s)).collect();
        assert!(
            errors.iter().any(|e| e["loc"].as_array() == Some(&wanted)),
            "{}: expected a validation error at {loc:?}, got {}",
            self.request,
            self.text
        );
    }

    /// Asserts a 422 in FastAPI's shape (`detail` is a non-empty list of `{loc, msg, type}`
    /// whose `loc` starts with `body`, `query` or `path`) and returns the errors.
    #[track_caller]
    pub fn expect_validation_error(&self) -> Vec<Value> {
        let body = self.expect(422);
        let errors = body["detail"].as_array().cloned().unwrap_or_else(|| {
            panic!(
                "{}: 422 detail must be a list, got {}",
                self.request, self.text
            )
        });
        assert!(
            !errors.is_empty(),
            "{}: 422 with an empty error list",
            self.request
        );
        for error in &errors {
            let loc = error["loc"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: error without a loc list: {error}", self.request));
            assert!(
                matches!(
                    loc.first().and_then(Value::as_str),
                    Some("body" | "query" | "path")
                ),
                "{}: loc must start with body, query or path: {error}",
                self.request
            );
            assert!(
                error["msg"].is_string() && error["type"].is_string(),
                "{}: error needs a string msg and type: {error}",
                self.request
            );
        }
        errors
    }

    /// Asserts 401 with the `Bearer` challenge and the given detail.
    ///
    /// The challenge is `WWW-Authenticate: Bearer` when API Gateway answers (its gateway
    /// responses), and `x-amzn-Remapped-WWW-Authenticate: Bearer` when a function does: API
    /// Gateway REST renames that header in every Lambda proxy result (docs/api.md,
    /// "Authentication"), on AWS and in the local gateway alike.
    #[track_caller]
    pub fn expect_401(&self, detail: &str) {
        self.expect_detail(401, detail);
        let challenge = self
            .header("www-authenticate")
            .or_else(|| self.header("x-amzn-remapped-www-authenticate"));
        assert_eq!(
            challenge,
            Some("Bearer"),
            "{}: a 401 needs `WWW-Authenticate: Bearer` (or, from a function, its remapped form)",
            self.request
        );
    }
}

/// The `id` of a post or user JSON, as a positive integer.
#[track_caller]
pub fn id_of(value: &Value) -> u64 {
    value["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer id in {value}"))
}

/// The sorted key names of a JSON object.
#[track_caller]
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// The median of some durations.
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let n = samples.len();
    if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    }
}
