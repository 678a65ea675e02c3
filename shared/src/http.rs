//! The HTTP edge: reading requests, building answers, and the Lambda entry point.

use crate::config::{ConfigError, HttpConfig};
use crate::domain::{Email, User, UserId};
use crate::error::ApiError;
use crate::ids::MAX_ID;
use lambda_http::service_fn;
use lambda_http::tracing::Instrument as _;
use serde::Serialize;
use std::future::Future;

pub use lambda_http::request::{self, RequestContext};
pub use lambda_http::{
    Body, Error as LambdaError, Request, RequestExt, Response, http::HeaderValue, http::StatusCode,
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
    let service = service_fn(move |req: Request| {
        let origin = origin.clone();
        // Every log line of the request carries API Gateway's request id (the client's
        // `x-amzn-RequestId`) beside the runtime's span with Lambda's own request id: the
        // two differ on AWS, and this is what joins a client's report to the function's logs.
        let span = lambda_http::tracing::info_span!(
            "request",
            apiRequestId = api_request_id(&req).unwrap_or_default()
        );
        async move {
            let mut response = handler(state, req)
                .await
                .unwrap_or_else(ApiError::into_response);
            response
                .headers_mut()
                .insert("access-control-allow-origin", origin);
            Ok::<_, lambda_http::Error>(response)
        }
        .instrument(span)
    });
    // What `lambda_http::run` does, with every value of a repeated header kept (see
    // `keep_repeated_headers`).
    use lambda_http::tower::ServiceExt as _;
    let adapter = lambda_http::Adapter::from(service).map_request(keep_repeated_headers);
    lambda_http::lambda_runtime::run(adapter).await
}

