//! Answers the gateway makes itself: gateway responses, CORS preflight, and the translation of
//! a Lambda proxy result into an HTTP response.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};
use base64::Engine;
use serde_json::Value;

use crate::template::{ApiConfig, CorsConfig, GatewayResponseConfig};

/// A gateway response type (`UNAUTHORIZED`, ...) with the message API Gateway would put in
/// its default body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    /// The response type, as in the template's `GatewayResponses`.
    pub kind: &'static str,
    /// The status API Gateway uses when the template does not set one.
    pub default_status: u16,
    /// `$context.error.message`; `None` renders as JSON `null`, as API Gateway does for
    /// authorizer errors.
    pub message: Option<String>,
}

impl GatewayError {
    fn new(kind: &'static str, default_status: u16, message: Option<&str>) -> Self {
        GatewayError {
            kind,
            default_status,
            message: message.map(str::to_string),
        }
    }
    /// No or empty identity header: the authorizer is not called.
    pub fn unauthorized() -> Self {
        Self::new("UNAUTHORIZED", 401, Some("Unauthorized"))
    }
    /// The policy does not allow the method.
    pub fn access_denied() -> Self {
        Self::new(
            "ACCESS_DENIED",
            403,
            Some("User is not authorized to access this resource"),
        )
    }
    /// Unknown path, or a method the path does not have (API Gateway answers both alike).
    pub fn missing_authentication_token() -> Self {
        Self::new(
            "MISSING_AUTHENTICATION_TOKEN",
            403,
            Some("Missing Authentication Token"),
        )
    }
    /// The authorizer failed (other than `Unauthorized`) or answered nonsense.
    pub fn authorizer_configuration_error() -> Self {
        Self::new("AUTHORIZER_CONFIGURATION_ERROR", 500, None)
    }
    /// The authorizer could not be called at all.
    pub fn authorizer_failure() -> Self {
        Self::new("AUTHORIZER_FAILURE", 500, None)
    }
    /// The function failed, crashed, timed out or answered with a malformed proxy result:
    /// API Gateway's famous 502 "Internal server error", a `DEFAULT_5XX` response.
    pub fn bad_lambda_response() -> Self {
        Self::new("DEFAULT_5XX", 502, Some("Internal server error"))
    }
    /// The request body is over API Gateway's 10 MB limit.
    pub fn request_too_large() -> Self {
        Self::new("REQUEST_TOO_LARGE", 413, Some("Request Too Long"))
    }
    /// Over the stage's throttling rate and burst.
    pub fn throttled() -> Self {
        Self::new("THROTTLED", 429, Some("Too Many Requests"))
    }
    /// The integration did not answer within API Gateway's 29 s limit.
    pub fn integration_timeout() -> Self {
        Self::new(
            "INTEGRATION_TIMEOUT",
            504,
            Some("Endpoint request timed out"),
        )
    }

    /// The `x-amzn-ErrorType` header API Gateway sends with this response.
    fn error_type(&self) -> Option<&'static str> {
        Some(match self.kind {
            "UNAUTHORIZED" => "UnauthorizedException",
            "ACCESS_DENIED" => "AccessDeniedException",
            "MISSING_AUTHENTICATION_TOKEN" => "MissingAuthenticationTokenException",
            "AUTHORIZER_CONFIGURATION_ERROR" => "AuthorizerConfigurationException",
            "AUTHORIZER_FAILURE" => "AuthorizerFailureException",
            "DEFAULT_5XX" => "InternalServerErrorException",
            "REQUEST_TOO_LARGE" => "RequestTooLargeException",
            "INTEGRATION_TIMEOUT" => "InternalServerErrorException",
            "THROTTLED" => "TooManyRequestsException",
            _ => return None,
        })
    }
}

