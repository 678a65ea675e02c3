//! The Lambda proxy integration event (REST API, payload format 1.0), shaped exactly as API
//! Gateway sends it.

use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;

use crate::header_case::OriginalHeaderNames;
use crate::template::ACCOUNT_ID;

/// Everything the event says about one request.
#[derive(Debug, Clone)]
pub struct RequestInfo<'a> {
    /// The HTTP method, upper-case.
    pub method: &'a str,
    /// The request path as received (percent-encoded, no query).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// Their names as the client spelled them (API Gateway keeps that case in the event).
    pub header_names: &'a OriginalHeaderNames,
    /// The request body.
    pub body: &'a [u8],
    /// The matched template path (`/posts/{id}`).
    pub resource: &'a str,
    /// The path parameters, decoded.
    pub path_params: &'a [(String, String)],
    /// The API's id (fake, stable).
    pub api_id: &'a str,
    /// The stage name.
    pub stage: &'a str,
    /// The request id (also sent back as `x-amzn-RequestId`).
    pub request_id: &'a str,
    /// The extended request id (also sent back as `x-amz-apigw-id`).
    pub extended_request_id: &'a str,
    /// The client's IP address.
    pub source_ip: &'a str,
    /// When the request arrived.
    pub time: OffsetDateTime,
    /// `requestContext.authorizer`, when an authorizer ran.
    pub authorizer: Option<Map<String, Value>>,
    /// The body's Content-Type is one of the API's binary media types: it is passed
    /// base64-encoded (`isBase64Encoded`); otherwise as text.
    pub binary_body: bool,
}