/// API Gateway's request id (`requestContext.requestId`), as the client sees it in
/// `x-amzn-RequestId`.
fn api_request_id(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// lambda_http builds the request's headers from `multiValueHeaders` and then lays `headers`
/// over them; for a repeated header API Gateway's `headers` holds only the last value, so that
/// merge would leave one of them and hide the repetition (e.g. two `Authorization` headers,
/// which [`caller`] refuses). Dropping such headers from `headers` first keeps them all.
fn keep_repeated_headers(
    mut event: lambda_http::LambdaEvent<request::LambdaRequest>,
) -> lambda_http::LambdaEvent<request::LambdaRequest> {
    if let request::LambdaRequest::ApiGatewayV1(event) = &mut event.payload {
        let repeated: Vec<_> = event
            .multi_value_headers
            .keys()
            .filter(|name| event.multi_value_headers.get_all(*name).iter().count() > 1)
            .cloned()
            .collect();
        for name in repeated {
            event.headers.remove(name);
        }
    }
    event
}

/// Sets up logging the Lambda way: JSON when the function's `LoggingConfig` asks for it
/// (`AWS_LAMBDA_LOG_FORMAT`), the level from `AWS_LAMBDA_LOG_LEVEL` (`FATAL` is `ERROR`),
/// and per-crate levels from `RUST_LOG` (`info,aws_smithy_runtime=debug`).
///
/// What `lambda_runtime::tracing::init_default_subscriber` does, with a `Targets` filter in
/// place of its `EnvFilter`: `RUST_LOG` keeps its `target=level` directives, and the binaries
/// lose the regex engine that only `EnvFilter`'s span and field filters need (0.25 MB).
pub fn init_tracing() {
    use std::str::FromStr;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let var = |name| {
        std::env::var(name)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    let level = var("AWS_LAMBDA_LOG_LEVEL")
        .map(|v| match v.trim().to_ascii_uppercase().as_str() {
            "FATAL" => LevelFilter::ERROR,
            other => LevelFilter::from_str(other).unwrap_or(LevelFilter::INFO),
        })
        .unwrap_or(LevelFilter::INFO);
    let filter = match var("RUST_LOG").map(|v| Targets::from_str(&v)) {
        // Directives naming no target (`debug`) set the default level themselves.
        Some(Ok(targets)) if targets.default_level().is_some() => targets,
        Some(Ok(targets)) => targets.with_default(level),
        _ => Targets::new().with_default(level),
    };
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(std::io::stdout);
    let registry = tracing_subscriber::registry().with(filter);
    // Logging is set up once, before anything else; a second call finds it done.
    let _ = if json {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
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

/// The body of a JSON route, refused (422, as FastAPI) when its `Content-Type` says it is not
/// JSON: `application/json` or any `application/*+json`, parameters allowed, case-insensitive.
/// Without a `Content-Type` the body is read as JSON, as FastAPI does.
///
/// Why it matters: a `text/plain` body is a CORS "simple request" that any web page can send
/// cross-site without a preflight; reading it as JSON would let a page sign up accounts (or,
/// with a token in hand, write) from a visitor's browser.
pub fn json_body(req: &Request) -> Result<&[u8], ApiError> {
    let body = body(req);
    let Some(value) = req.headers().get("content-type") else {
        return Ok(body);
    };
    if is_json_media_type(value.to_str().unwrap_or_default()) {
        Ok(body)
    } else {
        Err(ApiError::Validation(vec![crate::error::FieldError::body(
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )]))
    }
}

/// `application/json`, `application/problem+json`, `Application/JSON; charset=utf-8`: yes;
/// `text/plain`, `application/x-www-form-urlencoded`, `application/jsonx`: no.
fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application") && (subtype == "json" || subtype.ends_with("+json"))
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

/// A query parameter's value; when the key is repeated (`?limit=1&limit=5`) the last one
/// wins, as in FastAPI (API Gateway's `queryStringParameters` also keeps the last).
fn last_value<'a>(
    query: &'a lambda_http::aws_lambda_events::query_map::QueryMap,
    name: &str,
) -> Option<&'a str> {
    query.all(name).and_then(|values| values.last().copied())
}

/// The client's address as API Gateway saw it (`requestContext.identity.sourceIp`); never a
/// header such as `X-Forwarded-For`, which the client writes itself.
pub fn source_ip(req: &Request) -> Option<&str> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
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
        .and_then(|q| last_value(q, name))
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
        .and_then(|q| last_value(q, name))
        .map(str::to_string)
}

/// The authenticated caller, as the authorizer put it in the request context (`user_id`,
/// `email`, `created_at`). Behind API Gateway a protected route never runs without it; if it
/// is missing anyway (a route wired without the authorizer), we fail closed with a 401.
///
/// The token's expiry comes too (`exp`, Unix seconds), and is checked here: API Gateway caches
/// the authorizer's Allow for up to the template's `AuthorizerCacheSeconds`, so without this a
/// token would keep working for up to that long after its `exp`. It is refused from the same
/// instant the authorizer would refuse it ([`LEEWAY_SECS`](crate::auth::LEEWAY_SECS) after
/// `exp`), with the authorizer's answer (401 `Could not validate credentials`). A context
/// without `exp` fails closed.
///
/// Two `Authorization` headers are a 401 here too, although the authorizer already refuses
/// them: defence in depth, should a route ever be wired to another authorizer (and, with the
/// cache, a request may reach us on the cached Allow of one of its two tokens).
pub fn caller(req: &Request) -> Result<User, ApiError> {
    caller_at(req, crate::auth::unix_now())
}

/// [`caller`] at `now` (Unix seconds).
pub fn caller_at(req: &Request, now: u64) -> Result<User, ApiError> {
    if crate::auth::single_authorization(req.headers()).is_err() {
        return Err(crate::answers::invalid_token());
    }
    let unauthenticated = crate::answers::not_authenticated;
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
    let exp = text("exp")
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(unauthenticated)?;
    if now > exp.saturating_add(crate::auth::LEEWAY_SECS) {
        return Err(crate::answers::invalid_token());
    }
    let id = text("user_id")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(unauthenticated)?;
    Ok(User {
        id: UserId::new(id),
        email: Email::from_trusted(text("email").ok_or_else(unauthenticated)?),
        created_at: text("created_at").ok_or_else(unauthenticated)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_media_types_are_json() {
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
            " application/json ",
        ] {
            assert!(is_json_media_type(yes), "{yes}");
        }
        for no in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "json",
            "",
        ] {
            assert!(!is_json_media_type(no), "{no}");
        }
    }

    /// A protected route's event as API Gateway sends it, with these `Authorization` values.
    fn protected_event(authorization: &[&str]) -> lambda_http::LambdaEvent<request::LambdaRequest> {
        let event = serde_json::json!({
            "resource": "/posts", "path": "/posts", "httpMethod": "GET",
            "headers": {"Authorization": authorization.last(), "Host": "x"},
            "multiValueHeaders": {"Authorization": authorization, "Host": ["x"]},
            "requestContext": {
                "resourcePath": "/posts", "httpMethod": "GET", "stage": "Prod",
                "authorizer": {"principalId": "7", "user_id": "7", "email": "a@b.co",
                               "created_at": "2026-11-21T04:20:05.645347+00:00",
                               "exp": EXP.to_string()}
            },
            "body": null, "isBase64Encoded": false
        });
        let payload: request::LambdaRequest = serde_json::from_value(event).unwrap();
        lambda_http::LambdaEvent::new(payload, Default::default())
    }

    /// The token expiry in [`protected_event`]'s context.
    const EXP: u64 = 2_000_000_000;

    #[test]
    fn the_caller_is_read_from_the_authorizer_context() {
        let event = keep_repeated_headers(protected_event(&["Bearer a"]));
        let req = Request::from(event.payload);
        assert_eq!(caller_at(&req, EXP).unwrap().id, UserId::new(7));
    }

    #[test]
    fn a_cached_allow_stops_working_when_its_token_expires() {
        let req = Request::from(keep_repeated_headers(protected_event(&["Bearer a"])).payload);
        let last_good = EXP + crate::auth::LEEWAY_SECS;
        assert!(caller_at(&req, last_good).is_ok());
        let err = caller_at(&req, last_good + 1).unwrap_err();
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            err.to_string(),
            "unauthorized: Could not validate credentials"
        );
    }

    #[test]
    fn a_context_without_exp_fails_closed() {
        let mut event = protected_event(&["Bearer a"]);
        if let request::LambdaRequest::ApiGatewayV1(e) = &mut event.payload {
            e.request_context.authorizer.fields.remove("exp");
        }
        let req = Request::from(event.payload);
        assert_eq!(
            caller_at(&req, 0).unwrap_err().status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn two_authorization_headers_are_a_401_even_behind_the_authorizer() {
        for pair in [["Bearer good", "Bearer bad"], ["Bearer bad", "Bearer good"]] {
            let event = keep_repeated_headers(protected_event(&pair));
            let req = Request::from(event.payload);
            assert_eq!(req.headers().get_all("authorization").iter().count(), 2);
            let err = caller_at(&req, EXP).unwrap_err();
            assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
        }
        // Without the fix, lambda_http keeps only the last value and the repetition is lost.
        let req = Request::from(protected_event(&["Bearer good", "Bearer bad"]).payload);
        assert_eq!(req.headers().get_all("authorization").iter().count(), 1);
    }

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
