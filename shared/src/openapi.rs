//! What the OpenAPI document of the API shares between handlers: the error answers most routes
//! can give, and the names of the tags and the security scheme.
//!
//! Each handler documents itself with `#[utoipa::path(...)]` beside its code; the `docs`
//! function gathers them into one document (`GET /openapi.json`, checked in as
//! `docs/openapi.json`).

use crate::error::{HttpError, HttpValidationError};
use utoipa::ToResponse;

/// The security scheme of the protected routes: OAuth2's password flow with its token URL at
/// `/login`, so Swagger UI's Authorize button logs in with the form, as FastAPI's does.
pub const SECURITY_SCHEME: &str = "OAuth2PasswordBearer";

/// Tag of `/users` routes.
pub const TAG_USERS: &str = "Users";
/// Tag of `/login`.
pub const TAG_AUTHENTICATION: &str = "Authentication";
/// Tag of `/posts` routes.
pub const TAG_POSTS: &str = "Posts";
/// Tag of `/vote`.
pub const TAG_VOTE: &str = "Vote";

/// 401: no `Authorization: Bearer` header (`Not authenticated`), or a token that is not valid
/// (`Could not validate credentials`). Answered by API Gateway and the authorizer before the
/// route's function runs.
#[derive(ToResponse)]
#[response(
    description = "Not authenticated, or the token could not be validated",
    headers(("WWW-Authenticate" = String, description = "Always `Bearer`"))
)]
pub struct Unauthorized(#[allow(dead_code)] HttpError);

/// 422: the request does not fit the route (body, query or path), every problem listed.
#[derive(ToResponse)]
#[response(description = "Validation Error")]
pub struct ValidationFailed(#[allow(dead_code)] HttpValidationError);

/// 503: DynamoDB throttled the request or could not be reached (`Service Unavailable`).
#[derive(ToResponse)]
#[response(
    description = "The store is unavailable; try again later",
    headers(("Retry-After" = String, description = "Seconds to wait before retrying"))
)]
pub struct Unavailable(#[allow(dead_code)] HttpError);

/// 403 on a write to a post of someone else's (`Not authorized to perform requested action`).
#[derive(ToResponse)]
#[response(
    description = "The post belongs to someone else",
    example = json!({"detail": "Not authorized to perform requested action"})
)]
pub struct NotYours(#[allow(dead_code)] HttpError);

/// 404 on a write to a post that does not exist (`post with id: {id} does not exist`); checked
/// before ownership.
#[derive(ToResponse)]
#[response(
    description = "No such post",
    example = json!({"detail": "post with id: 5 does not exist"})
)]
pub struct NoSuchPost(#[allow(dead_code)] HttpError);
