//! The Runtime API of one instance: the HTTP endpoints its process polls for work and posts
//! outcomes to, translated into pool events and the pool's answers into HTTP.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::machine::{InstanceId, PostAnswer};
use super::pool::{Dispatch, Pool};
use super::{FunctionError, InvokeOutcome};
use crate::util::{epoch_ms, random_hex};

/// Lambda's limit on a synchronous response payload.
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"errorType": error_type, "errorMessage": message})),
    )
        .into_response()
}

fn gone() -> Response {
    runtime_error(
        StatusCode::GONE,
        "InstanceGone",
        "this instance was stopped",
    )
}

/// The HTTP answer to a posted response, error or init error.
fn posted(answer: PostAnswer) -> Response {
    match answer {
        PostAnswer::Accepted => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({"status": "OK"})),
        )
            .into_response(),
        PostAnswer::Gone => gone(),
        PostAnswer::InvalidRequestId => runtime_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        ),
        PostAnswer::InitOver => runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "init is over",
        ),
    }
}

/// The answer to `next`: the event, with the invocation's headers.
fn next_response(arn: &str, d: Dispatch) -> Response {
    let mut headers = HeaderMap::new();
    let mut put = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    put("lambda-runtime-aws-request-id", d.request_id);
    put("lambda-runtime-deadline-ms", d.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", arn.to_string());
    // The caller's trace root when there is one (API Gateway hands its X-Amzn-Trace-Id on to
    // Lambda), so the function's xrayTraceId matches the request's header.
    let root = d
        .trace
        .as_deref()
        .and_then(|t| t.split(';').find(|p| p.starts_with("Root=")))
        .map(str::to_string)
        .unwrap_or_else(|| format!("Root=1-{:08x}-{}", epoch_ms() / 1000, random_hex(12)));
    put(
        "lambda-runtime-trace-id",
        format!("{root};Parent={};Sampled=0", random_hex(8)),
    );
    put("content-type", "application/json".into());
    (StatusCode::OK, headers, d.payload).into_response()
}

/// Reads an error body posted by a runtime; accepts any body, as Lambda does.
fn parse_function_error(headers: &HeaderMap, body: &[u8]) -> FunctionError {
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_string();
    match serde_json::from_slice::<FunctionError>(body) {
        Ok(mut e) => {
            if e.error_type.is_empty() {
                e.error_type = header_type;
            }
            e
        }
        Err(_) => FunctionError {
            error_type: header_type,
            error_message: String::from_utf8_lossy(body).into_owned(),
        },
    }
}

type InstanceState = (Arc<Pool>, InstanceId);

/// The Runtime API of one instance.
pub(super) fn runtime_api(pool: Arc<Pool>, id: u64) -> Router {
    async fn next(State((pool, id)): State<InstanceState>) -> Response {
        match pool.next(id).await {
            Some(d) => next_response(&pool.arn, d),
            None => gone(),
        }
    }
    async fn response(
        State((pool, id)): State<InstanceState>,
        Path(request_id): Path<String>,
        body: Body,
    ) -> Response {
        match axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await {
            Ok(bytes) => {
                posted(pool.complete(id, &request_id, InvokeOutcome::Response(bytes.to_vec())))
            }
            Err(_) => {
                let outcome = InvokeOutcome::Error(FunctionError {
                    error_type: "Function.ResponseSizeTooLarge".into(),
                    error_message: format!(
                        "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                    ),
                });
                let _ = pool.complete(id, &request_id, outcome);
                runtime_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    "response too large",
                )
            }
        }
    }
    async fn error(
        State((pool, id)): State<InstanceState>,
        Path(request_id): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        posted(pool.complete(
            id,
            &request_id,
            InvokeOutcome::Error(parse_function_error(&headers, &body)),
        ))
    }
    async fn init_error(
        State((pool, id)): State<InstanceState>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        posted(pool.init_error(id, parse_function_error(&headers, &body)))
    }
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state((pool, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_is_read_with_the_header_as_fallback_type() {
        let mut h = HeaderMap::new();
        h.insert(
            "lambda-runtime-function-error-type",
            HeaderValue::from_static("Runtime.InitError"),
        );
        let e = parse_function_error(&h, br#"{"errorType":"MyError","errorMessage":"boom"}"#);
        assert_eq!(
            e,
            FunctionError {
                error_type: "MyError".into(),
                error_message: "boom".into()
            }
        );
        let e = parse_function_error(&h, br#"{"errorMessage":"Unauthorized"}"#);
        assert_eq!(e.error_type, "Runtime.InitError");
        assert_eq!(e.error_message, "Unauthorized");
        let e = parse_function_error(&HeaderMap::new(), b"not json");
        assert_eq!(
            e,
            FunctionError {
                error_type: "Unhandled".into(),
                error_message: "not json".into()
            }
        );
    }
}
