//! `GET /openapi.json`, `GET /docs` and `GET /docs/{proxy+}`: the API describes itself, as
//! FastAPI's apps do.
//!
//! - The OpenAPI 3.1 document is gathered from the handlers' own `#[utoipa::path]` annotations
//!   and the request/response types' `ToSchema` derives: the code is the documentation. A copy
//!   is checked in as `docs/openapi.json`; a test fails when the two drift apart.
//! - `/docs` is Swagger UI, its files compiled into this binary (utoipa-swagger-ui's vendored
//!   build): the page loads nothing from the internet. Its Authorize button logs in with the
//!   `/login` form (OAuth2 password flow), exactly like FastAPI's.
//!
//! Behind a prefix (the stage on an `execute-api` URL, `/Prod/docs`, or a custom domain's base
//! path) the links, the document's `servers` and the token URL follow the prefix the client
//! used, which API Gateway reports as `requestContext.path`.

use shared::ApiError;
use shared::error::{FieldError, HttpError, HttpValidationError};
use shared::http::{Body, Request, Response, StatusCode};
use shared::openapi::{NoSuchPost, NotYours, SECURITY_SCHEME, Unauthorized, Unavailable};
use shared::openapi::{TAG_AUTHENTICATION, TAG_POSTS, TAG_USERS, TAG_VOTE, ValidationFailed};
use std::sync::Arc;
use utoipa::openapi::security::{Flow, OAuth2, Password, Scopes, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi};

/// The whole API, as the handlers describe themselves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Posts API",
        description = "The social-media posts API of the FastAPI course (users, JWT login, \
                       posts with owner-only edit and delete, votes), in Rust on AWS Lambda, \
                       API Gateway and DynamoDB. Protected routes take \
                       `Authorization: Bearer <token>` from `POST /login`: use Authorize.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        root::handle,
        create_user::handle,
        get_user::handle,
        login::handle,
        refresh_token::handle,
        logout::handle,
        list_posts::handle,
        create_post::handle,
        get_post::handle,
        update_post::handle,
        patch_post::handle,
        delete_post::handle,
        vote::handle,
    ),
    components(
        schemas(HttpError, HttpValidationError, FieldError),
        responses(Unauthorized, ValidationFailed, Unavailable, NotYours, NoSuchPost),
    ),
    modifiers(&PasswordFlow, &SessionLinks),
    tags(
        (name = TAG_USERS, description = "Sign-up and public profiles"),
        (name = TAG_AUTHENTICATION, description = "The OAuth2 password form that issues tokens, their refresh, and logout"),
        (name = TAG_POSTS, description = "Posts: anyone signed in reads, only the owner edits"),
        (name = TAG_VOTE, description = "One vote per user and post"),
    ),
)]
pub struct ApiDoc;

/// Adds the security scheme the protected routes name: OAuth2's password flow, token URL
/// `/login` (relative to the server, so a prefix moves it along); leaves `GET /` untagged.
struct PasswordFlow;

impl Modify for PasswordFlow {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        // `GET /` has no tag in the course (Swagger UI lists it under "default"); utoipa would
        // name one after the crate.
        if let Some(root) = openapi.paths.paths.get_mut("/")
            && let Some(get) = root.get.as_mut()
        {
            get.tags = None;
        }
        add_security_scheme(openapi, TOKEN_PATH);
    }
}

/// OpenAPI links from the answers that carry a refresh token (`POST /login`,
/// `POST /token/refresh`) to the operations that take one: a reader (and schemathesis's
/// stateful phase) sees that the `refresh_token` of one goes into the body of the other.
struct SessionLinks;

impl Modify for SessionLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::link::LinkBuilder;
        let body = serde_json::json!({"refresh_token": "$response.body#/refresh_token"});
        for path in ["/login", "/token/refresh"] {
            let Some(RefOr::T(ok)) = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.post.as_mut())
                .and_then(|op| op.responses.responses.get_mut("200"))
            else {
                continue;
            };
            for (name, operation, what) in [
                (
                    "refresh",
                    "refresh_token",
                    "Trade the refresh token for the next pair",
                ),
                ("logout", "logout", "End the session"),
            ] {
                let link = LinkBuilder::new()
                    .operation_id(operation)
                    .request_body(Some(body.clone()))
                    .description(what)
                    .build();
                ok.links.insert(name.into(), RefOr::T(link));
            }
        }
    }
}

