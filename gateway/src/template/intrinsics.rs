//! The intrinsic-function resolver: turns CloudFormation values into strings the way
//! CloudFormation would at deploy time, with local stand-ins for what only AWS knows.
//!
//! Supported: `Ref`, `Fn::Sub` (both forms), `Fn::GetAtt` (`Arn` of functions and tables),
//! `Fn::Join`, `Fn::If` with the `Conditions` section (`Fn::Equals`, `Fn::Not`, `Fn::And`,
//! `Fn::Or`, `Condition`), pseudo parameters, and `{{resolve:secretsmanager:...}}`, which
//! becomes the gateway's JWT secret. Short (`!Ref X`) and long (`{"Ref": "X"}`) forms both work.

use std::collections::{BTreeMap, HashMap};

use yaml_serde::Value;

use super::ACCOUNT_ID;
use super::error::{ResolveError, Unresolved};
use super::sections::Expr;

/// How deep conditions may refer to conditions (guards against cycles).
const MAX_CONDITION_DEPTH: usize = 32;

/// Resolves values of one template, knowing its parameter values, resource types, the local
/// table names and the JWT secret.
#[derive(Debug, Clone)]
pub struct Resolver {
    pub(super) params: BTreeMap<String, String>,
    pub(super) resource_types: BTreeMap<String, String>,
    pub(super) table_names: BTreeMap<String, String>,
    pub(super) jwt_secret: String,
    pub(super) region: String,
    pub(super) conditions: BTreeMap<String, Value>,
}

type Step<T> = Result<T, Unresolved>;

fn malformed<T>(msg: &str) -> Step<T> {
    Err(Unresolved::Malformed(msg.to_string()))
}

impl Resolver {
    /// The value of a parameter (default or override).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The region that `AWS::Region` stands for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The local name of a table resource.
    pub fn table_name(&self, logical_id: &str) -> Option<&str> {
        self.table_names.get(logical_id).map(String::as_str)
    }

    /// Resolves a scalar or intrinsic found at `path` (which the error names) to a string.
    pub fn resolve(&self, v: &Value, path: &str) -> Result<String, ResolveError> {
        self.value(v).map_err(|reason| ResolveError {
            path: path.to_string(),
            reason,
        })
    }

    /// [`Resolver::resolve`] for an [`Expr`] of a typed section.
    pub fn expr(&self, e: &Expr, path: &str) -> Result<String, ResolveError> {
        self.resolve(&e.0, path)
    }

    /// [`Resolver::expr`] for an optional property.
    pub fn opt(&self, e: Option<&Expr>, path: &str) -> Result<Option<String>, ResolveError> {
        e.map(|e| self.expr(e, path)).transpose()
    }

    /// Evaluates the template condition `name` (`Conditions` section).
    pub fn condition(&self, name: &str, path: &str) -> Result<bool, ResolveError> {
        self.named_condition(name, 0)
            .map_err(|reason| ResolveError {
                path: path.to_string(),
                reason,
            })
    }

    fn value(&self, v: &Value) -> Step<String> {
        if let Some((func, arg)) = intrinsic(v) {
            return match func.as_str() {
                "Ref" => match plain_scalar(arg) {
                    Some(name) => self.reference(&name),
                    None => malformed("!Ref needs a name"),
                },
                "Fn::Sub" => self.sub(arg),
                "Fn::GetAtt" => match getatt_parts(arg) {
                    Some((res, attr)) => self.get_att(&res, &attr),
                    None => malformed("!GetAtt needs Resource.Attribute"),
                },
                "Fn::Join" => self.join(arg),
                "Fn::If" => {
                    let Some(parts) = arg.as_sequence().filter(|s| s.len() == 3) else {
                        return malformed("!If needs [condition, value if true, value if false]");
                    };
                    let Some(name) = plain_scalar(&parts[0]) else {
                        return malformed("!If needs a condition name");
                    };
                    let chosen = if self.named_condition(&name, 0)? {
                        &parts[1]
                    } else {
                        &parts[2]
                    };
                    self.value(chosen)
                }
                other => Err(Unresolved::Unsupported(other.to_string())),
            };
        }
        match v {
            Value::String(s) if s.contains("{{resolve:secretsmanager:") => {
                Ok(self.jwt_secret.clone())
            }
            Value::String(s) if s.contains("{{resolve:") => {
                Err(Unresolved::DynamicReference(s.clone()))
            }
            Value::Null => Err(Unresolved::Null),
            other => plain_scalar(other).ok_or(Unresolved::NotAString),
        }
    }

