//! Lambda's Invoke API (`sam local start-lambda`): call any function directly, e.g. with
//! `aws lambda invoke --endpoint-url http://127.0.0.1:<port> --function-name CreateUserFunction`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::runtime::{InvokeError, InvokeOutcome, LambdaRuntime};

/// The router of the Invoke API: `POST /2015-03-31/functions/{FunctionName}/invocations`,
/// where the name is a logical id (`CreateUserFunction`), a binary name or an ARN.
pub fn router(runtime: Arc<LambdaRuntime>) -> Router {
    Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        // Above Lambda's 6 MB, so that a larger payload gets Lambda's own error, not axum's.
        .layer(axum::extract::DefaultBodyLimit::max(
            2 * crate::runtime::MAX_REQUEST_PAYLOAD,
        ))
        .with_state(runtime)
}

fn aws_error(status: StatusCode, kind: &'static str, message: String) -> Response {
    let mut resp = (
        status,
        axum::Json(json!({"Type": "User", "message": message})),
    )
        .into_response();
    resp.headers_mut().insert(
        "x-amzn-errortype",
        axum::http::HeaderValue::from_static(kind),
    );
    resp
}

async fn invoke(
    State(runtime): State<Arc<LambdaRuntime>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = std::time::Instant::now();
    let Some(name) = runtime.resolve_name(&function).map(str::to_string) else {
        tracing::info!("INVOKE {function} 404 0ms");
        return aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {function}"),
        );
    };
    // Lambda treats an empty payload as `{}`; anything else must be JSON.
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".to_vec()
    } else {
        body.to_vec()
    };
    if serde_json::from_slice::<serde_json::Value>(&payload).is_err() {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json".into(),
        );
    }
    let invocation_type = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    match invocation_type {
        "DryRun" => return StatusCode::NO_CONTENT.into_response(),
        "Event" => {
            let rt = runtime.clone();
            tokio::spawn(async move {
                let _ = rt.invoke_bytes(&name, payload).await;
            });
            return StatusCode::ACCEPTED.into_response();
        }
        _ => {}
    }
    let outcome = runtime.invoke_bytes(&name, payload).await;
    let resp = match outcome {
        Ok(InvokeOutcome::Response(payload)) => (
            [
                ("content-type", "application/json"),
                ("x-amz-executed-version", "$LATEST"),
            ],
            payload,
        )
            .into_response(),
        // Real Lambda answers a function error with 200 and this header.
        Ok(InvokeOutcome::Error(e)) => (
            [
                ("x-amz-function-error", "Unhandled"),
                ("x-amz-executed-version", "$LATEST"),
            ],
            axum::Json(e),
        )
            .into_response(),
        Err(InvokeError::UnknownFunction(f)) => aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {f}"),
        ),
        Err(InvokeError::PayloadTooLarge { limit, .. }) => aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        ),
        Err(e @ InvokeError::ShuttingDown) => aws_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            e.to_string(),
        ),
    };
    tracing::info!(
        "INVOKE {name} {} {}ms",
        resp.status().as_u16(),
        started.elapsed().as_millis()
    );
    resp
}
