//! The template's sections as serde types: which keys exist and what shape each has.
//!
//! Leaves that CloudFormation lets be intrinsics (`!Ref`, `!Sub`, ...) are [`Expr`]s, left for
//! the [`Resolver`](super::Resolver). Properties the emulator does not use are ignored, as SAM
//! has many. Deserialising goes through `serde_path_to_error`, so a shape error names the
//! path of the value (`Resources.Api.Properties.Auth.Authorizers`).

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use yaml_serde::Value;

use super::error::TemplateError;

/// A value that may be a plain scalar or an intrinsic function; resolved later.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Expr(pub Value);

/// A mapping whose order matters (resources, events, variables): YAML's order is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<T> Ordered<T> {
    /// The entries in template order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The entry named `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// A mapping key: YAML allows numbers and booleans as keys, CloudFormation reads them as text.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OrderedVisitor<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Ordered::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((Key(k), v)) = map.next_entry::<Key, T>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(OrderedVisitor(PhantomData))
    }
}

/// Deserialises `value` into `T`; an error names `file` and the path below `prefix`.
pub fn typed<T: DeserializeOwned>(
    file: &Path,
    prefix: &str,
    value: Value,
) -> Result<T, TemplateError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix.is_empty(), inner.as_str()) {
            (true, _) => inner.clone(),
            (false, ".") => prefix.to_string(),
            (false, _) => format!("{prefix}.{inner}"),
        };
        TemplateError::Shape {
            file: file.to_path_buf(),
            path,
            message: e.into_inner().to_string(),
        }
    })
}

/// The top level of a template: only the sections the emulator reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateDoc {
    /// `Parameters`.
    #[serde(default)]
    pub parameters: Ordered<ParameterSection>,
    /// `Conditions`: evaluated on demand by the resolver.
    #[serde(default)]
    pub conditions: Ordered<Value>,
    /// `Globals`: merged into each resource's properties before they are typed.
    #[serde(default)]
    pub globals: GlobalsSection,
    /// `Resources`, in template order.
    #[serde(default)]
    pub resources: Ordered<ResourceSection>,
}

/// One entry of `Parameters`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterSection {
    /// `Type`.
    #[serde(rename = "Type")]
    pub kind: Option<Expr>,
    /// `Default`.
    pub default: Option<Expr>,
    /// `AllowedValues`.
    #[serde(default)]
    pub allowed_values: Vec<Expr>,
    /// `MinValue`.
    pub min_value: Option<Expr>,
    /// `MaxValue`.
    pub max_value: Option<Expr>,
}

/// `Globals`: kept untyped, merged key by key into resources as SAM does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalsSection {
    /// `Globals.Function`.
    pub function: Option<Value>,
    /// `Globals.Api`.
    pub api: Option<Value>,
}

/// One resource: its type, and its properties typed later according to that type.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceSection {
    /// `Type`, e.g. `AWS::Serverless::Function`.
    #[serde(rename = "Type", default)]
    pub kind: String,
    /// `Properties`.
    pub properties: Option<Value>,
    /// `Metadata`.
    pub metadata: Option<Value>,
}

/// `Properties` of an `AWS::Serverless::Function`, globals merged in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionProps {
    /// `Timeout`, seconds.
    pub timeout: Option<Expr>,
    /// `MemorySize`, MB.
    pub memory_size: Option<Expr>,
    /// `ReservedConcurrentExecutions`.
    pub reserved_concurrent_executions: Option<Expr>,
    /// `LoggingConfig`.
    pub logging_config: Option<LoggingConfigSection>,
    /// `Environment`.
    pub environment: Option<EnvironmentSection>,
    /// `Events`.
    #[serde(default)]
    pub events: Ordered<EventSection>,
}

/// `LoggingConfig` of a function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfigSection {
    /// `LogFormat`: `Text` (Lambda's default) or `JSON`.
    pub log_format: Option<Expr>,
    /// `ApplicationLogLevel`.
    pub application_log_level: Option<Expr>,
}

/// `Environment` of a function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentSection {
    /// `Variables`, in template order.
    #[serde(default)]
    pub variables: Ordered<Expr>,
}

/// `Metadata` of a function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionMetadata {
    /// `BuildProperties`.
    pub build_properties: Option<BuildPropertiesSection>,
}

/// `Metadata.BuildProperties` (cargo-lambda's build settings).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuildPropertiesSection {
    /// `Binary`: the executable's name.
    pub binary: Option<Expr>,
}

/// One entry of a function's `Events`; only `Api` events are read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSection {
    /// `Type`.
    #[serde(rename = "Type", default)]
    pub kind: String,
    /// `Properties`, untyped: other event types have other properties.
    pub properties: Option<Value>,
}

/// `Properties` of an `Api` event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiEventProps {
    /// `Path`.
    pub path: Option<Expr>,
    /// `Method`.
    pub method: Option<Expr>,
    /// `RestApiId` (absent: SAM's implicit API).
    pub rest_api_id: Option<Expr>,
    /// `Auth`.
    pub auth: Option<EventAuthSection>,
}

/// `Auth` of an `Api` event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventAuthSection {
    /// `Authorizer`: a name or `NONE`.
    pub authorizer: Option<Expr>,
}