/// Renders a gateway response through the API's `GatewayResponses`: the type's own entry if
/// the template has one, else `DEFAULT_4XX`/`DEFAULT_5XX` by the type's default status class.
pub fn render_gateway_error(
    api: Option<&ApiConfig>,
    err: &GatewayError,
    request_id: &str,
) -> Response<Body> {
    // The 10 MB limit is enforced before the API's own configuration applies: its answer
    // cannot be customised (issue 11 measured it), whatever GatewayResponses say.
    if err.kind == "REQUEST_TOO_LARGE" && api.is_some() {
        return render_gateway_error(None, err, request_id);
    }
    let fallback_kind = if err.default_status >= 500 {
        "DEFAULT_5XX"
    } else {
        "DEFAULT_4XX"
    };
    let responses = api.map(|a| &a.gateway_responses);
    let entry: Option<&GatewayResponseConfig> =
        responses.and_then(|r| r.get(err.kind).or_else(|| r.get(fallback_kind)));
    let status = entry.and_then(|e| e.status).unwrap_or(err.default_status);
    let message_json = match &err.message {
        Some(m) => Value::String(m.clone()).to_string(),
        None => "null".to_string(),
    };
    let body = match entry.and_then(|e| e.template.as_deref()) {
        Some(t) => t
            .replace("$context.error.messageString", &message_json)
            .replace(
                "$context.error.message",
                err.message.as_deref().unwrap_or(""),
            )
            .replace("$context.error.responseType", err.kind)
            .replace("$context.requestId", request_id),
        None => format!("{{\"message\":{message_json}}}"),
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(t) = err.error_type() {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(t));
    }
    for (k, v) in entry.map(|e| e.headers.as_slice()).unwrap_or_default() {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(k, v);
        }
    }
    resp
}

/// The answer to a CORS preflight, as the mock integration SAM generates gives it.
/// `methods` are the path's own methods, used when `AllowMethods` is not set.
pub fn preflight(cors: &CorsConfig, methods: &[String]) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    let h = resp.headers_mut();
    let mut put = |k: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    put("content-type", "application/json");
    put("access-control-allow-origin", &cors.allow_origin);
    if let Some(v) = &cors.allow_headers {
        put("access-control-allow-headers", v);
    }
    let computed;
    let allow_methods = match &cors.allow_methods {
        Some(m) => m.as_str(),
        None => {
            let mut all: Vec<&str> = methods.iter().map(String::as_str).collect();
            if all.contains(&"ANY") {
                all = vec!["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
            } else if !all.contains(&"OPTIONS") {
                all.push("OPTIONS");
            }
            computed = all.join(",");
            &computed
        }
    };
    put("access-control-allow-methods", allow_methods);
    if let Some(v) = &cors.max_age {
        put("access-control-max-age", v);
    }
    if cors.allow_credentials {
        put("access-control-allow-credentials", "true");
    }
    resp
}

/// Headers a proxy result may not set: hyper computes framing itself.
const HOP_BY_HOP: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
];

/// Why a Lambda proxy result cannot become an HTTP response (API Gateway then answers 502).
#[derive(Debug, thiserror::Error)]
pub enum MalformedProxyResult {
    /// The payload is not JSON.
    #[error("the function's answer is not JSON: {0}")]
    NotJson(serde_json::Error),
    /// The payload is JSON but not an object.
    #[error("the function's answer is not a JSON object")]
    NotAnObject,
    /// `statusCode` is absent or out of range.
    #[error("statusCode is missing or not an HTTP status")]
    BadStatus,
    /// `isBase64Encoded` with a body that is not base64.
    #[error("body is not valid base64: {0}")]
    BadBase64(base64::DecodeError),
    /// `body` is neither a string nor null.
    #[error("body is not a string")]
    BodyNotAString,
    /// A header name HTTP does not allow.
    #[error("bad header name {0:?}")]
    BadHeaderName(String),
    /// A header value HTTP does not allow (the header's name).
    #[error("bad value for header {0}")]
    BadHeaderValue(String),
    /// `headers` or `multiValueHeaders` of the wrong shape.
    #[error("{0}")]
    BadHeaderShape(&'static str),
    /// A key API Gateway does not know in the result (it answers 502 "Malformed Lambda
    /// proxy response" for those).
    #[error(
        "unexpected key {0:?} (only statusCode, headers, multiValueHeaders, body, isBase64Encoded)"
    )]
    UnexpectedKey(String),
}

