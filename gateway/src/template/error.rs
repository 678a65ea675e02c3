//! What can be wrong with a template, each error naming where in the template it is.

use std::path::PathBuf;

/// A template that cannot be read, has the wrong shape, or holds a value that cannot be
/// resolved locally. Every variant that concerns one value names its path in the template
/// (`Resources.LoginFunction.Properties.Timeout`).
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read template {file}: {source}")]
    Read {
        /// The template file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("template {file} is not valid YAML: {source}")]
    Yaml {
        /// The template file.
        file: PathBuf,
        /// The parser's error, with line and column.
        source: yaml_serde::Error,
    },
    /// The document is YAML but not a mapping of sections.
    #[error("template {file} is not a YAML mapping")]
    NotMapping {
        /// The template file.
        file: PathBuf,
    },
    /// A section or property has the wrong shape (a list where a mapping belongs, ...).
    #[error("template {file}: {path}: {message}")]
    Shape {
        /// The template file.
        file: PathBuf,
        /// Where the value is, e.g. `Resources.Api.Properties.Auth.Authorizers`.
        path: String,
        /// What was expected.
        message: String,
    },
    /// A value is well-formed but not acceptable (`Timeout: soon`, a missing `Path`, ...).
    #[error("{path}: {message}")]
    Invalid {
        /// Where the value is.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// An intrinsic function or reference has no local value.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// A `--parameter-overrides` entry the template cannot take.
    #[error("{0}")]
    Parameter(String),
    /// An `--env-vars` scope that is neither `Parameters` nor a function.
    #[error("--env-vars: {0} is neither \"Parameters\" nor a function of the template")]
    UnknownEnvScope(String),
    /// Resources that refer to resources the template does not have (or has several of).
    #[error("{0}")]
    Reference(String),
}

impl TemplateError {
    /// An [`TemplateError::Invalid`] value at `path`.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        TemplateError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<TemplateError> for crate::Error {
    fn from(e: TemplateError) -> Self {
        crate::Error::Config(e.to_string())
    }
}

/// A value the [`Resolver`](super::Resolver) could not turn into a string, and where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ResolveError {
    /// Where the value is, e.g. `Resources.LoginFunction.Properties.Environment.Variables.X`.
    pub path: String,
    /// Why it has no local value.
    pub reason: Unresolved,
}

/// Why a value has no local value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unresolved {
    /// An intrinsic with the wrong arguments (`!Join` without a list, ...).
    #[error("{0}")]
    Malformed(String),
    /// An intrinsic function this emulator does not implement.
    #[error("{0} is not supported locally")]
    Unsupported(String),
    /// `!Ref` of a name that is neither a parameter nor a resource.
    #[error(
        "!Ref {0}: no parameter or resource has that name (a parameter without Default needs --parameter-overrides {0}=...)"
    )]
    UnknownName(String),
    /// `!Ref` of a resource whose local value is unknown (a secret, a role, ...).
    #[error("!Ref {name} (a {kind}) has no local value")]
    NoLocalRef {
        /// The logical id.
        name: String,
        /// Its resource type.
        kind: String,
    },
    /// `!GetAtt` of an attribute whose local value is unknown.
    #[error("!GetAtt {resource}.{attribute} (a {kind}) has no local value")]
    NoLocalAttribute {
        /// The logical id.
        resource: String,
        /// The attribute.
        attribute: String,
        /// The resource's type.
        kind: String,
    },
    /// `!GetAtt` of a resource the template does not have.
    #[error("!GetAtt {resource}.{attribute}: no resource {resource}")]
    UnknownResource {
        /// The logical id.
        resource: String,
        /// The attribute.
        attribute: String,
    },
    /// `AWS::NoValue`, which removes a property in CloudFormation but is no string.
    #[error("AWS::NoValue has no value")]
    NoValue,
    /// A `{{resolve:...}}` dynamic reference other than Secrets Manager.
    #[error("dynamic reference {0} cannot be resolved locally")]
    DynamicReference(String),
    /// An empty value.
    #[error("the value is empty (null)")]
    Null,
    /// A list or mapping where a string belongs.
    #[error("a list or mapping is not a string value")]
    NotAString,
    /// `!If` naming a condition the template does not have.
    #[error("no condition {0}")]
    UnknownCondition(String),
    /// Conditions that refer to each other without end.
    #[error("conditions refer to each other in a loop")]
    ConditionLoop,
}
