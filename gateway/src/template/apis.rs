//! `AWS::Serverless::Api` resources (and SAM's implicit API): typed properties to
//! [`ApiConfig`].

use std::collections::BTreeMap;
use std::time::Duration;

use yaml_serde::Value;

use super::Template;
use super::config::{
    ApiConfig, AuthorizerConfig, AuthorizerPayload, CorsConfig, GatewayResponseConfig,
    ThrottleConfig,
};
use super::error::TemplateError;
use super::intrinsics::{Resolver, getatt_parts, intrinsic, plain_scalar};
use super::sections::{ApiAuthSection, ApiProps, CorsSection, Expr, MethodSettingSection};

type Result<T> = std::result::Result<T, TemplateError>;

/// Resolves one API; `base` is the path of its (globals-merged) properties.
pub(super) fn api_config(
    template: &Template,
    id: &str,
    base: &str,
    props: &ApiProps,
    r: &Resolver,
) -> Result<ApiConfig> {
    let at = |p: &str| format!("{base}.{p}");
    let stage = r
        .opt(props.stage_name.as_ref(), &at("StageName"))?
        .unwrap_or_default();
    let cors = match &props.cors {
        None | Some(Value::Null) => None,
        // `Cors: "'*'"` (or an intrinsic) is the origin alone.
        Some(c) if c.as_mapping().is_none() || intrinsic(c).is_some() => Some(CorsConfig {
            allow_origin: unquote(&r.resolve(c, &at("Cors"))?),
            allow_headers: None,
            allow_methods: None,
            max_age: None,
            allow_credentials: false,
        }),
        Some(c) => {
            let section: CorsSection = template.typed(&at("Cors"), c.clone())?;
            let field = |e: &Option<Expr>, k: &str| -> Result<Option<String>> {
                Ok(r.opt(e.as_ref(), &at(&format!("Cors.{k}")))?
                    .map(|v| unquote(&v)))
            };
            Some(CorsConfig {
                allow_origin: field(&section.allow_origin, "AllowOrigin")?
                    .ok_or_else(|| TemplateError::invalid(at("Cors"), "AllowOrigin is missing"))?,
                allow_headers: field(&section.allow_headers, "AllowHeaders")?,
                allow_methods: field(&section.allow_methods, "AllowMethods")?,
                max_age: field(&section.max_age, "MaxAge")?,
                allow_credentials: field(&section.allow_credentials, "AllowCredentials")?
                    .is_some_and(|v| v == "true"),
            })
        }
    };
    let auth = props.auth.clone().unwrap_or_default();
    let default_authorizer = r
        .opt(
            auth.default_authorizer.as_ref(),
            &at("Auth.DefaultAuthorizer"),
        )?
        .filter(|d| d != "NONE");
    let authorize_preflight = r
        .opt(
            auth.add_default_authorizer_to_cors_preflight.as_ref(),
            &at("Auth.AddDefaultAuthorizerToCorsPreflight"),
        )?
        .is_none_or(|v| v != "false");
    Ok(ApiConfig {
        logical_id: id.to_string(),
        stage,
        cors,
        default_authorizer,
        authorize_preflight,
        authorizers: authorizers(&auth, &at("Auth.Authorizers"), r)?,
        gateway_responses: gateway_responses(props, &at("GatewayResponses"), r)?,
        throttle: throttle(&props.method_settings, &at("MethodSettings"), r)?,
        method_throttles: method_throttles(&props.method_settings, &at("MethodSettings"), r)?,
        binary_media_types: props
            .binary_media_types
            .iter()
            .enumerate()
            .map(|(i, e)| {
                r.expr(e, &at(&format!("BinaryMediaTypes[{i}]")))
                    .map(|t| t.replace("~1", "/").to_ascii_lowercase())
            })
            .collect::<std::result::Result<_, _>>()?,
    })
}

fn authorizers(
    auth: &ApiAuthSection,
    base: &str,
    r: &Resolver,
) -> Result<BTreeMap<String, AuthorizerConfig>> {
    let mut out = BTreeMap::new();
    for (name, a) in auth.authorizers.iter() {
        let at = |p: &str| format!("{base}.{name}.{p}");
        let arn = a.function_arn.as_ref().ok_or_else(|| {
            TemplateError::invalid(format!("{base}.{name}"), "FunctionArn is missing")
        })?;
        // The authorizer is named, not resolved: the function itself is what runs.
        let function = match intrinsic(&arn.0) {
            Some((f, arg)) if f == "Fn::GetAtt" => getatt_parts(arg).map(|(res, _)| res),
            Some((f, arg)) if f == "Ref" => plain_scalar(arg),
            _ => None,
        }
        .ok_or_else(|| {
            TemplateError::invalid(
                at("FunctionArn"),
                "FunctionArn must be !GetAtt <Function>.Arn",
            )
        })?;
        let payload_at = at("FunctionPayloadType");
        let payload = match r
            .opt(a.function_payload_type.as_ref(), &payload_at)?
            .as_deref()
        {
            None | Some("TOKEN") => AuthorizerPayload::Token,
            Some("REQUEST") => AuthorizerPayload::Request,
            Some(other) => {
                return Err(TemplateError::invalid(
                    payload_at,
                    format!("FunctionPayloadType {other} is not TOKEN or REQUEST"),
                ));
            }
        };
        let identity = a.identity.clone().unwrap_or_default();
        let identity_headers = match payload {
            AuthorizerPayload::Token => vec![
                r.opt(identity.header.as_ref(), &at("Identity.Header"))?
                    .unwrap_or_else(|| "Authorization".into()),
            ],
            AuthorizerPayload::Request => identity
                .headers
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, h)| r.expr(h, &at(&format!("Identity.Headers[{i}]"))))
                .collect::<std::result::Result<_, _>>()?,
        };
        let every_at = at("Identity.ReauthorizeEvery");
        let ttl = match r.opt(identity.reauthorize_every.as_ref(), &every_at)? {
            Some(v) => v.parse::<u64>().map_err(|_| {
                TemplateError::invalid(every_at, "ReauthorizeEvery is not a number of seconds")
            })?,
            None => 300,
        };
        out.insert(
            name.to_string(),
            AuthorizerConfig {
                function,
                payload,
                identity_headers,
                ttl: Duration::from_secs(ttl),
            },
        );
    }
    Ok(out)
}