/// The keys of a Lambda proxy result, the only ones API Gateway accepts.
const PROXY_RESULT_KEYS: [&str; 5] = [
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

/// Response headers API Gateway renames to `x-amzn-Remapped-<name>` when an integration
/// sets them (its "may be remapped" list, those a Lambda proxy result hits): a function's
/// `WWW-Authenticate` reaches the client as `x-amzn-Remapped-WWW-Authenticate`.
const REMAPPED: [&str; 4] = ["authorization", "date", "server", "www-authenticate"];

/// Turns a Lambda proxy result (`statusCode`, `headers`, `multiValueHeaders`, `body`,
/// `isBase64Encoded`) into the HTTP response; `Err` says why it is malformed (then API
/// Gateway answers 502). `decode_base64`: the client's first Accept type is one of the
/// API's binary media types, the only case in which API Gateway turns a base64 body back
/// into bytes; otherwise the client gets the base64 text.
pub fn proxy_result_to_response(
    payload: &[u8],
    decode_base64: bool,
) -> Result<Response<Body>, MalformedProxyResult> {
    use MalformedProxyResult as Bad;
    let v: Value = serde_json::from_slice(payload).map_err(Bad::NotJson)?;
    let obj = v.as_object().ok_or(Bad::NotAnObject)?;
    if let Some(k) = obj
        .keys()
        .find(|k| !PROXY_RESULT_KEYS.contains(&k.as_str()))
    {
        return Err(Bad::UnexpectedKey(k.clone()));
    }
    let status = match obj.get("statusCode") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .and_then(|s| u16::try_from(s).ok())
    .and_then(|s| StatusCode::from_u16(s).ok())
    .ok_or(Bad::BadStatus)?;
    let is_base64 = obj
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if is_base64 && decode_base64 => {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(Bad::BadBase64)?
        }
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(_) => return Err(Bad::BodyNotAString),
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    let scalar = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    // API Gateway merges both maps; a name in `multiValueHeaders` takes its values from there.
    if let Some(multi) = obj.get("multiValueHeaders").and_then(Value::as_object) {
        for (k, vals) in multi {
            let name =
                HeaderName::from_bytes(k.as_bytes()).map_err(|_| Bad::BadHeaderName(k.clone()))?;
            for val in vals.as_array().ok_or(Bad::BadHeaderShape(
                "multiValueHeaders values must be lists",
            ))? {
                let val = scalar(val).ok_or(Bad::BadHeaderShape(
                    "multiValueHeaders values must be strings",
                ))?;
                let val =
                    HeaderValue::from_str(&val).map_err(|_| Bad::BadHeaderValue(k.clone()))?;
                headers.append(name.clone(), val);
            }
        }
    }
    if let Some(single) = obj.get("headers").and_then(Value::as_object) {
        for (k, val) in single {
            let name =
                HeaderName::from_bytes(k.as_bytes()).map_err(|_| Bad::BadHeaderName(k.clone()))?;
            if headers.contains_key(&name) {
                continue;
            }
            let val = scalar(val).ok_or(Bad::BadHeaderShape("header values must be strings"))?;
            headers.insert(
                name,
                HeaderValue::from_str(&val).map_err(|_| Bad::BadHeaderValue(k.clone()))?,
            );
        }
    }
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
    for name in REMAPPED {
        let values: Vec<HeaderValue> = headers.get_all(name).iter().cloned().collect();
        if values.is_empty() {
            continue;
        }
        headers.remove(name);
        let remapped = format!("x-amzn-remapped-{name}");
        if let Ok(remapped) = HeaderName::from_bytes(remapped.as_bytes()) {
            for v in values {
                headers.append(remapped.clone(), v);
            }
        }
    }
    // API Gateway labels a proxy response without a Content-Type as JSON.
    if !headers.contains_key("content-type") {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;

    fn api() -> ApiConfig {
        let t = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
        let app = t.resolve(&Default::default()).unwrap();
        app.apis.into_iter().next().unwrap()
    }

    async fn body_of(resp: Response<Body>) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_type_with_its_own_entry_uses_its_status_headers_and_template() {
        let r = render_gateway_error(
            Some(&api()),
            &GatewayError::missing_authentication_token(),
            "r1",
        );
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert_eq!(body_of(r).await, r#"{"detail": "Not Found"}"#);
        let r = render_gateway_error(Some(&api()), &GatewayError::access_denied(), "r1");
        assert_eq!(r.status(), 401, "the template maps ACCESS_DENIED to 401");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
    }

    #[tokio::test]
    async fn a_type_without_an_entry_falls_back_to_its_class_default() {
        // DEFAULT_5XX sets StatusCode 500, so the Lambda-error 502 becomes a 500.
        let r = render_gateway_error(Some(&api()), &GatewayError::bad_lambda_response(), "r1");
        assert_eq!(r.status(), 500);
        assert_eq!(body_of(r).await, r#"{"detail": "Internal Server Error"}"#);
        // DEFAULT_4XX sets no StatusCode: the type keeps its own status.
        let r = render_gateway_error(Some(&api()), &GatewayError::throttled(), "r1");
        assert_eq!(r.status(), 429);
    }

    #[tokio::test]
    async fn the_413_for_a_body_over_10_mb_ignores_gateway_responses() {
        let r = render_gateway_error(Some(&api()), &GatewayError::request_too_large(), "r1");
        assert_eq!(r.status(), 413);
        assert_eq!(body_of(r).await, r#"{"message":"Request Too Long"}"#);
    }

    #[tokio::test]
    async fn without_gateway_responses_the_body_is_api_gateways_default() {
        let r = render_gateway_error(None, &GatewayError::missing_authentication_token(), "r1");
        assert_eq!(r.status(), 403);
        assert_eq!(
            r.headers()["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
        assert_eq!(
            body_of(r).await,
            r#"{"message":"Missing Authentication Token"}"#
        );
        let r = render_gateway_error(None, &GatewayError::authorizer_configuration_error(), "r1");
        assert_eq!(r.status(), 500);
        assert_eq!(body_of(r).await, r#"{"message":null}"#);
    }

    #[tokio::test]
    async fn templates_can_use_context_error_variables() {
        let mut a = api();
        a.gateway_responses.get_mut("UNAUTHORIZED").unwrap().template =
            Some(r#"{"m": $context.error.messageString, "t": "$context.error.responseType", "id": "$context.requestId"}"#.into());
        let r = render_gateway_error(Some(&a), &GatewayError::unauthorized(), "req-9");
        assert_eq!(
            body_of(r).await,
            r#"{"m": "Unauthorized", "t": "UNAUTHORIZED", "id": "req-9"}"#
        );
    }

    #[test]
    fn preflight_has_the_cors_headers() {
        let cors = api().cors.unwrap();
        let r = preflight(&cors, &["GET".into()]);
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(
            h["access-control-allow-headers"],
            "Authorization,Content-Type"
        );
        assert_eq!(
            h["access-control-allow-methods"],
            "GET,POST,PUT,PATCH,DELETE,OPTIONS"
        );
        assert_eq!(h["access-control-max-age"], "600");
        let mut cors = cors;
        cors.allow_methods = None;
        let r = preflight(&cors, &["GET".into(), "POST".into()]);
        assert_eq!(
            r.headers()["access-control-allow-methods"],
            "GET,POST,OPTIONS"
        );
    }

    #[tokio::test]
    async fn a_proxy_result_becomes_the_response_with_merged_headers() {
        let payload = serde_json::json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-one": "1", "content-length": "999"},
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "x-one": ["m"]},
            "body": "{\"id\":1}",
            "isBase64Encoded": false
        });
        let r = proxy_result_to_response(payload.to_string().as_bytes(), false).unwrap();
        assert_eq!(r.status(), 201);
        let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        let ones: Vec<_> = r.headers().get_all("x-one").iter().collect();
        assert_eq!(ones, ["m"], "multiValueHeaders win for a name in both");
        assert!(r.headers().get("content-length").is_none());
        assert_eq!(body_of(r).await, r#"{"id":1}"#);
    }

    #[tokio::test]
    async fn base64_bodies_are_decoded_and_missing_bodies_are_empty() {
        let base64 = br#"{"statusCode": 200, "body": "AAEC", "isBase64Encoded": true}"#;
        let r = proxy_result_to_response(base64, true).unwrap();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(bytes.as_ref(), [0u8, 1, 2]);
        // Unless the client asked for a binary media type: then the text as it is.
        let r = proxy_result_to_response(base64, false).unwrap();
        assert_eq!(body_of(r).await, "AAEC");
        let r = proxy_result_to_response(br#"{"statusCode": 204}"#, false).unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(
            r.headers()["content-type"],
            "application/json",
            "API Gateway's default"
        );
        assert_eq!(body_of(r).await, "");
    }

    #[test]
    fn malformed_proxy_results_are_rejected() {
        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"body": "x"}"#,
            br#"{"statusCode": 99999}"#,
            br#"{"statusCode": 200, "body": 5}"#,
            br#"{"statusCode": 200, "body": "!!", "isBase64Encoded": true}"#,
            br#"{"statusCode": 200, "headers": {"x": {"y": 1}}}"#,
            br#"{"statusCode": 200, "body": "", "cookies": ["a=1"]}"#,
        ] {
            assert!(
                proxy_result_to_response(bad, true).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[tokio::test]
    async fn a_functions_www_authenticate_reaches_the_client_remapped() {
        let payload = br#"{"statusCode": 401, "headers": {"WWW-Authenticate": "Bearer", "Server": "me"}, "body": ""}"#;
        let r = proxy_result_to_response(payload, false).unwrap();
        assert!(r.headers().get("www-authenticate").is_none());
        assert_eq!(r.headers()["x-amzn-remapped-www-authenticate"], "Bearer");
        assert_eq!(r.headers()["x-amzn-remapped-server"], "me");
    }
}