    fn join(&self, arg: &Value) -> Step<String> {
        let Some(parts) = arg.as_sequence().filter(|s| s.len() == 2) else {
            return malformed("!Join needs [delimiter, [values]]");
        };
        let Some(delim) = plain_scalar(&parts[0]) else {
            return malformed("!Join delimiter must be a string");
        };
        let Some(items) = parts[1].as_sequence() else {
            return malformed("!Join needs a list of values");
        };
        let items: Step<Vec<String>> = items.iter().map(|i| self.value(i)).collect();
        Ok(items?.join(&delim))
    }

    fn named_condition(&self, name: &str, depth: usize) -> Step<bool> {
        let def = self
            .conditions
            .get(name)
            .ok_or_else(|| Unresolved::UnknownCondition(name.to_string()))?;
        self.eval_condition(def, depth + 1)
    }

    fn eval_condition(&self, v: &Value, depth: usize) -> Step<bool> {
        if depth > MAX_CONDITION_DEPTH {
            return Err(Unresolved::ConditionLoop);
        }
        let Some((func, arg)) = intrinsic(v).or_else(|| {
            // `{Condition: Name}` inside Fn::And / Fn::Or / Fn::Not.
            let m = v.as_mapping().filter(|m| m.len() == 1)?;
            let (k, arg) = m.iter().next()?;
            (plain_scalar(k)? == "Condition").then(|| ("Condition".to_string(), arg))
        }) else {
            return malformed(
                "a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition",
            );
        };
        let list = || {
            arg.as_sequence()
                .ok_or_else(|| Unresolved::Malformed(format!("{func} needs a list")))
        };
        match func.as_str() {
            "Fn::Equals" => {
                let l = list()?;
                if l.len() != 2 {
                    return malformed("Fn::Equals needs two values");
                }
                Ok(self.value(&l[0])? == self.value(&l[1])?)
            }
            "Fn::Not" => match list()?.first() {
                Some(first) => Ok(!self.eval_condition(first, depth + 1)?),
                None => malformed("Fn::Not needs a condition"),
            },
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
            "Condition" | "Fn::Condition" => match plain_scalar(arg) {
                Some(name) => self.named_condition(&name, depth),
                None => malformed("Condition needs a name"),
            },
            other => Err(Unresolved::Malformed(format!(
                "{other} is not a condition function"
            ))),
        }
    }

    fn reference(&self, name: &str) -> Step<String> {
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
            "AWS::NoValue" => return Err(Unresolved::NoValue),
            _ => {}
        }
        match self.resource_types.get(name).map(String::as_str) {
            // A function's Ref is its name; locally the name is the logical id.
            Some("AWS::Serverless::Function") => Ok(name.to_string()),
            Some(kind) => Err(Unresolved::NoLocalRef {
                name: name.to_string(),
                kind: kind.to_string(),
            }),
            None => Err(Unresolved::UnknownName(name.to_string())),
        }
    }

    fn get_att(&self, res: &str, attr: &str) -> Step<String> {
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
            (Some(kind), _) => Err(Unresolved::NoLocalAttribute {
                resource: res.to_string(),
                attribute: attr.to_string(),
                kind: kind.to_string(),
            }),
            (None, _) => Err(Unresolved::UnknownResource {
                resource: res.to_string(),
                attribute: attr.to_string(),
            }),
        }
    }

    fn sub(&self, arg: &Value) -> Step<String> {
        let (text, vars) = match arg {
            Value::Sequence(s) if s.len() == 2 => {
                let Some(text) = plain_scalar(&s[0]) else {
                    return malformed("!Sub [text, vars]: text must be a string");
                };
                let mut vars = HashMap::new();
                if let Some(m) = s[1].as_mapping() {
                    for (k, v) in m {
                        let Some(k) = plain_scalar(k) else {
                            return malformed("!Sub variable names must be strings");
                        };
                        vars.insert(k, self.value(v)?);
                    }
                }
                (text, vars)
            }
            other => match plain_scalar(other) {
                Some(text) => (text, HashMap::new()),
                None => return malformed("!Sub needs a string"),
            },
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
            let Some(end) = after.find('}') else {
                return Err(Unresolved::Malformed(format!(
                    "!Sub {text:?}: unclosed ${{"
                )));
            };
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
pub fn intrinsic(v: &Value) -> Option<(String, &Value)> {
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

/// `(resource, attribute)` of a `!GetAtt` argument, `Res.Attr` or `[Res, Attr]`.
pub fn getatt_parts(arg: &Value) -> Option<(String, String)> {
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
pub fn plain_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