/// One `MethodSettings` entry: (resource path, method, limits) when it sets both limits.
/// The path is written as CloudFormation wants it (`/~1posts~1{id}`, `/*`) or plainly.
fn method_setting(
    ms: &MethodSettingSection,
    at: &dyn Fn(&str) -> String,
    r: &Resolver,
) -> Result<Option<(String, String, ThrottleConfig)>> {
    let path = r
        .opt(ms.resource_path.as_ref(), &at("ResourcePath"))?
        .unwrap_or_else(|| "/*".into());
    let path = match path.replace("~1", "/") {
        // "/~1posts" decodes to "//posts".
        p if p.starts_with("//") => p[1..].to_string(),
        p => p,
    };
    let method = r
        .opt(ms.http_method.as_ref(), &at("HttpMethod"))?
        .unwrap_or_else(|| "*".into())
        .to_ascii_uppercase();
    let number = |e: &Option<Expr>, k: &str| -> Result<Option<f64>> {
        let path = at(k);
        r.opt(e.as_ref(), &path)?
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| TemplateError::invalid(&path, format!("{v} is not a number")))
            })
            .transpose()
    };
    Ok(
        match (
            number(&ms.throttling_rate_limit, "ThrottlingRateLimit")?,
            number(&ms.throttling_burst_limit, "ThrottlingBurstLimit")?,
        ) {
            (Some(rate), Some(burst)) => Some((path, method, ThrottleConfig { rate, burst })),
            _ => None,
        },
    )
}

/// The `MethodSettings` entries for one method (or every method of one path).
fn method_throttles(
    settings: &[MethodSettingSection],
    base: &str,
    r: &Resolver,
) -> Result<Vec<(String, String, ThrottleConfig)>> {
    let mut out = Vec::new();
    for (i, ms) in settings.iter().enumerate() {
        let at = |k: &str| format!("{base}[{i}].{k}");
        if let Some((path, method, t)) = method_setting(ms, &at, r)?
            && !(path == "/*" && method == "*")
        {
            out.push((path, method, t));
        }
    }
    Ok(out)
}

/// The stage-wide throttle: the `MethodSettings` entry for `/*` and `*`, which API Gateway
/// applies to each method on its own (one token bucket per method, not one per stage).
fn throttle(
    settings: &[MethodSettingSection],
    base: &str,
    r: &Resolver,
) -> Result<Option<ThrottleConfig>> {
    let mut throttle = None;
    for (i, ms) in settings.iter().enumerate() {
        let at = |k: &str| format!("{base}[{i}].{k}");
        if r.opt(ms.resource_path.as_ref(), &at("ResourcePath"))?
            .as_deref()
            != Some("/*")
            || r.opt(ms.http_method.as_ref(), &at("HttpMethod"))?
                .as_deref()
                != Some("*")
        {
            continue;
        }
        let number = |e: &Option<Expr>, k: &str| -> Result<Option<f64>> {
            let path = at(k);
            r.opt(e.as_ref(), &path)?
                .map(|v| {
                    v.parse::<f64>()
                        .map_err(|_| TemplateError::invalid(&path, format!("{v} is not a number")))
                })
                .transpose()
        };
        if let (Some(rate), Some(burst)) = (
            number(&ms.throttling_rate_limit, "ThrottlingRateLimit")?,
            number(&ms.throttling_burst_limit, "ThrottlingBurstLimit")?,
        ) {
            throttle = Some(ThrottleConfig { rate, burst });
        }
    }
    Ok(throttle)
}

fn gateway_responses(
    props: &ApiProps,
    base: &str,
    r: &Resolver,
) -> Result<BTreeMap<String, GatewayResponseConfig>> {
    let mut out = BTreeMap::new();
    for (kind, g) in props.gateway_responses.iter() {
        let at = |p: &str| format!("{base}.{kind}.{p}");
        let status_at = at("StatusCode");
        let status = r
            .opt(g.status_code.as_ref(), &status_at)?
            .map(|v| {
                v.parse::<u16>().map_err(|_| {
                    TemplateError::invalid(&status_at, format!("StatusCode {v} is not a status"))
                })
            })
            .transpose()?;
        let mut headers = Vec::new();
        if let Some(params) = &g.response_parameters {
            for (name, v) in params.headers.iter() {
                let value = r.expr(v, &at(&format!("ResponseParameters.Headers.{name}")))?;
                headers.push((name.to_string(), unquote(&value)));
            }
        }
        let template = r.opt(
            g.response_templates.get("application/json"),
            &at("ResponseTemplates.application/json"),
        )?;
        out.insert(
            kind.to_string(),
            GatewayResponseConfig {
                status,
                headers,
                template,
            },
        );
    }
    Ok(out)
}

/// Strips the single quotes API Gateway wants around static header values (`"'*'"`).
pub fn unquote(s: &str) -> String {
    let t = s.trim();
    if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        t[1..t.len() - 1].to_string()
    } else {
        t.to_string()
    }
}
