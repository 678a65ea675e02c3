//! Lambda authorizers: the event they get and how their answer is judged.

use serde_json::{Map, Value, json};

use crate::runtime::InvokeOutcome;

/// What API Gateway does with a request after asking the authorizer.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthDecision {
    /// Allowed: `principalId` and the context (values as strings), for `requestContext.authorizer`.
    Allow {
        /// `principalId` of the authorizer's answer.
        principal_id: String,
        /// `context`, every value turned into a string as API Gateway does, except `null`,
        /// which API Gateway keeps as `null`.
        context: Map<String, Value>,
    },
    /// The authorizer failed with the message `Unauthorized`: a 401 `UNAUTHORIZED`.
    Unauthorized,
    /// The policy denies the method (explicitly, or by allowing something else): `ACCESS_DENIED`.
    Denied,
    /// Any other error, or an answer that is not a valid policy: `AUTHORIZER_CONFIGURATION_ERROR`.
    ConfigurationError(String),
}

/// The event of a `TOKEN` authorizer.
pub fn token_event(token: &str, method_arn: &str) -> Value {
    json!({"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn})
}

/// `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path without leading slash>`.
pub fn method_arn(
    region: &str,
    account: &str,
    api_id: &str,
    stage: &str,
    method: &str,
    path: &str,
) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    format!("arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path}")
}

/// Judges the authorizer's outcome for the request whose ARN is `method_arn`.
pub fn decide(outcome: &InvokeOutcome, method_arn: &str) -> AuthDecision {
    match outcome {
        // The only way a Lambda authorizer can ask for a 401 is to fail with exactly this message.
        InvokeOutcome::Error(e) if e.error_message == "Unauthorized" => AuthDecision::Unauthorized,
        InvokeOutcome::Error(e) => AuthDecision::ConfigurationError(format!(
            "authorizer failed: {}: {}",
            e.error_type, e.error_message
        )),
        InvokeOutcome::Response(bytes) => match serde_json::from_slice::<Value>(bytes) {
            Ok(answer) => decide_answer(&answer, method_arn),
            Err(e) => {
                AuthDecision::ConfigurationError(format!("authorizer answer is not JSON: {e}"))
            }
        },
    }
}

/// Judges a parsed authorizer answer (`principalId`, `policyDocument`, `context`).
pub fn decide_answer(answer: &Value, method_arn: &str) -> AuthDecision {
    let principal_id = match answer.get("principalId") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return AuthDecision::ConfigurationError("authorizer answer has no principalId".into());
        }
    };
    let Some(policy) = answer.get("policyDocument") else {
        return AuthDecision::ConfigurationError("authorizer answer has no policyDocument".into());
    };
    // API Gateway hands context values to the integration as strings (null stays null, as
    // issue 11 measured); nested values are invalid.
    let mut context = Map::new();
    match answer.get("context") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let s = match v {
                    Value::Null => {
                        context.insert(k.clone(), Value::Null);
                        continue;
                    }
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return AuthDecision::ConfigurationError(format!(
                            "authorizer context value {k} is not a string, number or boolean"
                        ));
                    }
                };
                context.insert(k.clone(), Value::String(s));
            }
        }
        Some(_) => {
            return AuthDecision::ConfigurationError("authorizer context is not an object".into());
        }
    }
    match evaluate_policy(policy, method_arn) {
        Ok(true) => AuthDecision::Allow {
            principal_id,
            context,
        },
        Ok(false) => AuthDecision::Denied,
        Err(e) => AuthDecision::ConfigurationError(e.to_string()),
    }
}

/// Why a policy document cannot be evaluated (API Gateway then answers 500,
/// `AUTHORIZER_CONFIGURATION_ERROR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedPolicy {
    /// A required part is missing.
    #[error("{0}")]
    Missing(&'static str),
    /// An `Effect` other than `Allow` or `Deny`.
    #[error("Effect {0} is neither Allow nor Deny")]
    BadEffect(String),
}

/// IAM evaluation of `execute-api:Invoke` on `method_arn`: an explicit Deny wins, then any
/// Allow; nothing matching is a Deny. `Err` when the document is malformed.
pub fn evaluate_policy(policy: &Value, method_arn: &str) -> Result<bool, MalformedPolicy> {
    use MalformedPolicy::Missing;
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return Err(Missing("policyDocument has no Statement")),
    };
    let mut allowed = false;
    for st in statements {
        let effect = st
            .get("Effect")
            .and_then(Value::as_str)
            .ok_or(Missing("a Statement has no Effect"))?;
        let actions = strings(st.get("Action")).ok_or(Missing("a Statement has no Action"))?;
        let resources =
            strings(st.get("Resource")).ok_or(Missing("a Statement has no Resource"))?;
        // IAM compares actions case-insensitively, resources case-sensitively.
        let action_matches = actions
            .iter()
            .any(|a| glob_match(&a.to_ascii_lowercase(), "execute-api:invoke"));
        let resource_matches = resources.iter().any(|r| glob_match(r, method_arn));
        if !(action_matches && resource_matches) {
            continue;
        }
        if effect.eq_ignore_ascii_case("deny") {
            return Ok(false);
        }
        if effect.eq_ignore_ascii_case("allow") {
            allowed = true;
        } else {
            return Err(MalformedPolicy::BadEffect(effect.to_string()));
        }
    }
    Ok(allowed)
}

