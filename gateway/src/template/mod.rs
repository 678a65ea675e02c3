//! Reading the SAM template: parameters, globals, functions, APIs and the DynamoDB table.
//!
//! Two steps. [`Template::load`] reads the YAML into typed sections ([`sections`]), so a
//! section of the wrong shape is reported with its path. [`Template::resolve`] then turns
//! the sections into plain values ([`AppConfig`]) with a [`Resolver`] for the intrinsic
//! functions, which knows the parameter values, the local table names and the JWT secret.
//! CloudFormation intrinsics arrive from `yaml_serde` as tagged values (`!Ref X`); their
//! long forms (`{"Ref": "X"}`, `{"Fn::Sub": ...}`) work too.

mod apis;
mod config;
mod error;
mod functions;
mod intrinsics;
pub mod sections;
mod tables;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use yaml_serde::{Mapping, Value};

pub use apis::unquote;
pub use config::{
    ApiConfig, ApiEvent, AppConfig, AuthChoice, AuthorizerConfig, AuthorizerPayload, CorsConfig,
    FunctionConfig, GatewayResponseConfig, IndexDef, ResolveOptions, TableDef, ThrottleConfig,
};
pub use error::{ResolveError, TemplateError, Unresolved};
pub use intrinsics::Resolver;
use intrinsics::plain_scalar;
use sections::{ApiProps, FunctionProps, ResourceSection, TableProps, TemplateDoc};

/// The account id used wherever AWS would put the real one (ARNs, request contexts).
pub const ACCOUNT_ID: &str = "123456789012";
/// The name of the API that SAM creates for `Api` events without a `RestApiId`.
pub const IMPLICIT_API: &str = "ServerlessRestApi";

const FUNCTION: &str = "AWS::Serverless::Function";
const API: &str = "AWS::Serverless::Api";
const TABLE: &str = "AWS::DynamoDB::Table";

type Result<T> = std::result::Result<T, TemplateError>;

/// A parsed, not yet resolved, SAM template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where the template was read from.
    pub path: PathBuf,
    doc: TemplateDoc,
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

impl Template {
    /// Reads and parses a template file.
    pub fn load(path: impl AsRef<Path>) -> Result<Template> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses template text; `path` is only used in messages and for the project directory.
    pub fn parse(path: impl AsRef<Path>, text: &str) -> Result<Template> {
        let path = path.as_ref().to_path_buf();
        let root: Value = yaml_serde::from_str(text).map_err(|source| TemplateError::Yaml {
            file: path.clone(),
            source,
        })?;
        if root.as_mapping().is_none() {
            return Err(TemplateError::NotMapping { file: path });
        }
        let doc = sections::typed(&path, "", root)?;
        Ok(Template { path, doc })
    }

    /// Deserialises a part of this template; errors name `at`, its path.
    fn typed<T: DeserializeOwned>(&self, at: &str, value: Value) -> Result<T> {
        sections::typed(&self.path, at, value)
    }

    /// The directory the template is in: the project root, where `.local/` lives.
    pub fn project_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// `Parameters`, by name.
    pub fn parameters(&self) -> BTreeMap<String, ParameterDef> {
        let plain = |e: Option<&sections::Expr>| e.and_then(|e| plain_scalar(&e.0));
        self.doc
            .parameters
            .iter()
            .map(|(name, def)| {
                let def = ParameterDef {
                    kind: plain(def.kind.as_ref()).unwrap_or_else(|| "String".into()),
                    default: plain(def.default.as_ref()),
                    allowed_values: def
                        .allowed_values
                        .iter()
                        .filter_map(|e| plain_scalar(&e.0))
                        .collect(),
                    min_value: plain(def.min_value.as_ref()).and_then(|s| s.parse().ok()),
                    max_value: plain(def.max_value.as_ref()).and_then(|s| s.parse().ok()),
                };
                (name.to_string(), def)
            })
            .collect()
    }

    /// `Resources`: logical id and section, in template order.
    fn resources(&self) -> impl Iterator<Item = (&str, &ResourceSection)> {
        self.doc.resources.iter()
    }

    /// Logical ids of the resources of one type, in template order.
    pub fn resource_ids(&self, kind: &str) -> Vec<String> {
        self.resources()
            .filter(|(_, r)| r.kind == kind)
            .map(|(id, _)| id.to_string())
            .collect()
    }

    /// Logical ids of the template's `AWS::Serverless::Function`s, in template order.
    pub fn function_ids(&self) -> Vec<String> {
        self.resource_ids(FUNCTION)
    }

    /// Builds a [`Resolver`] from parameter defaults and `options`.
    pub fn resolver(&self, options: &ResolveOptions) -> Result<Resolver> {
        let defs = self.parameters();
        let mut params: BTreeMap<String, String> = defs
            .iter()
            .filter_map(|(name, def)| Some((name.clone(), def.default.clone()?)))
            .collect();
        for (name, value) in &options.parameter_overrides {
            let Some(def) = defs.get(name) else {
                let known: Vec<&str> = defs.keys().map(String::as_str).collect();
                return Err(TemplateError::Parameter(format!(
                    "--parameter-overrides: the template has no parameter {name} (it has: {})",
                    known.join(", ")
                )));
            };
            check_parameter(name, def, value)?;
            params.insert(name.clone(), value.clone());
        }
        let mut resource_types = BTreeMap::new();
        let mut table_names = BTreeMap::new();
        for (id, res) in self.resources() {
            if res.kind == TABLE {
                let local = options.table_name.clone().unwrap_or_else(|| id.to_string());
                table_names.insert(id.to_string(), local);
            }
            resource_types.insert(id.to_string(), res.kind.clone());
        }
        Ok(Resolver {
            params,
            resource_types,
            table_names,
            jwt_secret: options.jwt_secret.clone(),
            region: options.region.clone().unwrap_or_else(|| "us-east-1".into()),
            conditions: self
                .doc
                .conditions
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        })
    }

