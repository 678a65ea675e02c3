//! Validation at the edge, in FastAPI's 422 shape.
//!
//! [`JsonFields`] reads a JSON object field by field and collects every problem, so one 422
//! lists them all (as FastAPI does). Types are strict: `"title": 123` is an error, not `"123"`.
//! Keys a client must not set (`id`, `owner_id`, `votes`, ...) are simply never read.

use crate::error::{ApiError, FieldError};
use serde_json::{Map, Value};

/// A JSON request body being validated.
#[derive(Debug)]
pub struct JsonFields {
    obj: Map<String, Value>,
    errors: Vec<FieldError>,
}

/// The C0 control characters but `\t`, `\n` and `\r`. JSON escapes each as `\u00XX` (six
/// bytes), and API Gateway's proxy result escapes that again (seven): allowed, they would make
/// one character of a post cost seven bytes of Lambda's 6 MB response. Text never needs them.
pub fn is_refused_control(c: char) -> bool {
    c < ' ' && !matches!(c, '\t' | '\n' | '\r')
}

/// The same rule as a JSON Schema `pattern` (ECMA-262), for the OpenAPI document.
pub const POST_TEXT_PATTERN: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F]*$";

/// `1.0` as an integer; only within ±2^53, where every integer is exactly a float.
fn integral(f: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64)
}

impl JsonFields {
    /// Parses a body that must be a JSON object. An empty body, bad JSON or another JSON type
    /// is a 422 about the whole body.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::Validation(vec![FieldError::body(
                "missing",
                "Field required",
            )]));
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::Validation(vec![FieldError {
                loc: vec!["body".into(), e.column().into()],
                msg: "JSON decode error".into(),
                kind: "json_invalid".into(),
            }])
        })?;
        match value {
            Value::Object(obj) => Ok(Self {
                obj,
                errors: Vec::new(),
            }),
            _ => Err(ApiError::Validation(vec![FieldError::body(
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
            )])),
        }
    }

    /// Records a problem with `field`.
    pub fn error(&mut self, field: &str, kind: &str, msg: impl Into<String>) {
        self.errors.push(FieldError::new("body", field, kind, msg));
    }

    fn missing(&mut self, field: &str) {
        self.error(field, "missing", "Field required");
    }

    /// A required string field.
    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.opt_string(field) {
            Some(v) => v,
            None => {
                self.missing(field);
                None
            }
        }
    }

    /// An optional string field: `None` when absent, `Some(None)` when present but invalid.
    pub fn opt_string(&mut self, field: &str) -> Option<Option<String>> {
        let v = self.obj.get(field)?;
        match v {
            Value::String(s) => Some(Some(s.clone())),
            _ => {
                self.error(field, "string_type", "Input should be a valid string");
                Some(None)
            }
        }
    }

    /// An optional boolean field: `None` when absent, `Some(None)` when present but invalid.
    pub fn opt_bool(&mut self, field: &str) -> Option<Option<bool>> {
        let v = self.obj.get(field)?;
        match v {
            Value::Bool(b) => Some(Some(*b)),
            _ => {
                self.error(field, "bool_type", "Input should be a valid boolean");
                Some(None)
            }
        }
    }

    /// A required integer field: a JSON number with no fractional part (`1`, and `1.0` as JSON
    /// Schema and pydantic count it too); `1.5` and `"1"` are refused.
    pub fn int(&mut self, field: &str) -> Option<i64> {
        let Some(v) = self.obj.get(field) else {
            self.missing(field);
            return None;
        };
        match v.as_i64().or_else(|| integral(v.as_f64()?)) {
            Some(n) => Some(n),
            None => {
                self.error(field, "int_type", "Input should be a valid integer");
                None
            }
        }
    }

    /// Checks a string's length in characters; records an error and returns `None` if outside.
    pub fn length(
        &mut self,
        field: &str,
        value: Option<String>,
        max_chars: usize,
    ) -> Option<String> {
        let value = value?;
        if value.chars().count() > max_chars {
            self.error(
                field,
                "string_too_long",
                format!("String should have at most {max_chars} characters"),
            );
            return None;
        }
        Some(value)
    }

    /// Checks a post text (title or content): at most `max_chars` characters and no control
    /// characters but tab, line feed and carriage return. Records an error and returns `None`
    /// otherwise.
    pub fn post_text(
        &mut self,
        field: &str,
        value: Option<String>,
        max_chars: usize,
    ) -> Option<String> {
        let value = self.length(field, value, max_chars)?;
        if value.chars().any(is_refused_control) {
            self.error(
                field,
                "string_pattern_mismatch",
                "String should have no control characters other than tab, line feed and \
                 carriage return",
            );
            return None;
        }
        Some(value)
    }

    /// Ends validation: every recorded problem, or nothing.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// The longest address we accept (RFC 5321's path limit).
