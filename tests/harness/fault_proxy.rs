//! A DynamoDB that misbehaves on demand: an HTTP proxy in front of DynamoDB Local that can stop
//! answering, as a hung DynamoDB (or a dead network path) does. DynamoDB Local never hangs by
//! itself, so the timeout and 503 paths of the functions are tested through this.
//!
//! Every request is a `POST /` whose `X-Amz-Target` names the operation
//! (`DynamoDB_20120810.GetItem`) and whose JSON body names the keys, so a fault can be aimed:
//! [`Fault::HangWhere`] hangs only the requests a predicate picks (e.g. everything but the
//! authorizer's read of the caller), and [`Fault::LoseAnswers`] lets DynamoDB do the work and
//! then never answers: the "unknown outcome" a client sees when a connection dies after a
//! commit.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode};

/// Picks requests by operation (`GetItem`) and JSON body.
pub type Pick = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// What the proxy does with a request.
#[derive(Clone, Default)]
pub enum Fault {
    /// Pass everything through.
    #[default]
    None,
    /// Never answer the requests for which the predicate (operation, body) is true; pass the
    /// others.
    HangWhere(Pick),
    /// Forward every request, then never answer it.
    LoseAnswers,
    /// Answer the requests the predicate picks with this DynamoDB error (HTTP 400 and
    /// `{"__type": ..., "message": ...}`, DynamoDB's error shape) without forwarding them;
    /// pass the others.
    ErrorWhere(Pick, DynamoDbError),
}

/// An error DynamoDB answers with.
#[derive(Clone)]
pub struct DynamoDbError {
    /// The exception's name, e.g. `ThrottlingException`.
    pub kind: &'static str,
    /// Extra members of the error body (e.g. `CancellationReasons`).
    pub extra: serde_json::Value,
}

impl DynamoDbError {
    /// Throttled (the SDK retries it, then gives up).
    pub fn throttled() -> Self {
        Self {
            kind: "ProvisionedThroughputExceededException",
            extra: serde_json::json!({}),
        }
    }

    /// A transaction cancelled by a conflicting one (real DynamoDB under contention; the SDK
    /// does not retry it), with one reason per action.
    pub fn transaction_conflict(actions: usize) -> Self {
        let reasons: Vec<serde_json::Value> = (0..actions)
            .map(|_| serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}))
            .collect();
        Self {
            kind: "TransactionCanceledException",
            extra: serde_json::json!({"CancellationReasons": reasons}),
        }
    }
}

/// The proxy: its URL and a switch for its fault.
pub struct FaultProxy {
    url: String,
    fault: Arc<Mutex<Fault>>,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    fault: Arc<Mutex<Fault>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (e.g. `http://127.0.0.1:8000`) on a free port, passing
    /// everything until told otherwise.
    pub async fn start(upstream: &str) -> FaultProxy {
        let fault = Arc::new(Mutex::new(Fault::None));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("proxy client"),
            fault: fault.clone(),
        });
        let app = axum::Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fault proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy { url, fault }
    }

    /// The URL to use as the DynamoDB endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Switches the fault (requests already hanging stay hung).
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().expect("fault lock") = fault;
    }
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let fault = shared.fault.lock().expect("fault lock").clone();
    if let Fault::HangWhere(pick) = &fault
        && pick(&operation, &String::from_utf8_lossy(&body))
    {
        std::future::pending::<()>().await;
    }
    if let Fault::ErrorWhere(pick, error) = &fault
        && pick(&operation, &String::from_utf8_lossy(&body))
    {
        let mut answer = error.extra.clone();
        answer["__type"] = format!("com.amazonaws.dynamodb.v20120810#{}", error.kind).into();
        answer["message"] = "injected by the fault proxy".into();
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header("content-type", "application/x-amz-json-1.0")
            .body(Body::from(answer.to_string()))
            .expect("an error answer");
    }
    let mut request = shared
        .client
        .request(method, format!("{}{}", shared.upstream, uri))
        .body(body);
    for (name, value) in &headers {
        // reqwest sets Host and Content-Length for the upstream itself.
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = request.send().await;
    if matches!(fault, Fault::LoseAnswers) {
        std::future::pending::<()>().await;
    }
    let Ok(answer) = answer else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .expect("a 502");
    };
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).expect("a response")
}
