//! The template resolved into plain values: what the rest of the gateway works with.

use std::collections::BTreeMap;
use std::time::Duration;

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
    /// `LoggingConfig.LogFormat`: `Text` (Lambda's default) or `JSON`, given to the function
    /// as `AWS_LAMBDA_LOG_FORMAT`.
    pub log_format: String,
    /// `LoggingConfig.ApplicationLogLevel`, given to the function as `AWS_LAMBDA_LOG_LEVEL`
    /// (Lambda applies it to JSON logs only).
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
    /// Logical id of the API (`RestApiId: !Ref Api`), or [`IMPLICIT_API`](super::IMPLICIT_API).
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
    /// Stage-wide throttling (`MethodSettings` entry for `/*` and `*`): the limits of each
    /// method that has none of its own.
    pub throttle: Option<ThrottleConfig>,
    /// Per-method throttling: (resource path, HTTP method or `*`, limits), from the other
    /// `MethodSettings` entries.
    pub method_throttles: Vec<(String, String, ThrottleConfig)>,
    /// `BinaryMediaTypes`, with `/` (SAM's `~1` decoded), lower-case; may hold wildcards.
    pub binary_media_types: Vec<String>,
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