const MAX_EMAIL_LEN: usize = 254;

/// Checks an e-mail address and normalises it: the domain is lower-cased, the local part kept
/// as typed. Returns the reason it is invalid otherwise.
///
/// A deliberately sane subset of RFC 5322: a dot-atom local part (no quoting), a domain of at
/// least two DNS labels whose last label is alphabetic. So `a@b`, `user@`, `@x.com`,
/// `a b@x.com` and `""` are invalid.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    if raw.is_empty() || raw.len() > MAX_EMAIL_LEN {
        return Err("An email address must have an @-sign and be at most 254 characters.");
    }
    let (local, domain) = raw
        .rsplit_once('@')
        .ok_or("An email address must have an @-sign.")?;
    if local.is_empty() {
        return Err("There must be something before the @-sign.");
    }
    if local.len() > 64 {
        return Err("The part before the @-sign is too long.");
    }
    const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";
    if !local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
    {
        return Err("The part before the @-sign contains invalid characters.");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(
            "The part before the @-sign cannot start or end with a dot or have two dots in a row.",
        );
    }
    if domain.is_empty() {
        return Err("There must be something after the @-sign.");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("The part after the @-sign is not valid. It should have a period.");
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err("The part after the @-sign is not a valid domain name.");
        }
    }
    let tld = labels.last().copied().unwrap_or_default();
    if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err("The part after the @-sign is not a valid domain name.");
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// Shortest password we accept, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// bcrypt reads at most 72 bytes; longer passwords are refused rather than silently truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Checks a new password's length; returns the FastAPI error kind and message when refused.
pub fn check_password(password: &str) -> Result<(), (&'static str, String)> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err((
            "string_too_short",
            format!("String should have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err((
            "string_too_long",
            format!("Password should have at most {MAX_PASSWORD_BYTES} bytes (UTF-8)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(r: Result<(), ApiError>) -> Vec<FieldError> {
        match r {
            Err(ApiError::Validation(v)) => v,
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn the_contracts_invalid_addresses_are_refused() {
        for bad in [
            "a@b",
            "user@",
            "@x.com",
            "a b@x.com",
            "",
            "a@@x.com",
            "a@x..com",
            "a@-x.com",
            "a.@x.com",
            "a@x.c0m",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn valid_addresses_keep_the_local_part_and_lower_case_the_domain() {
        assert_eq!(
            normalize_email("John.Doe@Example.COM").unwrap(),
            "John.Doe@example.com"
        );
        assert_eq!(
            normalize_email("a+tag@sub.x-y.io").unwrap(),
            "a+tag@sub.x-y.io"
        );
    }

    #[test]
    fn passwords_must_be_8_chars_to_72_bytes() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"x".repeat(72)).is_ok());
        assert!(check_password(&"x".repeat(73)).is_err());
        // 25 three-byte characters: 25 chars but 75 bytes.
        assert!(check_password(&"€".repeat(25)).is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_location() {
        let mut f = JsonFields::parse(br#"{"title": 123, "published": "yes"}"#).unwrap();
        let _ = f.string("title");
        let _ = f.string("content");
        let _ = f.opt_bool("published");
        let errs = errors(f.finish());
        let locs: Vec<_> = errs.iter().map(|e| json!(e.loc)).collect();
        assert_eq!(
            locs,
            vec![
                json!(["body", "title"]),
                json!(["body", "content"]),
                json!(["body", "published"])
            ]
        );
        assert_eq!(errs[0].kind, "string_type");
        assert_eq!(errs[1].kind, "missing");
        assert_eq!(errs[2].kind, "bool_type");
    }

    #[test]
    fn bad_json_empty_bodies_and_non_objects_are_422() {
        for body in [&b"{not json"[..], b"", b"[1,2]", b"\"s\""] {
            assert!(matches!(
                JsonFields::parse(body),
                Err(ApiError::Validation(_))
            ));
        }
    }

    #[test]
    fn integers_are_strict() {
        let mut f = JsonFields::parse(br#"{"a": 1.5, "b": "2", "c": 3}"#).unwrap();
        assert_eq!(f.int("a"), None);
        assert_eq!(f.int("b"), None);
        assert_eq!(f.int("c"), Some(3));
        assert_eq!(errors(f.finish()).len(), 2);
    }

    #[test]
    fn overlong_strings_are_refused_by_characters_not_bytes() {
        let mut f = JsonFields::parse(b"{}").unwrap();
        assert!(f.length("title", Some("é".repeat(300)), 300).is_some());
        assert!(f.length("title", Some("é".repeat(301)), 300).is_none());
        assert_eq!(errors(f.finish())[0].kind, "string_too_long");
    }
}
