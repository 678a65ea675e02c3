//! The API's Lambda authorizer (REQUEST type, identity source: the `Authorization` header).
//!
//! It is a REQUEST authorizer, not a TOKEN one, because of repeated headers: a TOKEN
//! authorizer gets one string (`authorizationToken`), so with two `Authorization` headers it
//! sees one of them and cannot know there was another, while the function behind it might
//! read the other. A REQUEST authorizer gets `multiValueHeaders`, every value of every header,
//! and refuses such a request. The identity source also decides when API Gateway answers 401
//! without calling us (no `Authorization` header at all).
//!
//! API Gateway caches our answer per `Authorization` value for the template's
//! `AuthorizerCacheSeconds` (one invocation and one user read per token per window, not per
//! request). So the policy covers every method of the stage (a cached Allow is reused for
//! other routes), and the context carries the token's `exp`: handlers refuse an expired token
//! themselves (`shared::http::caller`), so a cached Allow never outlives its token.
//!
//! API Gateway turns its three possible outcomes into answers (see the template's
//! `GatewayResponses`):
//! - not a `Bearer <token>` header: the error `Unauthorized` → 401 `Not authenticated`;
//! - a token that fails validation (signature, algorithm, `typ`, issuer, audience, expiry,
//!   lifetime, claims) or names a user that does not exist, or two `Authorization` headers:
//!   a `Deny` policy → 401 `Could not validate credentials`;
//! - a valid token: an `Allow` policy whose context carries `user_id`, `email`, `created_at`
//!   (which handlers read instead of querying the user again) and the token's `exp`.
//!
//! It never panics; when DynamoDB cannot be reached it fails, and API Gateway answers 503.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use aws_lambda_events::http::header::AUTHORIZATION;
use serde::Serialize;
use shared::auth::{Jwt, bearer_token, single_authorization};
use shared::config::JwtConfig;
use shared::domain::UserId;
use shared::ports::UserStore;
use shared::store::Store;

/// What the authorizer keeps between invocations: the JWT keys and the user store (DynamoDB
/// in the function, the in-memory store in unit tests).
pub struct State<S = Store> {
    jwt: Jwt,
    store: S,
}

impl<S> State<S> {
    /// A state over any user store.
    pub fn new(jwt: Jwt, store: S) -> Self {
        Self { jwt, store }
    }
}

impl State {
    /// Reads `JWT_SECRET` and `TABLE_NAME`.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        Ok(Self {
            jwt: Jwt::new(&JwtConfig::from_env()?),
            store: Store::from_env().await?,
        })
    }
}

/// The authorizer's answer: an IAM policy for `execute-api:Invoke` and the context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    /// The user id, or `anonymous` for a denial.
    pub principal_id: String,
    /// Allow or deny.
    pub policy_document: PolicyDocument,
    /// Handed to the integration as `requestContext.authorizer.*` (strings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<CallerContext>,
}

/// An IAM policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    /// Always `2012-10-17`.
    pub version: &'static str,
    /// One statement.
    pub statement: Vec<Statement>,
}

/// One IAM statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// `execute-api:Invoke`.
    pub action: &'static str,
    /// `Allow` or `Deny`.
    pub effect: &'static str,
    /// The API's methods this covers.
    pub resource: String,
}

/// The caller as the handlers receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerContext {
    /// The user's id (a string: API Gateway passes context values as strings).
    pub user_id: String,
    /// The user's e-mail.
    pub email: String,
    /// When the user signed up.
    pub created_at: String,
    /// The token's expiry (Unix seconds, as a string): handlers check it, since API Gateway
    /// may answer later requests with this token from its cache.
    pub exp: String,
}

/// Why the authorizer did not answer with a policy.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// Not a Bearer header. API Gateway recognises exactly the message `Unauthorized`.
    #[error("Unauthorized")]
    Unauthorized,
    /// The user store could not be read.
    #[error("user store unavailable")]
    Unavailable,
}

impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    fn from(e: AuthorizerError) -> Self {
        let error_type = match e {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::Unavailable => "Unavailable",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

/// The policy resource: every method of this stage of this API, derived from the method ARN
/// (`arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`): API Gateway
/// caches the answer per token and reuses it for the token's requests to any route.
fn api_wide_resource(method_arn: &str) -> String {
    let mut parts = method_arn.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) if !api.is_empty() && !stage.is_empty() => {
            format!("{api}/{stage}/*")
        }
        _ => method_arn.to_string(),
    }
}

fn policy(
    principal: String,
    effect: &'static str,
    method_arn: &str,
    context: Option<CallerContext>,
) -> AuthorizerResponse {
    AuthorizerResponse {
        principal_id: principal,
        policy_document: PolicyDocument {
            version: "2012-10-17",
            statement: vec![Statement {
                action: "execute-api:Invoke",
                effect,
                resource: api_wide_resource(method_arn),
            }],
        },
        context,
    }
}

