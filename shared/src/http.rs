//! The HTTP edge: reading requests, building answers, and the Lambda entry point.

use crate::config::{ConfigError, HttpConfig};
use crate::error::ApiError;
use crate::ids::MAX_ID;
use crate::store::User;
use lambda_http::service_fn;
use serde::Serialize;
use std::future::Future;

pub use lambda_http::request::{self, RequestContext};
pub use lambda_http::{
    Body, Error as LambdaError, Request, RequestExt, Response, http::StatusCode,
};

/// Runs an HTTP function: `state` is built once per container by `main`, and `handler` is
/// called for every request. Errors become answers through [`ApiError::into_response`] and
/// every answer gets the CORS origin header, so handlers only write the happy path.
pub async fn serve<S, F, Fut>(state: S, handler: F) -> Result<(), lambda_http::Error>
where
    S: Send + Sync + 'static,
    F: Fn(&'static S, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    let http = HttpConfig::from_env()?;
    // The state lives as long as the container; leaking it gives handlers a plain `&'static`.
    let state: &'static S = Box::leak(Box::new(state));
    let origin =
        lambda_http::http::HeaderValue::from_str(&http.cors_allow_origin).map_err(|_| {
            ConfigError::Invalid {
                name: "CORS_ALLOW_ORIGIN",
                reason: "not a valid header value".into(),
            }
        })?;
    let handler = &*Box::leak(Box::new(handler));
    lambda_http::run(service_fn(move |req: Request| {
        let origin = origin.clone();
        async move {
            let mut response = handler(state, req)
                .await
                .unwrap_or_else(ApiError::into_response);
            response
                .headers_mut()
                .insert("access-control-allow-origin", origin);
            Ok::<_, lambda_http::Error>(response)
        }
    }))
    .await
}

/// Sets up logging the Lambda way: JSON when the function's `LoggingConfig` asks for it, the
/// level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`.
pub fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}

/// A JSON answer with `status`.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_string(value).map_err(ApiError::internal)?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .map_err(ApiError::internal)
}

/// 204 with an empty body.
pub fn no_content() -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .map_err(ApiError::internal)
}

/// The raw request body (`lambda_http` has already decoded base64).
pub fn body(req: &Request) -> &[u8] {
    req.body().as_ref()
}

/// A positive integer id from the path (`/posts/{id}`); anything else is a 422 at
/// `["path", name]`.
pub fn path_id(req: &Request, name: &str) -> Result<u64, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .unwrap_or_default()
        .to_string();
    parse_id(&raw).map_err(|(kind, msg)| ApiError::field("path", name, kind, msg))
}

fn parse_id(raw: &str) -> Result<u64, (&'static str, &'static str)> {
    let n: i128 = raw.parse().map_err(|_| {
        (
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        )
    })?;
    if n < 1 {
        return Err(("greater_than", "Input should be greater than 0"));
    }
    if n > i128::from(MAX_ID) {
        return Err((
            "less_than_equal",
            "Input should be less than or equal to 9007199254740991",
        ));
    }
    Ok(n as u64)
}

/// An optional integer query parameter within `min..=max`, else a 422 at `["query", name]`.
pub fn query_int(
    req: &Request,
    name: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ApiError> {
    let Some(raw) = req
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
    else {
        return Ok(default);
    };
    let n: i64 = raw.trim().parse().map_err(|_| {
        ApiError::field(
            "query",
            name,
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        )
    })?;
    if n < min {
        return Err(ApiError::field(
            "query",
            name,
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(ApiError::field(
            "query",
            name,
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        ));
    }
    Ok(n)
}

/// An optional string query parameter.
pub fn query_str(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_string)
}

/// The authenticated caller, as the authorizer put it in the request context (`user_id`,
/// `email`, `created_at`). Behind API Gateway a protected route never runs without it; if it
/// is missing anyway (a route wired without the authorizer), we fail closed with a 401.
pub fn caller(req: &Request) -> Result<User, ApiError> {
    let unauthenticated = || ApiError::Unauthorized("Not authenticated".into());
    let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() else {
        return Err(unauthenticated());
    };
    let fields = &ctx.authorizer.fields;
    let text = |key: &str| -> Option<String> {
        match fields.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let id = text("user_id")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(unauthenticated)?;
    Ok(User {
        id,
        email: text("email").ok_or_else(unauthenticated)?,
        created_at: text("created_at").ok_or_else(unauthenticated)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_must_be_positive_integers_below_2_pow_53() {
        assert_eq!(parse_id("42"), Ok(42));
        assert!(parse_id("abc").is_err());
        assert!(parse_id("0").is_err());
        assert!(parse_id("-1").is_err());
        assert!(parse_id("1.5").is_err());
        assert!(parse_id("9007199254740992").is_err());
        assert!(parse_id("99999999999999999999999999").is_err());
    }
}