/// Sets (or replaces) the password-flow scheme, its form posted to `token_url`.
fn add_security_scheme(openapi: &mut utoipa::openapi::OpenApi, token_url: &str) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SECURITY_SCHEME,
        SecurityScheme::OAuth2(OAuth2::with_description(
            [Flow::Password(Password::new(token_url, Scopes::new()))],
            "Log in with your e-mail as `username` and your password.",
        )),
    );
}

/// Where the OAuth2 password form is posted.
const TOKEN_PATH: &str = "/login";

/// The OpenAPI document, pretty-printed with a final newline: exactly the text of
/// `docs/openapi.json`.
pub fn document_text() -> String {
    // Serialising the generated document cannot fail (plain data, string keys).
    let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// What the function keeps between requests: the document, generated once per container.
pub struct State {
    document: utoipa::openapi::OpenApi,
    swagger: Arc<utoipa_swagger_ui::Config<'static>>,
}

impl State {
    /// Generates the document.
    pub fn new() -> Self {
        Self {
            document: ApiDoc::openapi(),
            swagger: Arc::new(utoipa_swagger_ui::Config::new(["openapi.json"])),
        }
    }

    /// The document as served under `prefix` (empty at the root): `servers` and the token URL
    /// carry the prefix, so "Try it out" and Authorize reach this API wherever it is mounted.
    pub fn document_under(&self, prefix: &str) -> utoipa::openapi::OpenApi {
        let mut doc = self.document.clone();
        if !prefix.is_empty() {
            doc.servers = Some(vec![Server::new(prefix)]);
            add_security_scheme(&mut doc, &format!("{prefix}{TOKEN_PATH}"));
        }
        doc
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

/// The Swagger UI files the page uses, and nothing else (no images: API Gateway would need
/// binary media types to pass them through).
const ASSETS: &[&str] = &[
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "oauth2-redirect.html",
    "oauth2-redirect.js",
];

/// Routes on the resource API Gateway matched: the document, the page, or one of its files.
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let (resource, prefix) = resource_and_prefix(&req);
    match resource.as_str() {
        "/openapi.json" => {
            let body = state
                .document_under(&prefix)
                .to_json()
                .map_err(ApiError::internal)?;
            answer("application/json", "no-cache", Body::from(body))
        }
        "/docs" => answer(
            "text/html; charset=utf-8",
            "no-cache",
            Body::from(page(&prefix)),
        ),
        _ => asset(state, &req),
    }
}

/// One of [`ASSETS`], or 404 `Not Found` (as API Gateway answers an unknown path).
fn asset(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    use shared::http::RequestExt as _;
    let name = req
        .path_parameters_ref()
        .and_then(|p| p.first("proxy"))
        .unwrap_or_default();
    let not_found = || ApiError::NotFound("Not Found".into());
    if !ASSETS.contains(&name) {
        return Err(not_found());
    }
    let file = utoipa_swagger_ui::serve(name, state.swagger.clone())
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(not_found)?;
    let text = String::from_utf8(file.bytes.into_owned()).map_err(ApiError::internal)?;
    // The files change only with the crate's version, that is with a deploy.
    answer(&file.content_type, "public, max-age=3600", Body::from(text))
}

fn answer(content_type: &str, cache: &str, body: Body) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .header("cache-control", cache)
        .body(body)
        .map_err(ApiError::internal)
}

/// The resource API Gateway matched (`/docs`, `/docs/{proxy+}`, `/openapi.json`) and the
/// prefix the client's path had before the API's own path: `requestContext.path` minus the
/// event's `path`. Only a prefix made of URL-path-safe characters is used (it ends up in the
/// page and the document), anything else counts as none.
fn resource_and_prefix(req: &Request) -> (String, String) {
    use shared::http::RequestExt as _;
    use shared::http::request::RequestContext;
    let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() else {
        return (String::new(), String::new());
    };
    let resource = ctx.resource_path.clone().unwrap_or_default();
    let own_path = req.raw_http_path();
    let prefix = ctx
        .path
        .as_deref()
        .and_then(|full| full.strip_suffix(own_path))
        .filter(|p| {
            p.starts_with('/')
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
        })
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    (resource, prefix)
}

/// The Swagger UI page, configured as FastAPI's `/docs` is, with every URL under `prefix`.
/// No external URL anywhere: the validator badge (which calls validator.swagger.io) is off,
/// and an empty icon stops the browser asking for `/favicon.ico`.
fn page(prefix: &str) -> String {
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Posts API - Swagger UI</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{prefix}/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{prefix}/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "{prefix}/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  oauth2RedirectUrl: window.location.origin + "{prefix}/docs/oauth2-redirect.html",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}});
</script>
</body>
</html>
"##
    )
}

#[cfg(test)]
mod tests;