/// `Properties` of an `AWS::Serverless::Api`, globals merged in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiProps {
    /// `StageName`.
    pub stage_name: Option<Expr>,
    /// `Cors`: a string (the origin) or a mapping, so typed where it is read.
    pub cors: Option<Value>,
    /// `Auth`.
    pub auth: Option<ApiAuthSection>,
    /// `MethodSettings`.
    #[serde(default)]
    pub method_settings: Vec<MethodSettingSection>,
    /// `GatewayResponses`, by response type.
    #[serde(default)]
    pub gateway_responses: Ordered<GatewayResponseSection>,
    /// `BinaryMediaTypes` (SAM writes `/` as `~1`: `image~1png`).
    #[serde(default)]
    pub binary_media_types: Vec<Expr>,
}

/// The mapping form of an API's `Cors`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CorsSection {
    /// `AllowOrigin`.
    pub allow_origin: Option<Expr>,
    /// `AllowHeaders`.
    pub allow_headers: Option<Expr>,
    /// `AllowMethods`.
    pub allow_methods: Option<Expr>,
    /// `MaxAge`.
    pub max_age: Option<Expr>,
    /// `AllowCredentials`.
    pub allow_credentials: Option<Expr>,
}

/// `Auth` of an API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiAuthSection {
    /// `DefaultAuthorizer`.
    pub default_authorizer: Option<Expr>,
    /// `AddDefaultAuthorizerToCorsPreflight`.
    pub add_default_authorizer_to_cors_preflight: Option<Expr>,
    /// `Authorizers`, by name.
    #[serde(default)]
    pub authorizers: Ordered<AuthorizerSection>,
}

/// One Lambda authorizer of an API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthorizerSection {
    /// `FunctionArn`: `!GetAtt Function.Arn`.
    pub function_arn: Option<Expr>,
    /// `FunctionPayloadType`.
    pub function_payload_type: Option<Expr>,
    /// `Identity`.
    pub identity: Option<IdentitySection>,
}

/// `Identity` of an authorizer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentitySection {
    /// `Header` (TOKEN authorizers).
    pub header: Option<Expr>,
    /// `Headers` (REQUEST authorizers).
    pub headers: Option<Vec<Expr>>,
    /// `ReauthorizeEvery`, seconds.
    pub reauthorize_every: Option<Expr>,
}

/// One entry of an API's `MethodSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MethodSettingSection {
    /// `ResourcePath`.
    pub resource_path: Option<Expr>,
    /// `HttpMethod`.
    pub http_method: Option<Expr>,
    /// `ThrottlingRateLimit`.
    pub throttling_rate_limit: Option<Expr>,
    /// `ThrottlingBurstLimit`.
    pub throttling_burst_limit: Option<Expr>,
}

/// One entry of an API's `GatewayResponses`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GatewayResponseSection {
    /// `StatusCode`.
    pub status_code: Option<Expr>,
    /// `ResponseParameters`.
    pub response_parameters: Option<ResponseParametersSection>,
    /// `ResponseTemplates`, by content type.
    #[serde(default)]
    pub response_templates: Ordered<Expr>,
}

/// `ResponseParameters` of a gateway response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResponseParametersSection {
    /// `Headers`, values in single quotes.
    #[serde(default)]
    pub headers: Ordered<Expr>,
}

/// `Properties` of an `AWS::DynamoDB::Table`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableProps {
    /// `AttributeDefinitions`.
    #[serde(default)]
    pub attribute_definitions: Vec<AttributeDefinitionSection>,
    /// `KeySchema`.
    #[serde(default)]
    pub key_schema: Vec<KeyElementSection>,
    /// `GlobalSecondaryIndexes`.
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexSection>,
    /// `LocalSecondaryIndexes`.
    #[serde(default)]
    pub local_secondary_indexes: Vec<IndexSection>,
    /// `BillingMode`.
    pub billing_mode: Option<Expr>,
    /// `ProvisionedThroughput`.
    pub provisioned_throughput: Option<ThroughputSection>,
    /// `TimeToLiveSpecification`.
    pub time_to_live_specification: Option<TimeToLiveSection>,
}

/// One `AttributeDefinitions` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinitionSection {
    /// `AttributeName`.
    pub attribute_name: Expr,
    /// `AttributeType`: `S`, `N` or `B`.
    pub attribute_type: Expr,
}

/// One `KeySchema` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyElementSection {
    /// `AttributeName`.
    pub attribute_name: Expr,
    /// `KeyType`: `HASH` or `RANGE`.
    pub key_type: Expr,
}

/// A secondary index.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexSection {
    /// `IndexName`.
    pub index_name: Expr,
    /// `KeySchema`.
    #[serde(default)]
    pub key_schema: Vec<KeyElementSection>,
    /// `Projection`.
    pub projection: Option<ProjectionSection>,
    /// `ProvisionedThroughput`.
    pub provisioned_throughput: Option<ThroughputSection>,
}

/// `Projection` of an index.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionSection {
    /// `ProjectionType` (default `ALL`).
    pub projection_type: Option<Expr>,
    /// `NonKeyAttributes`.
    #[serde(default)]
    pub non_key_attributes: Vec<Expr>,
}

/// `ProvisionedThroughput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThroughputSection {
    /// `ReadCapacityUnits`.
    pub read_capacity_units: Expr,
    /// `WriteCapacityUnits`.
    pub write_capacity_units: Expr,
}

/// `TimeToLiveSpecification`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveSection {
    /// `Enabled`.
    pub enabled: Option<Expr>,
    /// `AttributeName`.
    pub attribute_name: Option<Expr>,
}
