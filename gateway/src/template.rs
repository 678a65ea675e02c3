//! Reading the SAM template: parameters, globals, functions, APIs and the DynamoDB table.
//!
//! The template is read as raw YAML ([`Template::load`]) and then resolved into plain Rust
//! values ([`Template::resolve`]) with a [`Resolver`] that knows the parameter values, the
//! local table names and the JWT secret. CloudFormation intrinsics arrive from `yaml_serde` as
//! tagged values (`!Ref X`); their long forms (`{"Ref": "X"}`, `{"Fn::Sub": ...}`) work too.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use yaml_serde::{Mapping, Value};

use crate::error::{Error, Result};

/// The account id used wherever AWS would put the real one (ARNs, request contexts).
pub const ACCOUNT_ID: &str = "123456789012";
/// The name of the API that SAM creates for `Api` events without a `RestApiId`.
pub const IMPLICIT_API: &str = "ServerlessRestApi";

/// A parsed, not yet resolved, SAM template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where the template was read from.
    pub path: PathBuf,
    root: Value,
}

/// One template parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterDef {
    /// `Type` (`String`, `Number`, ...).
    pub kind: String,
    /// `Default`, as a string.
    pub default: Option<String>,
    /// `AllowedValues`, as strings (empty: anything).
    pub allowed_values: Vec<String>,
    /// `MinValue` of a `Number` parameter.
    pub min_value: Option<f64>,
    /// `MaxValue` of a `Number` parameter.
    pub max_value: Option<f64>,
}

/// What the template needs from outside to be resolved.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// `--parameter-overrides`: parameter name to value.
    pub parameter_overrides: BTreeMap<String, String>,
    /// `--table-name`: the local name of every `AWS::DynamoDB::Table` (default: its logical id).
    pub table_name: Option<String>,
    /// The value that replaces every `{{resolve:secretsmanager:...}}` reference.
    pub jwt_secret: String,
    /// `--env-vars` file: `"Parameters"` (every function) or a function's logical id, to
    /// variable name to value. These win over the template.
    pub env_overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// The region substituted for `AWS::Region` (default `us-east-1`).
    pub region: Option<String>,
}

/// The template with every value the gateway needs resolved.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Every `AWS::Serverless::Function`, in template order.
    pub functions: Vec<FunctionConfig>,
    /// Every API (explicit `AWS::Serverless::Api`, plus the implicit one when an event uses it).
    pub apis: Vec<ApiConfig>,
    /// The DynamoDB tables with their local names.
    pub tables: Vec<(String, TableDef)>,
    /// The region used in ARNs and given to functions.
    pub region: String,
}

/// One Lambda function, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    /// The logical id (`CreateUserFunction`); also the local function name.
    pub logical_id: String,
    /// The executable's name in the bin dir (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// `Timeout` (SAM default 3 s).
    pub timeout: Duration,
    /// `MemorySize` in MB (SAM default 128).
    pub memory_mb: u32,
    /// `Environment.Variables`, globals merged in, `--env-vars` applied.
    pub env: BTreeMap<String, String>,
    /// `LoggingConfig.ApplicationLogLevel`, given to the function as `AWS_LAMBDA_LOG_LEVEL`.
    pub log_level: Option<String>,
    /// `ReservedConcurrentExecutions`: caps the number of instances.
    pub reserved_concurrency: Option<u32>,
    /// The function's `Api` events.
    pub events: Vec<ApiEvent>,
}

/// Which authorizer protects a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthChoice {
    /// No `Auth.Authorizer`: the API's `DefaultAuthorizer`, if any.
    Default,
    /// `Auth.Authorizer: NONE`.
    None,
    /// `Auth.Authorizer: <name>`.
    Named(String),
}

/// One `Type: Api` event of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEvent {
    /// Logical id of the API (`RestApiId: !Ref Api`), or [`IMPLICIT_API`].
    pub api: String,
    /// `Path`, e.g. `/posts/{id}`.
    pub path: String,
    /// `Method`, upper-case; `ANY` matches every method.
    pub method: String,
    /// `Auth.Authorizer`.
    pub auth: AuthChoice,
}

/// One REST API, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// Logical id.
    pub logical_id: String,
    /// `StageName`: the first segment of `requestContext.path`.
    pub stage: String,
    /// `Cors`, when set.
    pub cors: Option<CorsConfig>,
    /// `Auth.DefaultAuthorizer`.
    pub default_authorizer: Option<String>,
    /// `Auth.AddDefaultAuthorizerToCorsPreflight` (SAM default `true`).
    pub authorize_preflight: bool,
    /// `Auth.Authorizers`.
    pub authorizers: BTreeMap<String, AuthorizerConfig>,
    /// `GatewayResponses`, by response type (`UNAUTHORIZED`, `DEFAULT_4XX`, ...).
    pub gateway_responses: BTreeMap<String, GatewayResponseConfig>,
    /// Stage-wide throttling (`MethodSettings` entry for `/*` and `*`).
    pub throttle: Option<ThrottleConfig>,
}

/// API Gateway's token bucket for a stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleConfig {
    /// `ThrottlingRateLimit`: requests per second, steady state.
    pub rate: f64,
    /// `ThrottlingBurstLimit`: the bucket's size.
    pub burst: f64,
}

/// `Cors` of an API, with the single quotes of the template values removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// `AllowOrigin`.
    pub allow_origin: String,
    /// `AllowHeaders`.
    pub allow_headers: Option<String>,
    /// `AllowMethods`; when absent SAM lists the path's own methods plus `OPTIONS`.
    pub allow_methods: Option<String>,
    /// `MaxAge`.
    pub max_age: Option<String>,
    /// `AllowCredentials`.
    pub allow_credentials: bool,
}

/// The payload type of a Lambda authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizerPayload {
    /// `TOKEN`: the event carries one header's value.
    Token,
    /// `REQUEST`: the event carries the whole request.
    Request,
}

/// One Lambda authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// Logical id of the authorizer function (`FunctionArn: !GetAtt X.Arn`).
    pub function: String,
    /// `FunctionPayloadType`.
    pub payload: AuthorizerPayload,
    /// The headers that must be present before the authorizer is called (API Gateway answers
    /// 401 without calling it otherwise), also its cache key: `Identity.Header` of a TOKEN
    /// authorizer (default `Authorization`), `Identity.Headers` of a REQUEST one.
    pub identity_headers: Vec<String>,
    /// `Identity.ReauthorizeEvery` (API Gateway's default is 300 s; 0 turns caching off).
    pub ttl: Duration,
}