    /// Resolves everything the gateway needs.
    pub fn resolve(&self, options: &ResolveOptions) -> Result<AppConfig> {
        let resolver = self.resolver(options)?;
        let globals = &self.doc.globals;
        let function_ids = self.function_ids();
        if let Some(key) = options
            .env_overrides
            .keys()
            .find(|k| *k != "Parameters" && !function_ids.contains(k))
        {
            return Err(TemplateError::UnknownEnvScope(key.clone()));
        }

        let mut functions = Vec::new();
        let mut apis = Vec::new();
        let mut tables = Vec::new();
        for (id, res) in self.resources() {
            let base = format!("Resources.{id}.Properties");
            match res.kind.as_str() {
                FUNCTION => {
                    let merged = merged(globals.function.as_ref(), res.properties.as_ref());
                    let props: FunctionProps = self.typed(&base, merged)?;
                    functions.push(functions::function_config(
                        self,
                        id,
                        res.metadata.as_ref(),
                        props,
                        &resolver,
                        options,
                    )?);
                }
                API => {
                    let merged = merged(globals.api.as_ref(), res.properties.as_ref());
                    let props: ApiProps = self.typed(&base, merged)?;
                    apis.push(apis::api_config(self, id, &base, &props, &resolver)?);
                }
                TABLE => {
                    let def = self.table(id, res, &resolver)?;
                    let name = resolver.table_name(id).unwrap_or(id).to_string();
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
            let props: ApiProps = self.typed("Globals.Api", merged(globals.api.as_ref(), None))?;
            let mut api = apis::api_config(self, IMPLICIT_API, "Globals.Api", &props, &resolver)?;
            if api.stage.is_empty() {
                api.stage = "Prod".into();
            }
            apis.push(api);
        }
        check_references(&functions, &apis)?;
        Ok(AppConfig {
            functions,
            apis,
            tables,
            region: resolver.region().to_string(),
        })
    }

    fn table(&self, id: &str, res: &ResourceSection, r: &Resolver) -> Result<TableDef> {
        let base = format!("Resources.{id}.Properties");
        let props: TableProps = self.typed(&base, res.properties.clone().unwrap_or(Value::Null))?;
        tables::table_def(id, &base, &props, r)
    }

    /// The definition of a DynamoDB table: `logical_id`, or the only table of the template.
    pub fn table_def(&self, logical_id: Option<&str>) -> Result<TableDef> {
        let resolver = self.resolver(&ResolveOptions::default())?;
        let tables: Vec<_> = self.resources().filter(|(_, r)| r.kind == TABLE).collect();
        let found = match logical_id {
            Some(want) => tables.iter().find(|(id, _)| *id == want),
            None if tables.len() == 1 => tables.first(),
            None => {
                return Err(TemplateError::Reference(format!(
                    "template {} has {} DynamoDB tables; name the one to use",
                    self.path.display(),
                    tables.len()
                )));
            }
        };
        let Some((id, res)) = found else {
            return Err(TemplateError::Reference(format!(
                "template {} has no AWS::DynamoDB::Table {}",
                self.path.display(),
                logical_id.unwrap_or_default()
            )));
        };
        self.table(id, res, &resolver)
    }
}

/// Every event names an API of the template, every authorizer a function, every default
/// authorizer one of its API's authorizers.
fn check_references(functions: &[FunctionConfig], apis: &[ApiConfig]) -> Result<()> {
    for f in functions {
        for e in &f.events {
            if !apis.iter().any(|a| a.logical_id == e.api) {
                return Err(TemplateError::Reference(format!(
                    "function {}: event {} {} names RestApiId {}, which is not an AWS::Serverless::Api",
                    f.logical_id, e.method, e.path, e.api
                )));
            }
        }
    }
    for api in apis {
        for (name, auth) in &api.authorizers {
            if !functions.iter().any(|f| f.logical_id == auth.function) {
                return Err(TemplateError::Reference(format!(
                    "authorizer {name} of {}: function {} is not in the template",
                    api.logical_id, auth.function
                )));
            }
        }
        if let Some(d) = &api.default_authorizer
            && !api.authorizers.contains_key(d)
        {
            return Err(TemplateError::Reference(format!(
                "{}: DefaultAuthorizer {d} is not one of its Auth.Authorizers",
                api.logical_id
            )));
        }
    }
    Ok(())
}

fn check_parameter(name: &str, def: &ParameterDef, value: &str) -> Result<()> {
    if !def.allowed_values.is_empty() && !def.allowed_values.iter().any(|a| a == value) {
        return Err(TemplateError::Parameter(format!(
            "parameter {name}={value} is not one of its AllowedValues: {}",
            def.allowed_values.join(", ")
        )));
    }
    if def.kind == "Number" {
        let n: f64 = value.parse().map_err(|_| {
            TemplateError::Parameter(format!("parameter {name}={value} is not a Number"))
        })?;
        if def.min_value.is_some_and(|m| n < m) || def.max_value.is_some_and(|m| n > m) {
            return Err(TemplateError::Parameter(format!(
                "parameter {name}={value} is outside its MinValue..MaxValue range"
            )));
        }
    }
    Ok(())
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