/// `{name: last value}` and `{name: [values]}`, or `null`s when there are none.
fn single_and_multi(pairs: Vec<(String, String)>) -> (Value, Value) {
    if pairs.is_empty() {
        return (Value::Null, Value::Null);
    }
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        single.insert(k.clone(), Value::String(v.clone()));
        match multi.get_mut(&k) {
            Some(Value::Array(a)) => a.push(Value::String(v)),
            _ => {
                multi.insert(k, json!([v]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

/// `04/Mar/2020:19:15:17 +0000`, the format of `requestContext.requestTime`.
pub fn request_time(t: OffsetDateTime) -> String {
    static FORMAT: LazyLock<Vec<BorrowedFormatItem<'static>>> = LazyLock::new(|| {
        time::format_description::parse_borrowed::<2>(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000",
        )
        .expect("a valid format description")
    });
    // Formatting fields of a UTC time into a string cannot fail.
    t.to_offset(time::UtcOffset::UTC)
        .format(&*FORMAT)
        .unwrap_or_default()
}

/// A short stable id for a resource path (API Gateway's `resourceId` is 6 characters).
fn resource_id(resource: &str) -> String {
    let h = resource.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..6)
        .map(|i| char::from(alphabet[((h >> (i * 6)) % 36) as usize]))
        .collect()
}

/// Builds the proxy event for `req`.
pub fn proxy_event(req: &RequestInfo<'_>) -> Value {
    let header_pairs: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| {
            (
                req.header_names
                    .get(k.as_str())
                    .unwrap_or(k.as_str())
                    .to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let (headers, multi_headers) = single_and_multi(header_pairs);
    let query_pairs: Vec<(String, String)> = req
        .query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let (query, multi_query) = single_and_multi(query_pairs);
    let path_params = if req.path_params.is_empty() {
        Value::Null
    } else {
        Value::Object(
            req.path_params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    };
    // API Gateway base64-encodes a body whose Content-Type is a binary media type of the
    // API, and passes every other body as text: without BinaryMediaTypes, bytes that are not
    // UTF-8 arrive mangled (here: replaced by U+FFFD), as on AWS.
    let (body, is_base64) = if req.body.is_empty() {
        (Value::Null, false)
    } else if req.binary_body {
        (
            Value::String(base64::engine::general_purpose::STANDARD.encode(req.body)),
            true,
        )
    } else {
        (
            Value::String(String::from_utf8_lossy(req.body).into_owned()),
            false,
        )
    };
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let domain = header("host").unwrap_or("localhost").to_string();
    let domain_prefix = domain.split('.').next().unwrap_or_default().to_string();
    let epoch_ms = req.time.unix_timestamp_nanos() / 1_000_000;
    let mut context = json!({
        "resourceId": resource_id(req.resource),
        "resourcePath": req.resource,
        "httpMethod": req.method,
        "extendedRequestId": req.extended_request_id,
        "requestTime": request_time(req.time),
        // The path as the client sent it. On an execute-api URL that starts with the stage
        // (`/Prod/posts/7`); the local gateway serves the stage at the root, as a custom domain
        // mapped without a base path does, and AWS then reports the path without the stage.
        // Functions that build links (the docs page) rely on this to find their prefix.
        "path": req.path,
        "accountId": ACCOUNT_ID,
        "protocol": "HTTP/1.1",
        "stage": req.stage,
        "domainPrefix": domain_prefix,
        "requestTimeEpoch": epoch_ms as i64,
        "requestId": req.request_id,
        "identity": {
            "cognitoIdentityPoolId": null,
            "accountId": null,
            "cognitoIdentityId": null,
            "caller": null,
            "sourceIp": req.source_ip,
            "principalOrgId": null,
            "accessKey": null,
            "cognitoAuthenticationType": null,
            "cognitoAuthenticationProvider": null,
            "userArn": null,
            "userAgent": header("user-agent"),
            "user": null
        },
        "domainName": domain,
        "apiId": req.api_id
    });
    if let (Some(auth), Some(ctx)) = (&req.authorizer, context.as_object_mut()) {
        ctx.insert("authorizer".into(), Value::Object(auth.clone()));
    }
    json!({
        "resource": req.resource,
        "path": req.path,
        "httpMethod": req.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_params,
        "stageVariables": null,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64
    })
}

/// The headers API Gateway adds before calling the integration: what an edge-optimised
/// REST API (SAM's default endpoint type) adds, since the client reached CloudFront over
/// HTTPS on 443 whatever the local scheme and port, and X-Ray's trace header (a client's
/// own `X-Amzn-Trace-Id` is kept).
/// Returns the names it set, spelled as API Gateway spells them.
pub(super) fn add_forwarding_headers(parts: &mut Parts, peer: SocketAddr) -> Vec<&'static str> {
    let h = &mut parts.headers;
    let forwarded_for = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    let mut added = vec![
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-port", "443".to_string()),
        ("x-forwarded-proto", "https".to_string()),
        ("cloudfront-forwarded-proto", "https".to_string()),
        (
            "via",
            format!(
                "2.0 {}.cloudfront.net (CloudFront)",
                crate::util::random_hex(16)
            ),
        ),
    ];
    if !h.contains_key("x-amzn-trace-id") {
        added.push((
            "x-amzn-trace-id",
            format!(
                "Root=1-{:08x}-{}",
                crate::util::epoch_ms() / 1000,
                crate::util::random_hex(12)
            ),
        ));
    }
    let mut names = Vec::new();
    for (k, v) in added {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
            names.push(aws_spelling(k));
        }
    }
    names
}

/// How API Gateway spells the headers it adds.
fn aws_spelling(name: &str) -> &'static str {
    match name {
        "x-forwarded-for" => "X-Forwarded-For",
        "x-forwarded-port" => "X-Forwarded-Port",
        "x-forwarded-proto" => "X-Forwarded-Proto",
        "cloudfront-forwarded-proto" => "CloudFront-Forwarded-Proto",
        "via" => "Via",
        _ => "X-Amzn-Trace-Id",
    }
}

/// The event of a `REQUEST` authorizer: the proxy event without the body, plus `type` and
/// `methodArn`.
pub(super) fn request_authorizer_event(req: &RequestInfo<'_>, arn: &str) -> Value {
    let mut event = proxy_event(req);
    if let Some(obj) = event.as_object_mut() {
        obj.remove("body");
        obj.remove("isBase64Encoded");
        obj.insert("type".into(), Value::String("REQUEST".into()));
        obj.insert("methodArn".into(), Value::String(arn.to_string()));
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    static NO_NAMES: LazyLock<OriginalHeaderNames> = LazyLock::new(OriginalHeaderNames::default);

    fn info<'a>(
        headers: &'a HeaderMap,
        params: &'a [(String, String)],
        body: &'a [u8],
    ) -> RequestInfo<'a> {
        RequestInfo {
            method: "GET",
            path: "/posts/7",
            query: Some("limit=5&search=a+b%21&tag=x&tag=y"),
            headers,
            header_names: &NO_NAMES,
            body,
            resource: "/posts/{id}",
            path_params: params,
            api_id: "1234567890",
            stage: "Prod",
            request_id: "req-1",
            extended_request_id: "ext-1",
            source_ip: "127.0.0.1",
            time: OffsetDateTime::from_unix_timestamp(1_583_349_317).unwrap(),
            authorizer: None,
            binary_body: false,
        }
    }

    #[test]
    fn the_event_has_api_gateways_keys_and_values() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1:3000"));
        h.insert("user-agent", HeaderValue::from_static("curl/8"));
        h.append("accept", HeaderValue::from_static("a"));
        h.append("accept", HeaderValue::from_static("b"));
        let params = [("id".to_string(), "7".to_string())];
        let e = proxy_event(&info(&h, &params, b""));
        assert_eq!(e["resource"], "/posts/{id}");
        assert_eq!(e["path"], "/posts/7");
        assert_eq!(e["httpMethod"], "GET");
        assert_eq!(
            e["headers"]["accept"], "b",
            "the single-value map keeps the last value"
        );
        assert_eq!(e["multiValueHeaders"]["accept"], json!(["a", "b"]));
        assert_eq!(
            e["queryStringParameters"]["search"], "a b!",
            "query values are decoded"
        );
        assert_eq!(e["queryStringParameters"]["tag"], "y");
        assert_eq!(
            e["multiValueQueryStringParameters"]["tag"],
            json!(["x", "y"])
        );
        assert_eq!(e["pathParameters"], json!({"id": "7"}));
        assert_eq!(e["stageVariables"], Value::Null);
        assert_eq!(e["body"], Value::Null);
        assert_eq!(e["isBase64Encoded"], false);
        let c = &e["requestContext"];
        assert_eq!(
            c["path"], "/posts/7",
            "the path the client used (no stage prefix here)"
        );
        assert_eq!(c["stage"], "Prod");
        assert_eq!(c["resourcePath"], "/posts/{id}");
        assert_eq!(c["requestTime"], "04/Mar/2020:19:15:17 +0000");
        assert_eq!(c["requestTimeEpoch"], 1_583_349_317_000_i64);
        assert_eq!(c["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(c["identity"]["userAgent"], "curl/8");
        assert_eq!(c["accountId"], "123456789012");
        assert_eq!(c["domainName"], "127.0.0.1:3000");
        assert_eq!(c["resourceId"].as_str().unwrap().len(), 6);
        assert!(
            c.get("authorizer").is_none(),
            "no authorizer key when none ran"
        );
    }

    #[test]
    fn empty_maps_are_null_and_binary_bodies_are_base64() {
        let h = HeaderMap::new();
        let mut i = info(&h, &[], &[0xff, 0x00]);
        i.binary_body = true;
        i.query = None;
        i.authorizer = Some(Map::from_iter([("principalId".to_string(), json!("42"))]));
        let e = proxy_event(&i);
        assert_eq!(e["headers"], Value::Null);
        assert_eq!(e["multiValueHeaders"], Value::Null);
        assert_eq!(e["queryStringParameters"], Value::Null);
        assert_eq!(e["multiValueQueryStringParameters"], Value::Null);
        assert_eq!(e["pathParameters"], Value::Null);
        assert_eq!(e["body"], "/wA=");
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["requestContext"]["authorizer"]["principalId"], "42");
    }

    #[test]
    fn the_event_deserializes_into_aws_lambda_events_proxy_request() {
        // The functions read the event through lambda_http, which uses these types.
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost:3000"));
        let params = [("id".to_string(), "7".to_string())];
        let mut i = info(&h, &params, b"{\"a\":1}");
        i.method = "POST";
        i.authorizer = Some(Map::from_iter([
            ("principalId".to_string(), json!("42")),
            ("user_id".to_string(), json!("42")),
            ("integrationLatency".to_string(), json!(3)),
        ]));
        let e = proxy_event(&i);
        let req: aws_lambda_events::apigw::ApiGatewayProxyRequest =
            serde_json::from_value(e).unwrap();
        assert_eq!(req.http_method, "POST");
        assert_eq!(req.path.as_deref(), Some("/posts/7"));
        assert_eq!(req.path_parameters["id"], "7");
        assert_eq!(req.query_string_parameters.first("limit"), Some("5"));
        assert_eq!(req.body.as_deref(), Some("{\"a\":1}"));
        assert_eq!(req.request_context.stage.as_deref(), Some("Prod"));
        assert_eq!(req.request_context.authorizer.fields["user_id"], "42");
        assert_eq!(req.headers["host"], "localhost:3000");
    }
}