/// One `GatewayResponses` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayResponseConfig {
    /// `StatusCode`: replaces the response type's default status.
    pub status: Option<u16>,
    /// `ResponseParameters.Headers`, quotes removed.
    pub headers: Vec<(String, String)>,
    /// `ResponseTemplates["application/json"]`.
    pub template: Option<String>,
}

/// An `AWS::DynamoDB::Table` definition: what CreateTable needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Logical id.
    pub logical_id: String,
    /// `AttributeDefinitions`: (name, type `S`/`N`/`B`).
    pub attributes: Vec<(String, String)>,
    /// `KeySchema`: (name, `HASH`/`RANGE`).
    pub key_schema: Vec<(String, String)>,
    /// `GlobalSecondaryIndexes`.
    pub global_indexes: Vec<IndexDef>,
    /// `LocalSecondaryIndexes`.
    pub local_indexes: Vec<IndexDef>,
    /// `BillingMode` (default `PROVISIONED`, as CloudFormation).
    pub billing_mode: String,
    /// `ProvisionedThroughput` (read, write) for `PROVISIONED` tables.
    pub throughput: Option<(i64, i64)>,
    /// `TimeToLiveSpecification.AttributeName` when enabled.
    pub ttl_attribute: Option<String>,
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// `IndexName`.
    pub name: String,
    /// `KeySchema`.
    pub key_schema: Vec<(String, String)>,
    /// `Projection.ProjectionType` (default `ALL`).
    pub projection_type: String,
    /// `Projection.NonKeyAttributes`.
    pub non_key_attributes: Vec<String>,
    /// `ProvisionedThroughput` of a GSI on a `PROVISIONED` table.
    pub throughput: Option<(i64, i64)>,
}