/// The request's one `Authorization` header, read from `multiValueHeaders`: API Gateway's
/// `headers` holds only the last value of a repeated header, `multiValueHeaders` every value
/// (a hand-made event may have only `headers`, which then counts).
fn authorization_header(
    event: &ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<Option<&str>, shared::auth::RepeatedAuthorization> {
    let headers = if event.multi_value_headers.contains_key(AUTHORIZATION) {
        &event.multi_value_headers
    } else {
        &event.headers
    };
    single_authorization(headers)
}

/// Decides one request. The reason for a denial is logged (never the token itself).
pub async fn authorize(
    state: &State<impl UserStore>,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<AuthorizerResponse, AuthorizerError> {
    let method_arn = event.method_arn.clone().unwrap_or_default();
    let deny = || policy("anonymous".into(), "Deny", &method_arn, None);
    let header = match authorization_header(&event) {
        Ok(header) => header.unwrap_or_default(),
        Err(e) => {
            tracing::info!(reason = %e, "request refused");
            return Ok(deny());
        }
    };
    let token = bearer_token(header).ok_or(AuthorizerError::Unauthorized)?;
    let claims = match state.jwt.verify(token) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(reason = %e, "token refused");
            return Ok(deny());
        }
    };
    match state.store.get_user(UserId::new(claims.user_id)).await {
        Ok(Some(user)) => Ok(policy(
            user.id.to_string(),
            "Allow",
            &method_arn,
            Some(CallerContext {
                user_id: user.id.to_string(),
                email: user.email.to_string(),
                created_at: user.created_at,
                exp: claims.exp.to_string(),
            }),
        )),
        Ok(None) => {
            tracing::info!(
                user_id = claims.user_id,
                "token for a user that does not exist"
            );
            Ok(deny())
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the user");
            Err(AuthorizerError::Unavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::http::RequestExt as _;
    use shared::memory::MemoryStore;
    use shared::testing::{add_user, test_jwt};

    #[test]
    fn the_policy_covers_every_method_of_the_stage() {
        assert_eq!(
            api_wide_resource("arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/GET/posts/7"),
            "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/*"
        );
    }

    fn event(json: serde_json::Value) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
        let mut event = serde_json::json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/GET/posts",
            "resource": "/posts", "path": "/posts", "httpMethod": "GET",
            "requestContext": {"resourcePath": "/posts", "httpMethod": "GET", "stage": "Prod"}
        });
        for (k, v) in json.as_object().unwrap() {
            event[k] = v.clone();
        }
        serde_json::from_value(event).expect("a REQUEST authorizer event")
    }

    /// A state over `store`, signing with `shared::testing`'s key.
    fn state(store: MemoryStore) -> State<MemoryStore> {
        State::new(test_jwt(), store)
    }

    /// A request to `GET /posts` with one `Authorization` header.
    fn with_authorization(value: &str) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
        event(serde_json::json!({
            "headers": {"Authorization": value},
            "multiValueHeaders": {"Authorization": [value]}
        }))
    }

    fn effect(response: &AuthorizerResponse) -> &str {
        response.policy_document.statement[0].effect
    }

    #[tokio::test]
    async fn a_valid_token_of_an_existing_user_is_allowed_with_the_user_in_the_context() {
        // GIVEN ann and a token issued for her
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let token = test_jwt().issue(ann.id).unwrap();
        // WHEN she calls with it
        let response = authorize(
            &state(store),
            with_authorization(&format!("Bearer {token}")),
        )
        .await
        .unwrap();
        // THEN Allow on the whole stage, her id, e-mail, creation time and the token's expiry
        // in the context
        let exp = test_jwt().verify(&token).unwrap().exp;
        assert_eq!(effect(&response), "Allow");
        assert_eq!(
            response.policy_document.statement[0].resource,
            "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/*"
        );
        assert_eq!(response.principal_id, ann.id.to_string());
        assert_eq!(
            response.context,
            Some(CallerContext {
                user_id: ann.id.to_string(),
                email: "ann@example.com".into(),
                created_at: ann.created_at.clone(),
                exp: exp.to_string(),
            })
        );
    }

    #[tokio::test]
    async fn what_the_authorizer_puts_in_the_context_is_what_handlers_read_as_the_caller() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let token = test_jwt().issue(ann.id).unwrap();
        let response = authorize(
            &state(store),
            with_authorization(&format!("Bearer {token}")),
        )
        .await
        .unwrap();
        let context = response.context.expect("a context");
        let mut ctx = shared::http::request::RequestContext::ApiGatewayV1(Default::default());
        if let shared::http::request::RequestContext::ApiGatewayV1(c) = &mut ctx {
            c.authorizer.fields =
                serde_json::from_value(serde_json::to_value(&context).unwrap()).unwrap();
        }
        let req = shared::http::Request::default().with_request_context(ctx);
        assert_eq!(shared::http::caller(&req).unwrap(), ann);
    }

    #[tokio::test]
    async fn a_token_that_fails_verification_is_denied() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let other_key = Jwt::new(&JwtConfig::new(
            b"another-key-another-key-another-key".to_vec(),
            30,
        ));
        let forged = other_key.issue(ann.id).unwrap();
        let state = state(store);
        for header in [format!("Bearer {forged}"), "Bearer not-a-jwt".into()] {
            let response = authorize(&state, with_authorization(&header))
                .await
                .unwrap();
            assert_eq!(effect(&response), "Deny", "{header}");
            assert_eq!(response.principal_id, "anonymous");
            assert_eq!(response.context, None);
        }
    }

    #[tokio::test]
    async fn a_valid_token_of_a_user_that_does_not_exist_is_denied() {
        let token = test_jwt().issue(UserId::new(42)).unwrap();
        let response = authorize(
            &state(MemoryStore::new()),
            with_authorization(&format!("Bearer {token}")),
        )
        .await
        .unwrap();
        assert_eq!(effect(&response), "Deny");
        assert_eq!(response.context, None);
    }

    #[tokio::test]
    async fn two_authorization_headers_are_denied_even_with_a_valid_token_among_them() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let token = format!("Bearer {}", test_jwt().issue(ann.id).unwrap());
        let e = event(serde_json::json!({
            "headers": {"Authorization": token},
            "multiValueHeaders": {"Authorization": [token, token]}
        }));
        let response = authorize(&state(store), e).await.unwrap();
        assert_eq!(effect(&response), "Deny");
    }

    #[tokio::test]
    async fn a_header_that_is_not_a_bearer_token_is_unauthorized() {
        let state = state(MemoryStore::new());
        for header in ["Basic YW5uOnB3", "Bearer", ""] {
            let result = authorize(&state, with_authorization(header)).await;
            assert!(
                matches!(result, Err(AuthorizerError::Unauthorized)),
                "{header:?}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_authorizer_fails_rather_than_denies_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let token = test_jwt().issue(ann.id).unwrap();
        store.set_unavailable(true);
        let result = authorize(
            &state(store),
            with_authorization(&format!("Bearer {token}")),
        )
        .await;
        assert!(
            matches!(result, Err(AuthorizerError::Unavailable)),
            "{result:?}"
        );
    }

    #[test]
    fn the_authorization_header_is_read_from_every_value_api_gateway_passes() {
        let one = event(serde_json::json!({
            "headers": {"Authorization": "Bearer a"},
            "multiValueHeaders": {"Authorization": ["Bearer a"]}
        }));
        assert_eq!(authorization_header(&one), Ok(Some("Bearer a")));
        let only_single = event(serde_json::json!({"headers": {"authorization": "Bearer a"}}));
        assert_eq!(authorization_header(&only_single), Ok(Some("Bearer a")));
        let none = event(serde_json::json!({"headers": {"Host": "x"}, "multiValueHeaders": null}));
        assert_eq!(authorization_header(&none), Ok(None));
    }

    #[test]
    fn two_authorization_headers_are_refused_whichever_comes_first() {
        // What API Gateway sends for a repeated header: the last in `headers`, all of them in
        // `multiValueHeaders`.
        for pair in [
            ["Bearer valid", "Bearer bad"],
            ["Bearer bad", "Bearer valid"],
        ] {
            let e = event(serde_json::json!({
                "headers": {"Authorization": pair[1]},
                "multiValueHeaders": {"Authorization": pair}
            }));
            assert!(authorization_header(&e).is_err(), "{pair:?}");
        }
        // Two spellings of the name are one header.
        let e = event(serde_json::json!({
            "headers": {"Authorization": "Bearer a", "authorization": "Bearer b"},
            "multiValueHeaders": {"Authorization": ["Bearer a"], "authorization": ["Bearer b"]}
        }));
        assert!(authorization_header(&e).is_err());
    }

    #[test]
    fn the_unauthorized_error_has_the_exact_message_api_gateway_expects() {
        let d: lambda_runtime::Diagnostic = AuthorizerError::Unauthorized.into();
        assert_eq!(d.error_message, "Unauthorized");
    }

    #[test]
    fn a_denial_serialises_as_an_iam_policy_without_context() {
        let p = policy("anonymous".into(), "Deny", "arn:x:api/Prod/GET/posts", None);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({
                "principalId": "anonymous",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "arn:x:api/Prod/*"}
                ]}
            })
        );
    }
}
