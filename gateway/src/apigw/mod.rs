//! API Gateway (REST API, Lambda proxy integration) in front of the local Lambda service.
//!
//! Per request, like API Gateway: match the path and method against the template's `Api`
//! events (unknown ones get `MISSING_AUTHENTICATION_TOKEN`), answer CORS preflights itself,
//! run the route's Lambda authorizer, build the proxy event, invoke the function and turn its
//! proxy result into the HTTP response; failures become the template's gateway responses.

pub mod authorizer;
pub mod event;
pub mod responses;
pub mod routing;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Response};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::header_case::OriginalHeaderNames;
use crate::runtime::{InvokeError, InvokeOutcome, LambdaRuntime};
use crate::template::{
    ACCOUNT_ID, ApiConfig, AppConfig, AuthChoice, AuthorizerPayload, ThrottleConfig,
};
use crate::util::uuid_v4;
use authorizer::{AuthDecision, decide, method_arn, token_event};
use event::{RequestInfo, add_forwarding_headers, proxy_event, request_authorizer_event};
use responses::{GatewayError, preflight, proxy_result_to_response, render_gateway_error};
use routing::{ResourcePath, best_match};

/// API Gateway's payload limit for a request.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// API Gateway's integration timeout.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

struct Api {
    config: ApiConfig,
    id: String,
    /// One token bucket per method, by (resource path, HTTP method); unknown paths share
    /// the bucket of ("", method).
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

/// API Gateway's throttling token bucket: `burst` tokens, refilled at `rate` per second.
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Api {
    /// The limits of `method` on `resource`: its own `MethodSettings` entry, else its
    /// path's `*` entry, else the stage's (`/*`, `*`).
    fn limits(&self, resource: &str, method: &str) -> Option<ThrottleConfig> {
        let own = |m: &str| {
            self.config
                .method_throttles
                .iter()
                .find(|(p, pm, _)| p == resource && pm == m)
                .map(|(_, _, t)| *t)
        };
        own(method).or_else(|| own("*")).or(self.config.throttle)
    }

    /// Takes a token from the method's bucket; `false` means the request is throttled.
    fn admit(&self, resource: &str, method: &str) -> bool {
        let Some(t) = self.limits(resource, method) else {
            return true;
        };
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        let b = buckets
            .entry((resource.to_string(), method.to_string()))
            .or_insert(Bucket {
                tokens: t.burst,
                last: now,
            });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * t.rate).min(t.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether `content_type` (a request's Content-Type, or the first type of its Accept)
    /// is one of the API's binary media types.
    fn is_binary(&self, content_type: Option<&str>) -> bool {
        let Some(ct) = content_type else {
            return false;
        };
        let essence = ct
            .split([';', ','])
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        !essence.is_empty()
            && self
                .config
                .binary_media_types
                .iter()
                .any(|pattern| wildmatch::WildMatch::new(pattern).matches(&essence))
    }
}

/// API Gateway's two ids of a request.
struct Ids {
    /// `$context.requestId`: `x-amzn-RequestId`, the event's `requestContext.requestId`.
    request_id: String,
    /// `$context.extendedRequestId`: `x-amz-apigw-id`, the event's `extendedRequestId`.
    extended_request_id: String,
}

/// What the access line says about the function a request reached.
#[derive(Default)]
struct Trace {
    /// The function and Lambda's report of the invocation.
    function: Option<(String, crate::runtime::InvokeReport)>,
}

/// The method a request is routed by: its own, or for a POST the one its
/// `X-HTTP-Method-Override` header names. API Gateway does not document the header, but
/// routes by it (issue 11 measured it on a REST API); only HTTP methods it knows count.
fn effective_method(req: &Request) -> String {
    let method = req.method().as_str().to_ascii_uppercase();
    if method != "POST" {
        return method;
    }
    req.headers()
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_uppercase())
        .filter(|v| {
            ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "POST"].contains(&v.as_str())
        })
        .unwrap_or(method)
}

/// The query string for the access line, with the values of parameters whose names suggest
/// a credential (`access_token`, `password`, `api_key`, ...) replaced: a log must never hold a
/// token or a password, even one a client put where it does not belong.
fn redacted_query(query: &str) -> String {
    const SENSITIVE: [&str; 9] = [
        "token",
        "password",
        "passwd",
        "secret",
        "key",
        "auth",
        "session",
        "signature",
        "credential",
    ];
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _))
                if SENSITIVE
                    .iter()
                    .any(|s| name.to_ascii_lowercase().contains(s)) =>
            {
                format!("{name}=[redacted]")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// An id shaped like API Gateway's extended request ids (`XxxXXXxxIAMEbA=`).
fn extended_request_id() -> String {
    use base64::Engine;
    let bytes: [u8; 10] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct Method {
    method: String,
    function: String,
    authorizer: Option<String>,
}

struct Resource {
    api: usize,
    methods: Vec<Method>,
}

/// Cached authorizer answers (only for authorizers with `ReauthorizeEvery` > 0), by
/// (API index, authorizer name, identity value). The raw answer is cached, not the decision:
/// API Gateway evaluates the cached policy against each request's own method ARN.
type AuthCache = Mutex<HashMap<(usize, String, String), (Instant, InvokeOutcome)>>;

/// The emulated API Gateway: all APIs of the template on one listener.
pub struct Gateway {
    apis: Vec<Api>,
    resources: Vec<(ResourcePath, Resource)>,
    runtime: Arc<LambdaRuntime>,
    region: String,
    auth_cache: AuthCache,
}

/// A stable 10-character API id derived from the logical id (real ones look alike).
fn api_id(logical_id: &str) -> String {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for b in logical_id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..10)
        .map(|_| {
            let c = char::from(alphabet[(h % 36) as usize]);
            h /= 36;
            c
        })
        .collect()
}

impl Gateway {
    /// Builds the routing table of every `Api` event in `app`. Fails on a path served by two
    /// APIs, a method declared twice, or an authorizer name the API does not define.
    pub fn new(app: &AppConfig, runtime: Arc<LambdaRuntime>) -> Result<Gateway> {
        let apis: Vec<Api> = app
            .apis
            .iter()
            .map(|c| Api {
                config: c.clone(),
                id: api_id(&c.logical_id),
                buckets: Mutex::new(HashMap::new()),
            })
            .collect();
        let mut resources: Vec<(ResourcePath, Resource)> = Vec::new();
        for f in &app.functions {
            for e in &f.events {
                let Some(api_index) = apis.iter().position(|a| a.config.logical_id == e.api) else {
                    return Err(Error::config(format!(
                        "{}: unknown API {}",
                        f.logical_id, e.api
                    )));
                };
                let api = &apis[api_index].config;
                let authorizer = match &e.auth {
                    AuthChoice::None => None,
                    AuthChoice::Default => api.default_authorizer.clone(),
                    AuthChoice::Named(n) if n == "AWS_IAM" => {
                        tracing::info!(
                            "[gateway] {} {} uses AWS_IAM auth, which is not emulated: the route is open",
                            e.method,
                            e.path
                        );
                        None
                    }
                    AuthChoice::Named(n) => {
                        if !api.authorizers.contains_key(n) {
                            return Err(Error::config(format!(
                                "{}: event {} {} uses authorizer {n}, which {} does not define",
                                f.logical_id, e.method, e.path, api.logical_id
                            )));
                        }
                        Some(n.clone())
                    }
                };
                let method = Method {
                    method: e.method.clone(),
                    function: f.logical_id.clone(),
                    authorizer,
                };
                match resources.iter_mut().find(|(p, _)| p.template == e.path) {
                    Some((_, r)) if r.api != api_index => {
                        return Err(Error::config(format!(
                            "path {} is served by two APIs",
                            e.path
                        )));
                    }
                    Some((_, r)) => {
                        if let Some(other) = r.methods.iter().find(|m| m.method == e.method) {
                            return Err(Error::config(format!(
                                "{} {} is declared by both {} and {}",
                                e.method, e.path, other.function, f.logical_id
                            )));
                        }
                        r.methods.push(method);
                    }
                    None => resources.push((
                        ResourcePath::new(&e.path),
                        Resource {
                            api: api_index,
                            methods: vec![method],
                        },
                    )),
                }
            }
        }
        Ok(Gateway {
            apis,
            resources,
            runtime,
            region: app.region.clone(),
            auth_cache: Mutex::new(HashMap::new()),
        })
    }

    /// The axum router that serves every request through [`Gateway::handle`]. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` (the client address is needed).
    pub fn router(self: Arc<Self>) -> Router {
        async fn handler(
            State(gw): State<Arc<Gateway>>,
            ConnectInfo(peer): ConnectInfo<SocketAddr>,
            req: Request,
        ) -> Response<Body> {
            gw.handle(req, peer).await
        }
        Router::new().fallback(handler).with_state(self)
    }

    /// Answers one request and logs its access line: `METHOD /path?query STATUS Nms
    /// request_id=<API Gateway's> [function=<F> lambda_request_id=<Lambda's> duration=<ms>]`.
    ///
    /// The two ids are different things, as on AWS: API Gateway's (`x-amzn-RequestId`, the
    /// event's `requestContext.requestId`, `$context.requestId`) and the Lambda invocation's
    /// (the `requestId` of the function's log lines, `$context.integration.requestId`). The
    /// access line prints both, so one request can be followed from the client to the
    /// function's logs.
    pub async fn handle(&self, req: Request, peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let method = req.method().as_str().to_string();
        let target = match req.uri().query() {
            Some(q) => format!("{}?{}", req.uri().path(), redacted_query(q)),
            None => req.uri().path().to_string(),
        };
        // A client may choose the request id by sending a UUID in x-amzn-RequestId, as API
        // Gateway allows; anything else is replaced by a fresh one.
        let request_id = req
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .filter(|v| uuid::Uuid::parse_str(v).is_ok())
            .map_or_else(uuid_v4, |v| v.to_ascii_lowercase());
        let ids = Ids {
            request_id,
            extended_request_id: extended_request_id(),
        };
        let mut trace = Trace::default();
        let mut resp = self.route(req, peer, &ids, &mut trace).await;
        for (name, value) in [
            ("x-amzn-requestid", &ids.request_id),
            ("x-amz-apigw-id", &ids.extended_request_id),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                resp.headers_mut().insert(name, v);
            }
        }
        let function = match &trace.function {
            Some((name, report)) => format!(
                " function={name} lambda_request_id={} duration={}",
                report.request_id,
                report.duration.map_or_else(
                    || "-".into(),
                    |d| format!("{:.2}ms", d.as_secs_f64() * 1000.0)
                )
            ),
            None => String::new(),
        };
        tracing::info!(
            "{method} {target} {} {}ms request_id={}{function}",
            resp.status().as_u16(),
            started.elapsed().as_millis(),
            ids.request_id
        );
        resp
    }

    fn error(&self, api: Option<&Api>, err: GatewayError, request_id: &str) -> Response<Body> {
        // Requests that match no route get the gateway responses of the first API.
        let api = api.or(self.apis.first()).map(|a| &a.config);
        render_gateway_error(api, &err, request_id)
    }

    async fn route(
        &self,
        req: Request,
        peer: SocketAddr,
        ids: &Ids,
        trace: &mut Trace,
    ) -> Response<Body> {
        let request_id = ids.request_id.as_str();
        let received = OffsetDateTime::now_utc();
        let path = req.uri().path().to_string();
        let method = effective_method(&req);
        let matched = best_match(&self.resources, &path);
        // Throttling comes first, before routing errors and authentication, per method.
        let api_index = matched.as_ref().map_or(0, |(_, e, _)| e.api);
        let resource_path = matched.as_ref().map_or("", |(r, _, _)| r.template.as_str());
        if let Some(api) = self.apis.get(api_index)
            && !api.admit(resource_path, &method)
        {
            return self.error(Some(api), GatewayError::throttled(), request_id);
        }
        let Some((resource, entry, params)) = matched else {
            return self.error(
                None,
                GatewayError::missing_authentication_token(),
                request_id,
            );
        };
        let api = &self.apis[entry.api];
        let declared = entry
            .methods
            .iter()
            .find(|m| m.method == method)
            .or_else(|| entry.methods.iter().find(|m| m.method == "ANY"));
        // `None` function: a CORS preflight, answered by the gateway's mock integration.
        let (function, authorizer) = match (declared, &api.config.cors) {
            (Some(m), _) => (Some(m.function.as_str()), m.authorizer.as_deref()),
            (None, Some(_)) if method == "OPTIONS" => {
                let auth = if api.config.authorize_preflight {
                    api.config.default_authorizer.as_deref()
                } else {
                    None
                };
                (None, auth)
            }
            _ => {
                return self.error(
                    Some(api),
                    GatewayError::missing_authentication_token(),
                    request_id,
                );
            }
        };

        let (mut parts, body) = req.into_parts();
        let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else {
            return self.error(Some(api), GatewayError::request_too_large(), request_id);
        };
        let mut header_names = parts
            .extensions
            .get::<OriginalHeaderNames>()
            .cloned()
            .unwrap_or_default();
        for name in add_forwarding_headers(&mut parts, peer) {
            header_names
                .0
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| name.to_string());
        }
        let source_ip = peer.ip().to_string();
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        // With BinaryMediaTypes, a body whose Content-Type is one of them reaches the function
        // base64-encoded; any other body is passed as text (API Gateway's conversions).
        let binary_body = api.is_binary(header("content-type"));
        // A base64 result is decoded only when the client's first Accept type is binary.
        let binary_answer = api.is_binary(header("accept"));
        let mut info = RequestInfo {
            method: &method,
            path: &path,
            query: parts.uri.query(),
            headers: &parts.headers,
            header_names: &header_names,
            body: &body,
            resource: &resource.template,
            path_params: &params,
            api_id: &api.id,
            stage: &api.config.stage,
            request_id,
            extended_request_id: &ids.extended_request_id,
            source_ip: &source_ip,
            time: received,
            authorizer: None,
            binary_body,
        };

        if let Some(name) = authorizer {
            match self.authorize(entry.api, name, &info).await {
                Ok(context) => info.authorizer = Some(context),
                Err(e) => return self.error(Some(api), e, request_id),
            }
        }
        let Some(function) = function else {
            let methods: Vec<String> = entry.methods.iter().map(|m| m.method.clone()).collect();
            return match &api.config.cors {
                Some(cors) => preflight(cors, &methods),
                None => self.error(
                    Some(api),
                    GatewayError::missing_authentication_token(),
                    request_id,
                ),
            };
        };

        let event = proxy_event(&info);
        // Serialising a `Value` cannot fail: its keys are always strings.
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        let xray = parts
            .headers
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let invocation = self.runtime.invoke_traced(function, payload, xray);
        let outcome = match tokio::time::timeout(INTEGRATION_TIMEOUT, invocation).await {
            Ok(Ok((outcome, report))) => {
                trace.function = Some((function.to_string(), report));
                Ok(Ok(outcome))
            }
            Ok(Err(e)) => Ok(Err(e)),
            Err(e) => Err(e),
        };
        match outcome {
            Err(_) => self.error(Some(api), GatewayError::integration_timeout(), request_id),
            Ok(Err(e @ InvokeError::PayloadTooLarge { .. })) => {
                // Lambda refuses the event (RequestEntityTooLargeException) and API Gateway
                // answers the client 413.
                tracing::info!("[gateway] {function}: {e}");
                self.error(Some(api), GatewayError::request_too_large(), request_id)
            }
            Ok(Err(e)) => {
                tracing::info!("[gateway] {function}: {e}");
                self.error(Some(api), GatewayError::bad_lambda_response(), request_id)
            }
            Ok(Ok(InvokeOutcome::Error(e))) => {
                tracing::info!(
                    "[gateway] {function} failed: {}: {}",
                    e.error_type,
                    e.error_message
                );
                self.error(Some(api), GatewayError::bad_lambda_response(), request_id)
            }
            Ok(Ok(InvokeOutcome::Response(payload))) => {
                match proxy_result_to_response(&payload, binary_answer) {
                    Ok(resp) => resp,
                    Err(why) => {
                        tracing::info!(
                            "[gateway] {function}: malformed Lambda proxy response: {why}"
                        );
                        self.error(Some(api), GatewayError::bad_lambda_response(), request_id)
                    }
                }
            }
        }
    }

    /// Runs authorizer `name` of API `api_index`: the `requestContext.authorizer` map when the
    /// request may go on, else the gateway response to answer with.
    async fn authorize(
        &self,
        api_index: usize,
        name: &str,
        req: &RequestInfo<'_>,
    ) -> Result<Map<String, Value>, GatewayError> {
        let api = &self.apis[api_index];
        let Some(cfg) = api.config.authorizers.get(name) else {
            return Err(GatewayError::authorizer_configuration_error());
        };
        // No identity, no call: API Gateway answers 401 without invoking the authorizer when
        // an identity source is missing or empty. (AWS documents this check for authorizers
        // with caching; ours has none and does the same, and our authorizer answers a missing
        // header with the same 401 should API Gateway call it anyway.)
        let mut identity = Vec::with_capacity(cfg.identity_headers.len());
        for name in &cfg.identity_headers {
            match req
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.trim().is_empty())
            {
                Some(value) => identity.push(value),
                None => return Err(GatewayError::unauthorized()),
            }
        }
        let arn = method_arn(
            &self.region,
            ACCOUNT_ID,
            &api.id,
            &api.config.stage,
            req.method,
            req.path,
        );
        let key = (api_index, name.to_string(), identity.join("\n"));
        let cached = if cfg.ttl.is_zero() {
            None
        } else {
            self.cached_answer(&key)
        };
        let started = Instant::now();
        let outcome = match cached {
            Some(outcome) => outcome,
            None => {
                let event = match cfg.payload {
                    // A TOKEN authorizer gets one string, whatever the request repeated.
                    AuthorizerPayload::Token => {
                        token_event(identity.first().copied().unwrap_or_default(), &arn)
                    }
                    AuthorizerPayload::Request => request_authorizer_event(req, &arn),
                };
                match self.runtime.invoke(&cfg.function, event).await {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        tracing::info!("[gateway] authorizer {name}: {e}");
                        return Err(GatewayError::authorizer_failure());
                    }
                }
            }
        };
        let latency = started.elapsed().as_millis() as u64;
        match decide(&outcome, &arn) {
            AuthDecision::Allow {
                principal_id,
                mut context,
            } => {
                if !cfg.ttl.is_zero()
                    && let Ok(mut cache) = self.auth_cache.lock()
                {
                    cache.insert(key, (Instant::now() + cfg.ttl, outcome));
                }
                context.insert("principalId".into(), Value::String(principal_id));
                context.insert("integrationLatency".into(), Value::from(latency));
                Ok(context)
            }
            AuthDecision::Unauthorized => Err(GatewayError::unauthorized()),
            AuthDecision::Denied => Err(GatewayError::access_denied()),
            AuthDecision::ConfigurationError(why) => {
                tracing::info!("[gateway] authorizer {name}: {why}");
                Err(GatewayError::authorizer_configuration_error())
            }
        }
    }

    fn cached_answer(&self, key: &(usize, String, String)) -> Option<InvokeOutcome> {
        let mut cache = self.auth_cache.lock().ok()?;
        match cache.get(key) {
            Some((expires, outcome)) if *expires > Instant::now() => Some(outcome.clone()),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_line_never_shows_a_credential_from_the_query_string() {
        assert_eq!(
            redacted_query("limit=5&access_token=eyJ.x.y&search=a%20b&Password=p&api_key=k"),
            "limit=5&access_token=[redacted]&search=a%20b&Password=[redacted]&api_key=[redacted]"
        );
        assert_eq!(redacted_query("flag&skip=0"), "flag&skip=0");
    }

    #[test]
    fn api_ids_are_stable_and_look_real() {
        let id = api_id("Api");
        assert_eq!(id, api_id("Api"));
        assert_eq!(id.len(), 10);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(id, api_id("OtherApi"));
    }

    #[test]
    fn the_project_template_builds_a_routing_table() {
        let t = crate::template::Template::load(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../template.yaml"
        ))
        .unwrap();
        let app = t.resolve(&Default::default()).unwrap();
        let gw = Gateway::new(&app, Arc::new(LambdaRuntime::new(vec![], "us-east-1"))).unwrap();
        let (_, posts, _) = best_match(&gw.resources, "/posts/").unwrap();
        let mut methods: Vec<&str> = posts.methods.iter().map(|m| m.method.as_str()).collect();
        methods.sort_unstable();
        assert_eq!(methods, ["GET", "POST"]);
        assert!(
            posts
                .methods
                .iter()
                .all(|m| m.authorizer.as_deref() == Some("JwtAuthorizer"))
        );
        let (_, users, params) = best_match(&gw.resources, "/users/5").unwrap();
        assert_eq!(users.methods[0].function, "GetUserFunction");
        assert_eq!(users.methods[0].authorizer, None, "Auth.Authorizer: NONE");
        assert_eq!(params, vec![("id".to_string(), "5".to_string())]);
    }
}