impl Template {
    /// Reads and parses a template file.
    pub fn load(path: impl AsRef<Path>) -> Result<Template> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read template {}: {e}", path.display())))?;
        Self::parse(path, &text)
    }

    /// Parses template text; `path` is only used in messages and for the project directory.
    pub fn parse(path: impl AsRef<Path>, text: &str) -> Result<Template> {
        let path = path.as_ref().to_path_buf();
        let root: Value = yaml_serde::from_str(text).map_err(|e| {
            Error::config(format!(
                "template {} is not valid YAML: {e}",
                path.display()
            ))
        })?;
        if root.as_mapping().is_none() {
            return Err(Error::config(format!(
                "template {} is not a YAML mapping",
                path.display()
            )));
        }
        Ok(Template { path, root })
    }

    /// The directory the template is in: the project root, where `.local/` lives.
    pub fn project_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// `Parameters`, by name.
    pub fn parameters(&self) -> Result<BTreeMap<String, ParameterDef>> {
        let mut out = BTreeMap::new();
        let Some(params) = self.root.get("Parameters").and_then(Value::as_mapping) else {
            return Ok(out);
        };
        for (name, def) in params {
            let name = key_string(name)?;
            let plain = |v: Option<&Value>| v.and_then(plain_scalar);
            out.insert(
                name,
                ParameterDef {
                    kind: plain(def.get("Type")).unwrap_or_else(|| "String".into()),
                    default: plain(def.get("Default")),
                    allowed_values: def
                        .get("AllowedValues")
                        .and_then(Value::as_sequence)
                        .map(|s| s.iter().filter_map(plain_scalar).collect())
                        .unwrap_or_default(),
                    min_value: plain(def.get("MinValue")).and_then(|s| s.parse().ok()),
                    max_value: plain(def.get("MaxValue")).and_then(|s| s.parse().ok()),
                },
            );
        }
        Ok(out)
    }

    /// `Resources`: logical id to (type, resource mapping), in template order.
    fn resources(&self) -> Vec<(String, String, &Value)> {
        let Some(res) = self.root.get("Resources").and_then(Value::as_mapping) else {
            return Vec::new();
        };
        res.iter()
            .filter_map(|(k, v)| {
                let id = plain_scalar(k)?;
                let kind = v.get("Type").and_then(plain_scalar).unwrap_or_default();
                Some((id, kind, v))
            })
            .collect()
    }

    /// Logical ids of the resources of one type.
    pub fn resource_ids(&self, kind: &str) -> Vec<String> {
        self.resources()
            .into_iter()
            .filter(|(_, k, _)| k == kind)
            .map(|(id, _, _)| id)
            .collect()
    }

    /// Builds a [`Resolver`] from parameter defaults and `options`.
    pub fn resolver(&self, options: &ResolveOptions) -> Result<Resolver> {
        let defs = self.parameters()?;
        let mut params = BTreeMap::new();
        for (name, def) in &defs {
            if let Some(d) = &def.default {
                params.insert(name.clone(), d.clone());
            }
        }
        for (name, value) in &options.parameter_overrides {
            let Some(def) = defs.get(name) else {
                let known: Vec<&str> = defs.keys().map(String::as_str).collect();
                return Err(Error::config(format!(
                    "--parameter-overrides: the template has no parameter {name} (it has: {})",
                    known.join(", ")
                )));
            };
            check_parameter(name, def, value)?;
            params.insert(name.clone(), value.clone());
        }
        let mut resource_types = BTreeMap::new();
        let mut table_names = BTreeMap::new();
        for (id, kind, _) in self.resources() {
            if kind == "AWS::DynamoDB::Table" {
                table_names.insert(
                    id.clone(),
                    options.table_name.clone().unwrap_or_else(|| id.clone()),
                );
            }
            resource_types.insert(id, kind);
        }
        Ok(Resolver {
            params,
            resource_types,
            table_names,
            jwt_secret: options.jwt_secret.clone(),
            region: options.region.clone().unwrap_or_else(|| "us-east-1".into()),
            conditions: self
                .root
                .get("Conditions")
                .and_then(Value::as_mapping)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((plain_scalar(k)?, v.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Resolves everything the gateway needs.
    pub fn resolve(&self, options: &ResolveOptions) -> Result<AppConfig> {
        let resolver = self.resolver(options)?;
        let globals_fn = self
            .root
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .cloned();
        let globals_api = self.root.get("Globals").and_then(|g| g.get("Api")).cloned();

        for key in options.env_overrides.keys() {
            if key != "Parameters" && !self.resource_ids("AWS::Serverless::Function").contains(key)
            {
                return Err(Error::config(format!(
                    "--env-vars: {key} is neither \"Parameters\" nor a function of the template"
                )));
            }
        }

        let mut functions = Vec::new();
        let mut apis = Vec::new();
        let mut tables = Vec::new();
        for (id, kind, res) in self.resources() {
            match kind.as_str() {
                "AWS::Serverless::Function" => {
                    let props = merged(globals_fn.as_ref(), res.get("Properties"));
                    functions.push(function_config(&id, res, &props, &resolver, options)?);
                }
                "AWS::Serverless::Api" => {
                    let props = merged(globals_api.as_ref(), res.get("Properties"));
                    apis.push(api_config(&id, &props, &resolver)?);
                }
                "AWS::DynamoDB::Table" => {
                    let def = table_def(&id, res, &resolver)?;
                    let name = resolver
                        .table_names
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| id.clone());
                    tables.push((name, def));
                }
                _ => {}
            }
        }
        let uses_implicit = functions
            .iter()
            .flat_map(|f| &f.events)
            .any(|e| e.api == IMPLICIT_API);
        if uses_implicit {
            let props = merged(globals_api.as_ref(), None);
            let mut api = api_config(IMPLICIT_API, &props, &resolver)?;
            if api.stage.is_empty() {
                api.stage = "Prod".into();
            }
            apis.push(api);
        }
        for f in &functions {
            for e in &f.events {
                if !apis.iter().any(|a| a.logical_id == e.api) {
                    return Err(Error::config(format!(
                        "function {}: event {} {} names RestApiId {}, which is not an AWS::Serverless::Api",
                        f.logical_id, e.method, e.path, e.api
                    )));
                }
            }
        }
        for api in &apis {
            for (name, auth) in &api.authorizers {
                if !functions.iter().any(|f| f.logical_id == auth.function) {
                    return Err(Error::config(format!(
                        "authorizer {name} of {}: function {} is not in the template",
                        api.logical_id, auth.function
                    )));
                }
            }
            if let Some(d) = &api.default_authorizer
                && !api.authorizers.contains_key(d)
            {
                return Err(Error::config(format!(
                    "{}: DefaultAuthorizer {d} is not one of its Auth.Authorizers",
                    api.logical_id
                )));
            }
        }
        Ok(AppConfig {
            functions,
            apis,
            tables,
            region: resolver.region.clone(),
        })
    }

    /// The definition of a DynamoDB table: `logical_id`, or the only table of the template.
    pub fn table_def(&self, logical_id: Option<&str>) -> Result<TableDef> {
        let resolver = self.resolver(&ResolveOptions::default())?;
        let tables: Vec<_> = self
            .resources()
            .into_iter()
            .filter(|(_, k, _)| k == "AWS::DynamoDB::Table")
            .collect();
        let found = match logical_id {
            Some(want) => tables.iter().find(|(id, _, _)| id == want),
            None if tables.len() == 1 => tables.first(),
            None => {
                return Err(Error::config(format!(
                    "template {} has {} DynamoDB tables; name the one to use",
                    self.path.display(),
                    tables.len()
                )));
            }
        };
        let Some((id, _, res)) = found else {
            return Err(Error::config(format!(
                "template {} has no AWS::DynamoDB::Table {}",
                self.path.display(),
                logical_id.unwrap_or_default()
            )));
        };
        table_def(id, res, &resolver)
    }
}

fn check_parameter(name: &str, def: &ParameterDef, value: &str) -> Result<()> {
    if !def.allowed_values.is_empty() && !def.allowed_values.iter().any(|a| a == value) {
        return Err(Error::config(format!(
            "parameter {name}={value} is not one of its AllowedValues: {}",
            def.allowed_values.join(", ")
        )));
    }
    if def.kind == "Number" {
        let n: f64 = value
            .parse()
            .map_err(|_| Error::config(format!("parameter {name}={value} is not a Number")))?;
        if def.min_value.is_some_and(|m| n < m) || def.max_value.is_some_and(|m| n > m) {
            return Err(Error::config(format!(
                "parameter {name}={value} is outside its MinValue..MaxValue range"
            )));
        }
    }
    Ok(())
}

/// Turns CloudFormation values into strings, the way CloudFormation would at deploy time,
/// with local stand-ins for what only AWS knows (secrets, ARNs, account id).
#[derive(Debug, Clone)]
pub struct Resolver {
    params: BTreeMap<String, String>,
    resource_types: BTreeMap<String, String>,
    table_names: BTreeMap<String, String>,
    jwt_secret: String,
    region: String,
    conditions: BTreeMap<String, Value>,
}

/// How deep conditions may refer to conditions (guards against cycles).
const MAX_CONDITION_DEPTH: usize = 32;

impl Resolver {
    /// The value of a parameter (default or override).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// Resolves a scalar or intrinsic to a string; the error says what could not be resolved.
    pub fn resolve(&self, v: &Value) -> std::result::Result<String, String> {
        if let Some((func, arg)) = intrinsic(v) {
            return match func.as_str() {
                "Ref" => {
                    let name = plain_scalar(arg).ok_or("!Ref needs a name")?;
                    self.reference(&name)
                }
                "Fn::Sub" => self.sub(arg),
                "Fn::GetAtt" => {
                    let (res, attr) =
                        getatt_parts(arg).ok_or("!GetAtt needs Resource.Attribute")?;
                    self.get_att(&res, &attr)
                }
                "Fn::Join" => {
                    let parts = arg
                        .as_sequence()
                        .filter(|s| s.len() == 2)
                        .ok_or("!Join needs [delimiter, [values]]")?;
                    let delim =
                        plain_scalar(&parts[0]).ok_or("!Join delimiter must be a string")?;
                    let items = parts[1]
                        .as_sequence()
                        .ok_or("!Join needs a list of values")?;
                    let items: std::result::Result<Vec<String>, String> =
                        items.iter().map(|i| self.resolve(i)).collect();
                    Ok(items?.join(&delim))
                }
                "Fn::If" => {
                    let parts = arg
                        .as_sequence()
                        .filter(|s| s.len() == 3)
                        .ok_or("!If needs [condition, value if true, value if false]")?;
                    let name = plain_scalar(&parts[0]).ok_or("!If needs a condition name")?;
                    let chosen = if self.condition(&name, 0)? {
                        &parts[1]
                    } else {
                        &parts[2]
                    };
                    self.resolve(chosen)
                }
                other => Err(format!("{other} is not supported locally")),
            };
        }
        match v {
            Value::String(s) if s.contains("{{resolve:secretsmanager:") => {
                Ok(self.jwt_secret.clone())
            }
            Value::String(s) if s.contains("{{resolve:") => {
                Err(format!("dynamic reference {s} cannot be resolved locally"))
            }
            Value::Null => Err("the value is empty (null)".into()),
            other => {
                plain_scalar(other).ok_or_else(|| "a list or mapping is not a string value".into())
            }
        }
    }

    /// Evaluates the template condition `name` (`Conditions` section).
    pub fn condition(&self, name: &str, depth: usize) -> std::result::Result<bool, String> {
        let def = self
            .conditions
            .get(name)
            .ok_or_else(|| format!("no condition {name}"))?;
        self.eval_condition(def, depth + 1)
    }

    fn eval_condition(&self, v: &Value, depth: usize) -> std::result::Result<bool, String> {
        if depth > MAX_CONDITION_DEPTH {
            return Err("conditions refer to each other in a loop".into());
        }
        let (func, arg) = intrinsic(v)
            .or_else(|| {
                // `{Condition: Name}` inside Fn::And / Fn::Or / Fn::Not.
                let m = v.as_mapping().filter(|m| m.len() == 1)?;
                let (k, arg) = m.iter().next()?;
                (plain_scalar(k)? == "Condition").then(|| ("Condition".to_string(), arg))
            })
            .ok_or("a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition")?;
        let list = || {
            arg.as_sequence()
                .ok_or_else(|| format!("{func} needs a list"))
        };
        match func.as_str() {
            "Fn::Equals" => {
                let l = list()?;
                if l.len() != 2 {
                    return Err("Fn::Equals needs two values".into());
                }
                Ok(self.resolve(&l[0])? == self.resolve(&l[1])?)
            }
            "Fn::Not" => {
                let l = list()?;
                let first = l.first().ok_or("Fn::Not needs a condition")?;
                Ok(!self.eval_condition(first, depth + 1)?)
            }
            "Fn::And" => {
                for c in list()? {
                    if !self.eval_condition(c, depth + 1)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            "Fn::Or" => {
                for c in list()? {
                    if self.eval_condition(c, depth + 1)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            "Condition" | "Fn::Condition" => {
                let name = plain_scalar(arg).ok_or("Condition needs a name")?;
                self.condition(&name, depth)
            }
            other => Err(format!("{other} is not a condition function")),
        }
    }

    fn reference(&self, name: &str) -> std::result::Result<String, String> {
        if let Some(v) = self.params.get(name) {
            return Ok(v.clone());
        }
        if let Some(t) = self.table_names.get(name) {
            return Ok(t.clone());
        }
        match name {
            "AWS::Region" => return Ok(self.region.clone()),
            "AWS::AccountId" => return Ok(ACCOUNT_ID.into()),
            "AWS::Partition" => return Ok("aws".into()),
            "AWS::URLSuffix" => return Ok("amazonaws.com".into()),
            "AWS::StackName" => return Ok("local".into()),
            "AWS::NoValue" => return Err("AWS::NoValue has no value".into()),
            _ => {}
        }
        match self.resource_types.get(name).map(String::as_str) {
            // A function's Ref is its name; locally the name is the logical id.
            Some("AWS::Serverless::Function") => Ok(name.to_string()),
            Some(kind) => Err(format!("!Ref {name} (a {kind}) has no local value")),
            None => Err(format!(
                "!Ref {name}: no parameter or resource has that name (a parameter without Default needs --parameter-overrides {name}=...)"
            )),
        }
    }

    fn get_att(&self, res: &str, attr: &str) -> std::result::Result<String, String> {
        let region = &self.region;
        match (self.resource_types.get(res).map(String::as_str), attr) {
            (Some("AWS::DynamoDB::Table"), "Arn") => {
                let name = self.table_names.get(res).map(String::as_str).unwrap_or(res);
                Ok(format!(
                    "arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"
                ))
            }
            (Some("AWS::Serverless::Function"), "Arn") => Ok(format!(
                "arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{res}"
            )),
            (Some(kind), _) => Err(format!(
                "!GetAtt {res}.{attr} (a {kind}) has no local value"
            )),
            (None, _) => Err(format!("!GetAtt {res}.{attr}: no resource {res}")),
        }
    }

    fn sub(&self, arg: &Value) -> std::result::Result<String, String> {
        let (text, vars) = match arg {
            Value::Sequence(s) if s.len() == 2 => {
                let text = plain_scalar(&s[0]).ok_or("!Sub [text, vars]: text must be a string")?;
                let mut vars = HashMap::new();
                if let Some(m) = s[1].as_mapping() {
                    for (k, v) in m {
                        vars.insert(key_string(k).map_err(|e| e.to_string())?, self.resolve(v)?);
                    }
                }
                (text, vars)
            }
            other => (
                plain_scalar(other).ok_or("!Sub needs a string")?,
                HashMap::new(),
            ),
        };
        // The secret reference contains `${JwtSecret}`, which has no local value of its own:
        // the whole string stands for the secret.
        if text.contains("{{resolve:secretsmanager:") {
            return Ok(self.jwt_secret.clone());
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("!Sub {text:?}: unclosed ${{"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                // `${!Literal}` is written out as `${Literal}`.
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else if let Some((res, attr)) = name.split_once('.') {
                out.push_str(&self.get_att(res, attr)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `(function name, argument)` when `v` is an intrinsic in short (`!Ref`) or long
/// (`{"Ref": ...}`, `{"Fn::Sub": ...}`) form.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let func = if tag == "Ref" {
                "Ref".to_string()
            } else {
                format!("Fn::{tag}")
            };
            Some((func, &t.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = plain_scalar(k)?;
            (k == "Ref" || k.starts_with("Fn::")).then_some((k, v))
        }
        _ => None,
    }
}

fn getatt_parts(arg: &Value) -> Option<(String, String)> {
    match arg {
        Value::Sequence(s) if s.len() == 2 => Some((plain_scalar(&s[0])?, plain_scalar(&s[1])?)),
        other => {
            let s = plain_scalar(other)?;
            let (r, a) = s.split_once('.')?;
            Some((r.to_string(), a.to_string()))
        }
    }
}

/// A scalar as a string, but `None` for tagged values: `Value::as_str` silently drops tags,
/// which would turn `!Ref AppTable` into the literal "AppTable".
fn plain_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn key_string(k: &Value) -> Result<String> {
    plain_scalar(k).ok_or_else(|| Error::config(format!("template key {k:?} is not a string")))
}

/// SAM's Globals merge: mappings merge key by key (recursively, so `Environment.Variables`
/// merge per variable); anything else in the resource replaces the global.
fn merged(global: Option<&Value>, local: Option<&Value>) -> Value {
    match (global, local) {
        (Some(Value::Mapping(g)), Some(Value::Mapping(l))) => {
            let mut out = g.clone();
            for (k, v) in l {
                let new = merged(g.get(k), Some(v));
                out.insert(k.clone(), new);
            }
            Value::Mapping(out)
        }
        (_, Some(l)) => l.clone(),
        (Some(g), None) => g.clone(),
        (None, None) => Value::Mapping(Mapping::new()),
    }
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

/// `CreateUserFunction` -> `create_user`: the naming rule of this project, used when a
/// function has no `Metadata.BuildProperties.Binary`.
fn binary_from_logical_id(id: &str) -> String {
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

fn function_config(
    id: &str,
    res: &Value,
    props: &Value,
    r: &Resolver,
    options: &ResolveOptions,
) -> Result<FunctionConfig> {
    let ctx = |what: &str, e: String| Error::config(format!("function {id}: {what}: {e}"));
    let opt = |what: &str, v: Option<&Value>| -> Result<Option<String>> {
        v.map(|v| r.resolve(v).map_err(|e| ctx(what, e)))
            .transpose()
    };
    let binary = match res
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
    {
        Some(b) => r
            .resolve(b)
            .map_err(|e| ctx("Metadata.BuildProperties.Binary", e))?,
        None => binary_from_logical_id(id),
    };
    let timeout = match opt("Timeout", props.get("Timeout"))? {
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|t| *t > 0.0)
            .ok_or_else(|| ctx("Timeout", format!("{t} is not a number of seconds")))?,
        None => 3.0,
    };
    let memory_mb = match opt("MemorySize", props.get("MemorySize"))? {
        Some(m) => m
            .parse()
            .map_err(|_| ctx("MemorySize", format!("{m} is not a number of MB")))?,
        None => 128,
    };
    let reserved_concurrency = opt(
        "ReservedConcurrentExecutions",
        props.get("ReservedConcurrentExecutions"),
    )?
    .map(|v| {
        v.parse().map_err(|_| {
            ctx(
                "ReservedConcurrentExecutions",
                format!("{v} is not a number"),
            )
        })
    })
    .transpose()?;
    let log_level = opt(
        "LoggingConfig.ApplicationLogLevel",
        props
            .get("LoggingConfig")
            .and_then(|l| l.get("ApplicationLogLevel")),
    )?;

    let mut env = BTreeMap::new();
    if let Some(vars) = props
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
    {
        for (k, v) in vars {
            let name = key_string(k)?;
            let value = r
                .resolve(v)
                .map_err(|e| ctx(&format!("environment variable {name}"), e))?;
            env.insert(name, value);
        }
    }
    for scope in ["Parameters", id] {
        if let Some(over) = options.env_overrides.get(scope) {
            env.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    let mut events = Vec::new();
    if let Some(evs) = props.get("Events").and_then(Value::as_mapping) {
        for (name, ev) in evs {
            let name = key_string(name)?;
            if ev.get("Type").and_then(plain_scalar).as_deref() != Some("Api") {
                continue;
            }
            let ep = ev.get("Properties").cloned().unwrap_or(Value::Null);
            let path = opt(&format!("event {name} Path"), ep.get("Path"))?
                .ok_or_else(|| ctx(&format!("event {name}"), "Path is missing".into()))?;
            let method = opt(&format!("event {name} Method"), ep.get("Method"))?
                .ok_or_else(|| ctx(&format!("event {name}"), "Method is missing".into()))?
                .to_ascii_uppercase();
            let api = match ep.get("RestApiId") {
                None => IMPLICIT_API.to_string(),
                Some(v) => match intrinsic(v) {
                    Some((f, arg)) if f == "Ref" => plain_scalar(arg).unwrap_or_default(),
                    _ => plain_scalar(v).unwrap_or_default(),
                },
            };
            let auth = match ep.get("Auth").and_then(|a| a.get("Authorizer")) {
                None => AuthChoice::Default,
                Some(a) => match r
                    .resolve(a)
                    .map_err(|e| ctx(&format!("event {name} Auth.Authorizer"), e))?
                {
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
    }
    Ok(FunctionConfig {
        logical_id: id.to_string(),
        binary,
        timeout: Duration::from_secs_f64(timeout),
        memory_mb,
        env,
        log_level,
        reserved_concurrency,
        events,
    })
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

fn api_config(id: &str, props: &Value, r: &Resolver) -> Result<ApiConfig> {
    let ctx = |what: &str, e: String| Error::config(format!("{id}: {what}: {e}"));
    let s = |what: &str, v: &Value| r.resolve(v).map_err(|e| ctx(what, e));
    let stage = match props.get("StageName") {
        Some(v) => s("StageName", v)?,
        None => String::new(),
    };
    let cors = match props.get("Cors") {
        None | Some(Value::Null) => None,
        Some(c) if c.as_mapping().is_none() || intrinsic(c).is_some() => Some(CorsConfig {
            allow_origin: unquote(&s("Cors", c)?),
            allow_headers: None,
            allow_methods: None,
            max_age: None,
            allow_credentials: false,
        }),
        Some(c) => {
            let field = |k: &str| -> Result<Option<String>> {
                c.get(k)
                    .map(|v| s(&format!("Cors.{k}"), v).map(|v| unquote(&v)))
                    .transpose()
            };
            Some(CorsConfig {
                allow_origin: field("AllowOrigin")?
                    .ok_or_else(|| ctx("Cors", "AllowOrigin is missing".into()))?,
                allow_headers: field("AllowHeaders")?,
                allow_methods: field("AllowMethods")?,
                max_age: field("MaxAge")?,
                allow_credentials: field("AllowCredentials")?.is_some_and(|v| v == "true"),
            })
        }
    };
    let auth = props.get("Auth");
    let default_authorizer = auth
        .and_then(|a| a.get("DefaultAuthorizer"))
        .map(|v| s("Auth.DefaultAuthorizer", v))
        .transpose()?
        .filter(|d| d != "NONE");
    let authorize_preflight = match auth.and_then(|a| a.get("AddDefaultAuthorizerToCorsPreflight"))
    {
        Some(v) => s("Auth.AddDefaultAuthorizerToCorsPreflight", v)? != "false",
        None => true,
    };
    let mut authorizers = BTreeMap::new();
    if let Some(map) = auth
        .and_then(|a| a.get("Authorizers"))
        .and_then(Value::as_mapping)
    {
        for (name, a) in map {
            let name = key_string(name)?;
            let what = format!("authorizer {name}");
            let arn = a
                .get("FunctionArn")
                .ok_or_else(|| ctx(&what, "FunctionArn is missing".into()))?;
            let function = match intrinsic(arn) {
                Some((f, arg)) if f == "Fn::GetAtt" => getatt_parts(arg).map(|(res, _)| res),
                Some((f, arg)) if f == "Ref" => plain_scalar(arg),
                _ => None,
            }
            .ok_or_else(|| ctx(&what, "FunctionArn must be !GetAtt <Function>.Arn".into()))?;
            let payload = match a
                .get("FunctionPayloadType")
                .map(|v| s(&what, v))
                .transpose()?
                .as_deref()
            {
                None | Some("TOKEN") => AuthorizerPayload::Token,
                Some("REQUEST") => AuthorizerPayload::Request,
                Some(other) => {
                    return Err(ctx(
                        &what,
                        format!("FunctionPayloadType {other} is not TOKEN or REQUEST"),
                    ));
                }
            };
            let identity = a.get("Identity");
            let identity_headers = match payload {
                AuthorizerPayload::Token => vec![
                    identity
                        .and_then(|i| i.get("Header"))
                        .map(|v| s(&what, v))
                        .transpose()?
                        .unwrap_or_else(|| "Authorization".into()),
                ],
                AuthorizerPayload::Request => match identity.and_then(|i| i.get("Headers")) {
                    None => Vec::new(),
                    Some(list) => list
                        .as_sequence()
                        .ok_or_else(|| ctx(&what, "Identity.Headers is not a list".into()))?
                        .iter()
                        .map(|v| s(&what, v))
                        .collect::<Result<_>>()?,
                },
            };
            let ttl = match identity.and_then(|i| i.get("ReauthorizeEvery")) {
                Some(v) => s(&what, v)?.parse::<u64>().map_err(|_| {
                    ctx(&what, "ReauthorizeEvery is not a number of seconds".into())
                })?,
                None => 300,
            };
            authorizers.insert(
                name,
                AuthorizerConfig {
                    function,
                    payload,
                    identity_headers,
                    ttl: Duration::from_secs(ttl),
                },
            );
        }
    }
    let mut throttle = None;
    for ms in props
        .get("MethodSettings")
        .and_then(Value::as_sequence)
        .map(|s| s.as_slice())
        .unwrap_or_default()
    {
        let field = |k: &str| {
            ms.get(k)
                .map(|v| s(&format!("MethodSettings.{k}"), v))
                .transpose()
        };
        // Only the stage-wide setting is emulated; per-method overrides are rare.
        if field("ResourcePath")?.as_deref() != Some("/*")
            || field("HttpMethod")?.as_deref() != Some("*")
        {
            continue;
        }
        let number = |k: &str| -> Result<Option<f64>> {
            field(k)?
                .map(|v| {
                    v.parse::<f64>().map_err(|_| {
                        ctx(
                            &format!("MethodSettings.{k}"),
                            format!("{v} is not a number"),
                        )
                    })
                })
                .transpose()
        };
        if let (Some(rate), Some(burst)) = (
            number("ThrottlingRateLimit")?,
            number("ThrottlingBurstLimit")?,
        ) {
            throttle = Some(ThrottleConfig { rate, burst });
        }
    }
    let mut gateway_responses = BTreeMap::new();
    if let Some(map) = props.get("GatewayResponses").and_then(Value::as_mapping) {
        for (kind, g) in map {
            let kind = key_string(kind)?;
            let what = format!("GatewayResponses.{kind}");
            let status = g
                .get("StatusCode")
                .map(|v| s(&what, v))
                .transpose()?
                .map(|v| {
                    v.parse::<u16>()
                        .map_err(|_| ctx(&what, format!("StatusCode {v} is not a status")))
                })
                .transpose()?;
            let mut headers = Vec::new();
            if let Some(h) = g
                .get("ResponseParameters")
                .and_then(|p| p.get("Headers"))
                .and_then(Value::as_mapping)
            {
                for (name, v) in h {
                    headers.push((key_string(name)?, unquote(&s(&what, v)?)));
                }
            }
            let template = g
                .get("ResponseTemplates")
                .and_then(|t| t.get("application/json"))
                .map(|v| s(&what, v))
                .transpose()?;
            gateway_responses.insert(
                kind,
                GatewayResponseConfig {
                    status,
                    headers,
                    template,
                },
            );
        }
    }
    Ok(ApiConfig {
        logical_id: id.to_string(),
        stage,
        cors,
        default_authorizer,
        authorize_preflight,
        authorizers,
        gateway_responses,
        throttle,
    })
}

fn table_def(id: &str, res: &Value, r: &Resolver) -> Result<TableDef> {
    let ctx = |e: String| Error::config(format!("table {id}: {e}"));
    let props = res.get("Properties").cloned().unwrap_or(Value::Null);
    let s = |v: &Value| r.resolve(v).map_err(ctx);
    let pairs = |v: Option<&Value>, a: &str, b: &str| -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for item in v
            .and_then(Value::as_sequence)
            .map(|s| s.as_slice())
            .unwrap_or_default()
        {
            let x = item.get(a).ok_or_else(|| ctx(format!("{a} missing")))?;
            let y = item.get(b).ok_or_else(|| ctx(format!("{b} missing")))?;
            out.push((s(x)?, s(y)?));
        }
        Ok(out)
    };
    let throughput = |v: Option<&Value>| -> Result<Option<(i64, i64)>> {
        let Some(t) = v else { return Ok(None) };
        let num = |k: &str| -> Result<i64> {
            let v = t
                .get(k)
                .ok_or_else(|| ctx(format!("ProvisionedThroughput.{k} missing")))?;
            s(v)?
                .parse()
                .map_err(|_| ctx(format!("ProvisionedThroughput.{k} is not a number")))
        };
        Ok(Some((
            num("ReadCapacityUnits")?,
            num("WriteCapacityUnits")?,
        )))
    };
    let indexes = |v: Option<&Value>| -> Result<Vec<IndexDef>> {
        let mut out = Vec::new();
        for ix in v
            .and_then(Value::as_sequence)
            .map(|s| s.as_slice())
            .unwrap_or_default()
        {
            let name = s(ix
                .get("IndexName")
                .ok_or_else(|| ctx("IndexName missing".into()))?)?;
            let projection = ix.get("Projection");
            out.push(IndexDef {
                name,
                key_schema: pairs(ix.get("KeySchema"), "AttributeName", "KeyType")?,
                projection_type: projection
                    .and_then(|p| p.get("ProjectionType"))
                    .map(s)
                    .transpose()?
                    .unwrap_or_else(|| "ALL".into()),
                non_key_attributes: projection
                    .and_then(|p| p.get("NonKeyAttributes"))
                    .and_then(Value::as_sequence)
                    .map(|seq| seq.iter().map(s).collect::<Result<Vec<_>>>())
                    .transpose()?
                    .unwrap_or_default(),
                throughput: throughput(ix.get("ProvisionedThroughput"))?,
            });
        }
        Ok(out)
    };
    let key_schema = pairs(props.get("KeySchema"), "AttributeName", "KeyType")?;
    if key_schema.is_empty() {
        return Err(ctx("KeySchema is missing".into()));
    }
    let ttl = props.get("TimeToLiveSpecification");
    let ttl_enabled = ttl
        .and_then(|t| t.get("Enabled"))
        .map(s)
        .transpose()?
        .is_some_and(|e| e == "true");
    Ok(TableDef {
        logical_id: id.to_string(),
        attributes: pairs(
            props.get("AttributeDefinitions"),
            "AttributeName",
            "AttributeType",
        )?,
        key_schema,
        global_indexes: indexes(props.get("GlobalSecondaryIndexes"))?,
        local_indexes: indexes(props.get("LocalSecondaryIndexes"))?,
        billing_mode: props
            .get("BillingMode")
            .map(s)
            .transpose()?
            .unwrap_or_else(|| "PROVISIONED".into()),
        throughput: throughput(props.get("ProvisionedThroughput"))?,
        ttl_attribute: if ttl_enabled {
            ttl.and_then(|t| t.get("AttributeName"))
                .map(s)
                .transpose()?
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The project's real template, so these tests fail when it changes shape.
    fn project_template() -> Template {
        Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
            .expect("template.yaml parses")
    }

    fn options() -> ResolveOptions {
        ResolveOptions {
            jwt_secret: "s3cret".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_project_template_resolves_every_function_with_its_binary_and_globals() {
        let app = project_template().resolve(&options()).unwrap();
        let create = app
            .functions
            .iter()
            .find(|f| f.logical_id == "CreateUserFunction")
            .unwrap();
        assert_eq!(create.binary, "create_user");
        assert_eq!(
            create.memory_mb, 1769,
            "the function's MemorySize wins over Globals"
        );
        assert_eq!(
            create.timeout,
            Duration::from_secs(10),
            "Timeout comes from Globals"
        );
        assert_eq!(
            create.env["TABLE_NAME"], "AppTable",
            "!Ref of the table is its local name"
        );
        assert_eq!(create.env["CORS_ALLOW_ORIGIN"], "*");
        assert_eq!(
            create.env["BCRYPT_COST"], "12",
            "a Number parameter becomes a string"
        );
        assert_eq!(create.log_level.as_deref(), Some("INFO"));
        assert_eq!(
            create.events,
            vec![ApiEvent {
                api: "Api".into(),
                path: "/users".into(),
                method: "POST".into(),
                auth: AuthChoice::None
            }]
        );
        let login = app
            .functions
            .iter()
            .find(|f| f.logical_id == "LoginFunction")
            .unwrap();
        assert_eq!(
            login.env["JWT_SECRET"], "s3cret",
            "the secrets manager reference is the gateway's secret"
        );
        assert_eq!(login.env["ACCESS_TOKEN_EXPIRE_MINUTES"], "30");
        let list = app
            .functions
            .iter()
            .find(|f| f.logical_id == "ListPostsFunction")
            .unwrap();
        assert_eq!(list.events[0].auth, AuthChoice::Default);
        assert_eq!(list.memory_mb, 128);
        assert_eq!(
            app.functions.len(),
            15,
            "thirteen routes, the docs and the authorizer"
        );
    }

    #[test]
    fn the_project_api_has_its_stage_cors_authorizer_and_gateway_responses() {
        let app = project_template().resolve(&options()).unwrap();
        assert_eq!(app.apis.len(), 1);
        let api = &app.apis[0];
        assert_eq!(api.stage, "Prod");
        let cors = api.cors.as_ref().unwrap();
        assert_eq!(cors.allow_origin, "*", "single quotes are stripped");
        assert_eq!(
            cors.allow_headers.as_deref(),
            Some("Authorization,Content-Type")
        );
        assert_eq!(cors.max_age.as_deref(), Some("600"));
        assert!(!api.authorize_preflight);
        assert_eq!(api.default_authorizer.as_deref(), Some("JwtAuthorizer"));
        let auth = &api.authorizers["JwtAuthorizer"];
        assert_eq!(auth.function, "AuthorizerFunction");
        assert_eq!(auth.identity_headers, ["Authorization"]);
        assert_eq!(auth.ttl, Duration::ZERO);
        assert_eq!(
            auth.payload,
            AuthorizerPayload::Request,
            "it must see every Authorization header"
        );
        let unauth = &api.gateway_responses["UNAUTHORIZED"];
        assert_eq!(unauth.status, Some(401));
        assert!(
            unauth
                .headers
                .contains(&("WWW-Authenticate".into(), "Bearer".into()))
        );
        assert!(
            unauth
                .headers
                .contains(&("Access-Control-Allow-Origin".into(), "*".into()))
        );
        assert_eq!(
            unauth.template.as_deref(),
            Some(r#"{"detail": "Not authenticated"}"#)
        );
        assert_eq!(api.gateway_responses["DEFAULT_4XX"].status, None);
        assert_eq!(
            api.throttle,
            Some(ThrottleConfig {
                rate: 100.0,
                burst: 200.0
            })
        );
    }

    #[test]
    fn the_project_table_definition_has_keys_and_the_gsi() {
        let t = project_template().table_def(None).unwrap();
        assert_eq!(t.logical_id, "AppTable");
        assert_eq!(
            t.key_schema,
            vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
        );
        assert_eq!(t.attributes.len(), 4);
        assert!(t.attributes.contains(&("gsi1sk".into(), "N".into())));
        assert_eq!(t.global_indexes.len(), 1);
        assert_eq!(t.global_indexes[0].name, "gsi1");
        assert_eq!(t.global_indexes[0].projection_type, "ALL");
        assert_eq!(t.billing_mode, "PAY_PER_REQUEST");
    }

    #[test]
    fn parameter_overrides_table_name_and_env_vars_file_change_the_environment() {
        let mut o = options();
        o.parameter_overrides
            .insert("CorsAllowOrigin".into(), "https://example.com".into());
        o.table_name = Some("local-table".into());
        o.env_overrides.insert(
            "Parameters".into(),
            BTreeMap::from([("EXTRA".into(), "1".into())]),
        );
        o.env_overrides.insert(
            "LoginFunction".into(),
            BTreeMap::from([("BCRYPT_COST".into(), "4".into())]),
        );
        let app = project_template().resolve(&o).unwrap();
        let login = app
            .functions
            .iter()
            .find(|f| f.logical_id == "LoginFunction")
            .unwrap();
        assert_eq!(login.env["CORS_ALLOW_ORIGIN"], "https://example.com");
        assert_eq!(login.env["TABLE_NAME"], "local-table");
        assert_eq!(login.env["BCRYPT_COST"], "4");
        assert_eq!(login.env["EXTRA"], "1");
        let root = app
            .functions
            .iter()
            .find(|f| f.logical_id == "RootFunction")
            .unwrap();
        assert_eq!(root.env["EXTRA"], "1");
        assert!(!root.env.contains_key("BCRYPT_COST"));
        assert_eq!(
            app.apis[0].cors.as_ref().unwrap().allow_origin,
            "https://example.com"
        );
        assert_eq!(app.tables[0].0, "local-table");
    }

    #[test]
    fn bad_overrides_are_clear_errors() {
        let t = project_template();
        let mut o = options();
        o.parameter_overrides.insert("Nope".into(), "1".into());
        assert!(
            t.resolve(&o)
                .unwrap_err()
                .to_string()
                .contains("no parameter Nope")
        );
        let mut o = options();
        o.parameter_overrides
            .insert("LogLevel".into(), "LOUD".into());
        assert!(
            t.resolve(&o)
                .unwrap_err()
                .to_string()
                .contains("AllowedValues")
        );
        let mut o = options();
        o.parameter_overrides
            .insert("BcryptCost".into(), "99".into());
        assert!(t.resolve(&o).unwrap_err().to_string().contains("range"));
        let mut o = options();
        o.env_overrides
            .insert("NoSuchFunction".into(), BTreeMap::new());
        assert!(
            t.resolve(&o)
                .unwrap_err()
                .to_string()
                .contains("NoSuchFunction")
        );
    }

    const SMALL: &str = r#"
Parameters:
  Stage: { Type: String }
Conditions:
  IsDev: !Equals [!Ref Stage, dev]
  NotDev: !Not [!Condition IsDev]
  Both: !And [{ Condition: IsDev }, !Equals [a, a]]
Globals:
  Function:
    Timeout: 5
    Environment:
      Variables:
        A: global
        B: global
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
  ThingFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          B: local
          SUB: !Sub "${Table}-${AWS::Region}-${!Literal}"
          SUB_VARS: !Sub ["${x}/${Stage}", { x: !Ref Table }]
          LONG: { "Fn::Sub": "t=${Table}" }
          ARN: !GetAtt Table.Arn
          JOINED: !Join ["-", [a, !Ref Table, 3]]
          NUM: 7
          IF_DEV: !If [IsDev, yes-dev, no-dev]
          IF_NOT: !If [NotDev, "1", "0"]
          IF_BOTH: { "Fn::If": [Both, on, off] }
      Events:
        Get:
          Type: Api
          Properties: { Path: /things/, Method: any }
"#;

    #[test]
    fn intrinsics_sub_getatt_join_and_globals_merge_per_variable() {
        let t = Template::parse("x/template.yaml", SMALL).unwrap();
        let mut o = options();
        o.parameter_overrides.insert("Stage".into(), "dev".into());
        let app = t.resolve(&o).unwrap();
        let f = &app.functions[0];
        assert_eq!(f.binary, "thing", "binary name derived from the logical id");
        assert_eq!(f.timeout, Duration::from_secs(5));
        assert_eq!(f.env["A"], "global");
        assert_eq!(f.env["B"], "local");
        assert_eq!(f.env["SUB"], "Table-us-east-1-${Literal}");
        assert_eq!(f.env["SUB_VARS"], "Table/dev");
        assert_eq!(f.env["LONG"], "t=Table");
        assert_eq!(
            f.env["ARN"],
            "arn:aws:dynamodb:us-east-1:123456789012:table/Table"
        );
        assert_eq!(f.env["JOINED"], "a-Table-3");
        assert_eq!(f.env["NUM"], "7");
        assert_eq!(
            (f.env["IF_DEV"].as_str(), f.env["IF_NOT"].as_str()),
            ("yes-dev", "0")
        );
        assert_eq!(f.env["IF_BOTH"], "on");
        assert_eq!(
            f.events[0].path, "/things",
            "trailing slash of the template path dropped"
        );
        assert_eq!(f.events[0].method, "ANY");
        assert_eq!(f.events[0].api, IMPLICIT_API);
        assert_eq!(app.apis[0].logical_id, IMPLICIT_API);
        assert_eq!(app.apis[0].stage, "Prod");
        assert_eq!(t.project_dir(), PathBuf::from("x"));
    }

    #[test]
    fn an_unresolvable_variable_names_the_function_and_the_variable() {
        let text = SMALL.replace("NUM: 7", "BAD: !Ref Secret");
        let t = Template::parse("template.yaml", &text).unwrap();
        let mut o = options();
        o.parameter_overrides.insert("Stage".into(), "dev".into());
        let err = t.resolve(&o).unwrap_err().to_string();
        assert!(
            err.contains("ThingFunction") && err.contains("BAD") && err.contains("Secret"),
            "{err}"
        );
        // A parameter without a default that nobody set.
        let err = t.resolve(&options()).unwrap_err().to_string();
        assert!(
            err.contains("Stage") && err.contains("--parameter-overrides"),
            "{err}"
        );
    }

    #[test]
    fn unquote_strips_one_pair_of_single_quotes() {
        assert_eq!(unquote("'*'"), "*");
        assert_eq!(unquote("'GET,POST'"), "GET,POST");
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(unquote("'"), "'");
    }

    #[test]
    fn binary_names_follow_the_project_naming_rule() {
        assert_eq!(binary_from_logical_id("CreateUserFunction"), "create_user");
        assert_eq!(binary_from_logical_id("Root"), "root");
        assert_eq!(binary_from_logical_id("Function"), "function");
    }
}