fn strings(v: Option<&Value>) -> Option<Vec<&str>> {
    match v? {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// IAM wildcard matching: `*` is any run of characters (including `/` and `:`), `?` is one;
/// case-sensitive, as IAM compares resources.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    wildmatch::WildMatch::new(pattern).matches(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::FunctionError;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:1234567890/Prod/GET/posts/7";

    fn policy(effect: &str, resource: Value) -> Value {
        json!({
            "principalId": "42",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]
            },
            "context": {"user_id": 42, "email": "a@b.c", "admin": false, "gone": null}
        })
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(glob_match("*", ARN));
        assert!(glob_match(
            "arn:aws:execute-api:us-east-1:123456789012:1234567890/Prod/*",
            ARN
        ));
        assert!(glob_match(
            "arn:aws:execute-api:*:*:*/Prod/GET/posts/*",
            ARN
        ));
        assert!(glob_match(
            "arn:aws:execute-api:us-east-1:123456789012:1234567890/Prod/GET/posts/?",
            ARN
        ));
        assert!(glob_match(ARN, ARN));
        assert!(!glob_match(
            "arn:aws:execute-api:us-east-1:123456789012:1234567890/Prod/POST/*",
            ARN
        ));
        assert!(!glob_match(
            "arn:aws:execute-api:us-east-1:123456789012:1234567890/Prod/GET/posts",
            ARN
        ));
        assert!(glob_match("a*b*c", "aXXbYYc") && !glob_match("a*b*c", "aXXbYY"));
    }

    #[test]
    fn an_allow_for_the_method_passes_principal_and_stringified_context() {
        let d = decide_answer(&policy("Allow", json!(ARN)), ARN);
        let AuthDecision::Allow {
            principal_id,
            context,
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(principal_id, "42");
        assert_eq!(
            context["user_id"], "42",
            "numbers become strings, as on API Gateway"
        );
        assert_eq!(context["admin"], "false");
        assert_eq!(context["email"], "a@b.c");
        assert_eq!(
            context["gone"],
            Value::Null,
            "null is kept, as on API Gateway"
        );
    }

    #[test]
    fn deny_or_an_allow_for_another_resource_is_access_denied() {
        assert_eq!(
            decide_answer(&policy("Deny", json!(ARN)), ARN),
            AuthDecision::Denied
        );
        assert_eq!(
            decide_answer(&policy("Deny", json!("*")), ARN),
            AuthDecision::Denied
        );
        let other = "arn:aws:execute-api:us-east-1:123456789012:1234567890/Prod/GET/users/*";
        assert_eq!(
            decide_answer(&policy("Allow", json!([other])), ARN),
            AuthDecision::Denied
        );
        assert!(matches!(
            decide_answer(&policy("Allow", json!([other, "*"])), ARN),
            AuthDecision::Allow { .. }
        ));
        // An explicit Deny beats an Allow.
        let mut both = policy("Allow", json!("*"));
        both["policyDocument"]["Statement"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": [ARN]}));
        assert_eq!(decide_answer(&both, ARN), AuthDecision::Denied);
    }

    #[test]
    fn malformed_answers_and_errors_are_configuration_errors_except_unauthorized() {
        for bad in [
            json!({}),
            json!({"principalId": "1"}),
            json!({"principalId": "1", "policyDocument": {"Statement": [{"Effect": "Allow"}]}}),
            json!({"principalId": "1", "policyDocument": {"Statement": []}, "context": {"x": {"nested": 1}}}),
        ] {
            assert!(
                matches!(
                    decide_answer(&bad, ARN),
                    AuthDecision::ConfigurationError(_)
                ),
                "{bad}"
            );
        }
        let err = |m: &str| {
            InvokeOutcome::Error(FunctionError {
                error_type: "E".into(),
                error_message: m.into(),
            })
        };
        assert_eq!(
            decide(&err("Unauthorized"), ARN),
            AuthDecision::Unauthorized
        );
        assert!(matches!(
            decide(&err("boom"), ARN),
            AuthDecision::ConfigurationError(_)
        ));
        assert!(matches!(
            decide(&InvokeOutcome::Response(b"nope".to_vec()), ARN),
            AuthDecision::ConfigurationError(_)
        ));
        let ok = InvokeOutcome::Response(serde_json::to_vec(&policy("Allow", json!("*"))).unwrap());
        assert!(matches!(decide(&ok, ARN), AuthDecision::Allow { .. }));
    }

    #[test]
    fn the_method_arn_drops_the_leading_slash() {
        assert_eq!(
            method_arn(
                "us-east-1",
                "123456789012",
                "1234567890",
                "Prod",
                "GET",
                "/posts/7"
            ),
            ARN
        );
        assert!(method_arn("r", "a", "i", "s", "GET", "/").ends_with("/s/GET/"));
    }
}
