//! The API's one error type and its one mapping to an HTTP answer.

use lambda_http::{Body, Response, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Type};

/// One entry of a 422 answer, in FastAPI's shape:
/// `{"loc": ["body", "email"], "msg": "...", "type": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = ValidationError)]
pub struct FieldError {
    /// Where the bad value was: `body`, `query` or `path`, then the field (or, for JSON that
    /// does not parse, the column of the error).
    #[schema(schema_with = loc_schema)]
    pub loc: Vec<serde_json::Value>,
    /// A human-readable message.
    pub msg: String,
    /// A machine-readable kind (pydantic's names: `missing`, `string_type`, ...).
    #[serde(rename = "type")]
    pub kind: String,
}

/// `loc`: an array of strings and integers, as FastAPI documents it.
fn loc_schema() -> ArrayBuilder {
    ArrayBuilder::new().items(
        OneOfBuilder::new()
            .item(utoipa::openapi::Object::with_type(Type::String))
            .item(utoipa::openapi::Object::with_type(Type::Integer)),
    )
}

/// The body of every error answer but a 422: `{"detail": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = HTTPError)]
pub struct HttpError {
    /// What went wrong, in the course's words (e.g. `post with id: 3 was not found`).
    pub detail: String,
}

/// The body of a 422: every problem found in the request, in FastAPI's list shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = HTTPValidationError)]
pub struct HttpValidationError {
    /// One entry per bad field.
    pub detail: Vec<FieldError>,
}

impl FieldError {
    /// A field error at `place` (`body`, `query`, `path`) and `field`.
    pub fn new(place: &str, field: &str, kind: &str, msg: impl Into<String>) -> Self {
        Self {
            loc: vec![place.into(), field.into()],
            msg: msg.into(),
            kind: kind.into(),
        }
    }

    /// An error about the whole body rather than one field.
    pub fn body(kind: &str, msg: impl Into<String>) -> Self {
        Self {
            loc: vec!["body".into()],
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

/// Everything a handler can answer besides success. Handlers return `Result<_, ApiError>` and
/// use `?`; [`ApiError::into_response`] is the only place that turns one into status + body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404 with the given detail.
    #[error("not found: {0}")]
    NotFound(String),
    /// 403 with the given detail.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 409 with the given detail.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 401 with the given detail and `WWW-Authenticate: Bearer`.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 422 with FastAPI's list of field errors.
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    /// 429 with the given detail and `Retry-After: <seconds>` (e.g. too many failed logins).
    #[error("too many requests: {detail}")]
    TooManyRequests {
        /// What the client is told.
        detail: String,
        /// Seconds until trying again can succeed (at least 1).
        retry_after_secs: u64,
    },
    /// 503 with `Retry-After`: DynamoDB throttled us, timed out or could not be reached after
    /// the SDK's retries.
    #[error("service unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 500: a bug or an unexpected answer. Logged with its source chain, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 422 with a single field error.
    pub fn field(place: &str, field: &str, kind: &str, msg: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(place, field, kind, msg)])
    }

    /// A 500 from anything that describes the fault (logged, never shown to the client).
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer: status, `{"detail": ...}` body, and `WWW-Authenticate` on 401. Server-side
    /// faults are logged here with their whole source chain; the client gets a generic detail.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let retry_after = match &self {
            Self::TooManyRequests {
                retry_after_secs, ..
            } => Some((*retry_after_secs).max(1)),
            Self::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        let detail = |d: &str| serde_json::to_string(&HttpError { detail: d.into() });
        let body = match self {
            Self::NotFound(d)
            | Self::Forbidden(d)
            | Self::Conflict(d)
            | Self::Unauthorized(d)
            | Self::TooManyRequests { detail: d, .. } => detail(&d),
            Self::Validation(detail) => serde_json::to_string(&HttpValidationError { detail }),
            Self::Unavailable(source) => {
                tracing::warn!(error = %error_chain(source.as_ref()), "dependency unavailable");
                detail("Service Unavailable")
            }
            Self::Internal(source) => {
                tracing::error!(error = %error_chain(source.as_ref()), "internal error");
                detail("Internal Server Error")
            }
        };
        // Serialising these plain structs cannot fail; if it ever did, answer the 500 body.
        let body = body.unwrap_or_else(|_| r#"{"detail":"Internal Server Error"}"#.into());
        let mut builder = Response::builder()
            .status(status)
            .header("content-type", "application/json");
        if status == StatusCode::UNAUTHORIZED {
            builder = builder.header("www-authenticate", "Bearer");
        }
        if let Some(secs) = retry_after {
            builder = builder.header("retry-after", secs.to_string());
        }
        builder
            .body(Body::from(body))
            .unwrap_or_else(|_| Response::new(Body::Empty))
    }
}

/// `Retry-After` of a 503: DynamoDB throttling and timeouts usually clear within a second or
/// two, and the SDK has already retried with backoff before we answer.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// `outer: inner: innermost`, so one log line carries the whole cause.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body_json(r: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }

    #[test]
    fn each_error_maps_to_its_status_and_detail() {
        let r = ApiError::NotFound("post with id: 3 was not found".into()).into_response();
        assert_eq!(r.status(), 404);
        assert_eq!(
            body_json(&r),
            json!({"detail": "post with id: 3 was not found"})
        );

        let r = ApiError::Conflict("taken".into()).into_response();
        assert_eq!(r.status(), 409);

        let r = ApiError::Forbidden("Invalid Credentials".into()).into_response();
        assert_eq!(r.status(), 403);
    }

    #[test]
    fn a_429_says_when_to_retry() {
        let r = ApiError::TooManyRequests {
            detail: "Too many failed logins".into(),
            retry_after_secs: 42,
        }
        .into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "42");
        assert_eq!(body_json(&r), json!({"detail": "Too many failed logins"}));
    }

    #[test]
    fn a_401_carries_www_authenticate_bearer() {
        let r = ApiError::Unauthorized("Not authenticated".into()).into_response();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
    }

    #[test]
    fn validation_errors_use_fastapis_list_shape() {
        let r = ApiError::field("body", "email", "missing", "Field required").into_response();
        assert_eq!(r.status(), 422);
        assert_eq!(
            body_json(&r),
            json!({"detail": [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}]})
        );
    }

    #[test]
    fn internal_and_unavailable_errors_never_leak_their_source() {
        let r = ApiError::internal("dynamodb said: secret table layout").into_response();
        assert_eq!(r.status(), 500);
        assert_eq!(body_json(&r), json!({"detail": "Internal Server Error"}));
        let r = ApiError::Unavailable("throttled by table xyz".into()).into_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(body_json(&r), json!({"detail": "Service Unavailable"}));
    }
}
