//! `AWS::Serverless::Function` resources: typed properties to [`FunctionConfig`].

use std::collections::BTreeMap;
use std::time::Duration;

use super::config::{ApiEvent, AuthChoice, FunctionConfig, ResolveOptions};
use super::error::TemplateError;
use super::intrinsics::{Resolver, intrinsic, plain_scalar};
use super::sections::{ApiEventProps, FunctionMetadata, FunctionProps};
use super::{IMPLICIT_API, Template};

type Result<T> = std::result::Result<T, TemplateError>;

/// Resolves one function; `props` has the globals merged in already.
pub(super) fn function_config(
    template: &Template,
    id: &str,
    metadata: Option<&yaml_serde::Value>,
    props: FunctionProps,
    r: &Resolver,
    options: &ResolveOptions,
) -> Result<FunctionConfig> {
    let at = |p: &str| format!("Resources.{id}.Properties.{p}");
    let metadata: FunctionMetadata = match metadata {
        Some(m) => template.typed(&format!("Resources.{id}.Metadata"), m.clone())?,
        None => FunctionMetadata::default(),
    };
    let binary = match metadata.build_properties.and_then(|b| b.binary) {
        Some(b) => r.expr(
            &b,
            &format!("Resources.{id}.Metadata.BuildProperties.Binary"),
        )?,
        None => binary_from_logical_id(id),
    };
    let timeout = match r.opt(props.timeout.as_ref(), &at("Timeout"))? {
        Some(t) => t.parse::<f64>().ok().filter(|t| *t > 0.0).ok_or_else(|| {
            TemplateError::invalid(at("Timeout"), format!("{t} is not a number of seconds"))
        })?,
        None => 3.0,
    };
    let memory_mb = match r.opt(props.memory_size.as_ref(), &at("MemorySize"))? {
        Some(m) => m.parse().map_err(|_| {
            TemplateError::invalid(at("MemorySize"), format!("{m} is not a number of MB"))
        })?,
        None => 128,
    };
    let reserved = at("ReservedConcurrentExecutions");
    let reserved_concurrency = r
        .opt(props.reserved_concurrent_executions.as_ref(), &reserved)?
        .map(|v| {
            v.parse()
                .map_err(|_| TemplateError::invalid(&reserved, format!("{v} is not a number")))
        })
        .transpose()?;
    let format_at = at("LoggingConfig.LogFormat");
    let log_format = match r
        .opt(
            props
                .logging_config
                .as_ref()
                .and_then(|l| l.log_format.as_ref()),
            &format_at,
        )?
        .as_deref()
    {
        None | Some("Text") => "Text".to_string(),
        Some("JSON") => "JSON".to_string(),
        Some(other) => {
            return Err(TemplateError::invalid(
                format_at,
                format!("LogFormat {other} is neither Text nor JSON"),
            ));
        }
    };
    let log_level = r.opt(
        props
            .logging_config
            .as_ref()
            .and_then(|l| l.application_log_level.as_ref()),
        &at("LoggingConfig.ApplicationLogLevel"),
    )?;

    let mut env = BTreeMap::new();
    if let Some(vars) = &props.environment {
        for (name, v) in vars.variables.iter() {
            let value = r.expr(v, &at(&format!("Environment.Variables.{name}")))?;
            env.insert(name.to_string(), value);
        }
    }
    for scope in ["Parameters", id] {
        if let Some(over) = options.env_overrides.get(scope) {
            env.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    let mut events = Vec::new();
    for (name, ev) in props.events.iter() {
        if ev.kind != "Api" {
            continue;
        }
        let base = at(&format!("Events.{name}.Properties"));
        let ep: ApiEventProps = template.typed(
            &base,
            ev.properties.clone().unwrap_or(yaml_serde::Value::Null),
        )?;
        let path = r
            .opt(ep.path.as_ref(), &format!("{base}.Path"))?
            .ok_or_else(|| TemplateError::invalid(&base, "Path is missing"))?;
        check_resource_path(&path).map_err(|why| {
            TemplateError::invalid(format!("{base}.Path"), format!("{path:?}: {why}"))
        })?;
        let method = r
            .opt(ep.method.as_ref(), &format!("{base}.Method"))?
            .ok_or_else(|| TemplateError::invalid(&base, "Method is missing"))?
            .to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(TemplateError::invalid(
                format!("{base}.Method"),
                format!(
                    "{method:?} is not an HTTP method API Gateway knows ({})",
                    METHODS.join(", ").to_ascii_lowercase()
                ),
            ));
        }
        // The API is named, not resolved: `!Ref Api` stands for the API resource itself.
        let api = match &ep.rest_api_id {
            None => IMPLICIT_API.to_string(),
            Some(v) => match intrinsic(&v.0) {
                Some((f, arg)) if f == "Ref" => plain_scalar(arg).unwrap_or_default(),
                _ => plain_scalar(&v.0).unwrap_or_default(),
            },
        };
        let auth = match ep.auth.as_ref().and_then(|a| a.authorizer.as_ref()) {
            None => AuthChoice::Default,
            Some(a) => match r.expr(a, &format!("{base}.Auth.Authorizer"))? {
                s if s == "NONE" => AuthChoice::None,
                s => AuthChoice::Named(s),
            },
        };
        events.push(ApiEvent {
            api,
            path: normalize_resource_path(&path),
            method,
            auth,
        });
    }
    Ok(FunctionConfig {
        logical_id: id.to_string(),
        binary,
        timeout: Duration::from_secs_f64(timeout),
        memory_mb,
        env,
        log_format,
        log_level,
        reserved_concurrency,
        events,
    })
}

/// The methods an `Api` event may name (API Gateway's, plus `ANY`).
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Refuses a path API Gateway would refuse on deploy (`/posts/{idd`, `/a//b`, `{x+}` that is
/// not last): locally it would only ever answer 404, silently.
fn check_resource_path(path: &str) -> std::result::Result<(), String> {
    let trimmed = path.trim();
    if !trimmed.starts_with('/') {
        return Err("a path starts with /".into());
    }
    let inner = trimmed.trim_start_matches('/');
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if inner.is_empty() {
        return Ok(());
    }
    let segments: Vec<&str> = inner.split('/').collect();
    let mut names = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            return Err("it has an empty segment (//)".into());
        }
        let opens = seg.contains('{');
        let closes = seg.contains('}');
        if !opens && !closes {
            if let Some(c) = seg
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "-._~:@!$&'()*+,;=%".contains(*c)))
            {
                return Err(format!("segment {seg:?} has the character {c:?}"));
            }
            continue;
        }
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            return Err(format!(
                "segment {seg:?} is not a whole {{parameter}} (unbalanced braces, or text around them)"
            ));
        };
        let (name, greedy) = match name.strip_suffix('+') {
            Some(n) => (n, true),
            None => (name, false),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(format!("{seg:?} is not a valid parameter name"));
        }
        if greedy && i + 1 != segments.len() {
            return Err(format!("{seg:?} must be the last segment"));
        }
        if names.contains(&name) {
            return Err(format!("parameter {name} appears twice"));
        }
        names.push(name);
    }
    Ok(())
}

/// `CreateUserFunction` -> `create_user`: the naming rule of this project, used when a
/// function has no `Metadata.BuildProperties.Binary`.
pub(super) fn binary_from_logical_id(id: &str) -> String {
    let base = id
        .strip_suffix("Function")
        .filter(|b| !b.is_empty())
        .unwrap_or(id);
    let mut out = String::new();
    for (i, c) in base.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A template path with one leading slash and no trailing slash (except `/` itself).
fn normalize_resource_path(p: &str) -> String {
    let trimmed = p.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}
