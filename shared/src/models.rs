//! Request and response types of the API, kept apart from the storage items in
//! [`crate::store`]: a request type has no `id`/`owner_id`/`votes` for a client to set, and a
//! response type has no password hash to leak.

use crate::domain::{Email, Post, PostId, User};
use crate::error::{ApiError, FieldError};
use crate::ids::MAX_ID;
use crate::validate::{JsonFields, check_password, normalize_email};
use serde::Serialize;
use utoipa::ToSchema;

/// Longest post title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Largest post content, in characters.
///
/// Sized so that a full page of `GET /posts` (100 posts) always fits Lambda's 6 MB response:
/// with control characters refused, no character costs more than 4 bytes in the proxy result
/// (a 4-byte UTF-8 character, or `"` and `\` escaped twice), so 100 posts of 10,000-character
/// contents and 300-character titles stay under 4.3 MB, whatever they hold
/// (`list_posts`'s tests build that page). Larger texts belong in object storage, linked.
pub const MAX_CONTENT_CHARS: usize = 10_000;

/// `POST /users` body.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
#[schema(as = UserCreate)]
pub struct NewUser {
    /// A valid e-mail address; stored with its domain lower-cased, the local part as typed.
    #[schema(value_type = String, format = Email, example = "ann@example.com")]
    pub email: Email,
    /// 8 characters at least and 72 bytes (UTF-8) at most: bcrypt's limit, never truncated.
    /// (JSON Schema counts characters: `maxLength` 72 is the bound for ASCII; a password with
    /// wider characters reaches 72 bytes sooner.)
    #[schema(format = Password, min_length = 8, max_length = 72, example = "correct horse")]
    pub password: String,
}

impl NewUser {
    /// Validates a sign-up body.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let mut f = JsonFields::parse(body)?;
        let email = f.string("email").and_then(|raw| match Email::parse(&raw) {
            Ok(e) => Some(e),
            Err(reason) => {
                f.error(
                    "email",
                    "value_error",
                    format!("value is not a valid email address: {reason}"),
                );
                None
            }
        });
        let password = f.string("password").and_then(|p| match check_password(&p) {
            Ok(()) => Some(p),
            Err((kind, msg)) => {
                f.error("password", kind, msg);
                None
            }
        });
        f.finish()?;
        match (email, password) {
            (Some(email), Some(password)) => Ok(Self { email, password }),
            _ => Err(ApiError::internal("validated sign-up body lost a field")),
        }
    }
}

/// `POST /login` form (OAuth2 password flow): `username` is the e-mail.
///
/// Its OpenAPI schema (`OAuth2PasswordForm`, below) also lists the optional OAuth2 fields the
/// form accepts and ignores (`scope`, `client_id`, `client_secret`), as FastAPI's
/// `OAuth2PasswordRequestForm` does, so Swagger UI's Authorize dialog sends what we read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// The e-mail, normalised like sign-up e-mails when it is a valid address.
    pub username: String,
    /// The password as typed.
    pub password: String,
}

/// The `POST /login` form as a client sends it (URL-encoded or multipart), as FastAPI's
/// `OAuth2PasswordRequestForm` documents it. `scope`, `client_id` and `client_secret` are
/// accepted and ignored.
//
// The schema the OpenAPI document shows and Swagger UI's Authorize dialog fills; `LoginForm`
// is what the handler reads from it.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
#[schema(as = OAuth2PasswordForm)]
pub struct LoginFormFields {
    /// `password` when present (the OAuth2 password grant).
    #[schema(nullable = false, pattern = "^password$")]
    pub grant_type: Option<String>,
    /// The account's e-mail.
    #[schema(example = "ann@example.com")]
    pub username: String,
    /// The password.
    #[schema(format = Password)]
    pub password: String,
    /// OAuth2 scopes, space-separated (ignored).
    #[schema(nullable = false, default = "")]
    pub scope: Option<String>,
    /// OAuth2 client id (ignored).
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    /// OAuth2 client secret (ignored).
    #[schema(nullable = false, format = Password)]
    pub client_secret: Option<String>,
}

impl LoginForm {
    /// Reads the form from a request body, `application/x-www-form-urlencoded` or
    /// `multipart/form-data` as its `Content-Type` says (see [`crate::form`]), then validates it
    /// with [`LoginForm::from_fields`]. Another content type reads as an empty form (422).
    pub async fn from_request(content_type: Option<&str>, body: &[u8]) -> Result<Self, ApiError> {
        Self::from_fields(&crate::form::read_form(content_type, body).await?)
    }

    /// Validates the form's fields, however they were encoded. Missing `username` or
    /// `password`, or a `grant_type` other than `password`, is a 422; `scope`, `client_id` and
    /// `client_secret` are accepted and ignored.
    pub fn from_fields(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        // A repeated field: the last value wins, as in FastAPI (and for query parameters).
        let get = |k: &str| {
            pairs
                .iter()
                .rfind(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let mut errors = Vec::new();
        let username = get("username");
        let password = get("password");
        if username.is_none() {
            errors.push(FieldError::new(
                "body",
                "username",
                "missing",
                "Field required",
            ));
        }
        if password.is_none() {
            errors.push(FieldError::new(
                "body",
                "password",
                "missing",
                "Field required",
            ));
        }
        if let Some(g) = get("grant_type")
            && g != "password"
        {
            errors.push(FieldError::new(
                "body",
                "grant_type",
                "string_pattern_mismatch",
                "String should match pattern '^password$'",
            ));
        }
        match (username, password) {
            (Some(username), Some(password)) if errors.is_empty() => Ok(Self {
                // An address that is not valid cannot belong to an account; keep it as typed
                // and let the lookup fail like any unknown e-mail (same 403, same time).
                username: normalize_email(&username).unwrap_or(username),
                password,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// `POST /posts` and `PUT /posts/{id}` body: a whole post.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
#[schema(as = PostCreate)]
pub struct NewPost {
    /// At most 300 characters, no control characters but tab, LF and CR; may be empty.
    #[schema(
        max_length = 300,
        pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F]*$",
        example = "hello"
    )]
    pub title: String,
    /// At most 10,000 characters, no control characters but tab, LF and CR; may be empty.
    #[schema(
        max_length = 10000,
        pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F]*$",
        example = "world"
    )]
    pub content: String,
    /// Defaults to `true`.
    #[schema(default = true, required = false)]
    pub published: bool,
}

impl NewPost {
    /// Validates a create/replace body.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let mut f = JsonFields::parse(body)?;
        let title = f.string("title");
        let title = f.post_text("title", title, MAX_TITLE_CHARS);
        let content = f.string("content");
        let content = f.post_text("content", content, MAX_CONTENT_CHARS);
        let published = f.opt_bool("published");
        f.finish()?;
        match (title, content, published) {
            (Some(title), Some(content), None | Some(Some(_))) => Ok(Self {
                title,
                content,
                published: published.flatten().unwrap_or(true),
            }),
            _ => Err(ApiError::internal("validated post body lost a field")),
        }
    }
}

/// `PATCH /posts/{id}` body: any subset of the fields (`null` is not a value: leave the key
/// out to keep a field).
#[derive(Debug, Clone, Default, PartialEq, Eq, ToSchema)]
#[schema(as = PostPatch)]
pub struct PostPatch {
    /// New title, if given (as for `PostCreate`).
    #[schema(
        nullable = false,
        max_length = 300,
        pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F]*$"
    )]
    pub title: Option<String>,
    /// New content, if given (as for `PostCreate`).
    #[schema(
        nullable = false,
        max_length = 10000,
        pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F]*$"
    )]
    pub content: Option<String>,
    /// New published flag, if given.
    #[schema(nullable = false)]
    pub published: Option<bool>,
}

impl PostPatch {
    /// Validates a patch body (each given field is checked as for [`NewPost`]).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let mut f = JsonFields::parse(body)?;
        let title = f
            .opt_string("title")
            .map(|t| f.post_text("title", t, MAX_TITLE_CHARS));
        let content = f
            .opt_string("content")
            .map(|c| f.post_text("content", c, MAX_CONTENT_CHARS));
        let published = f.opt_bool("published");
        f.finish()?;
        Ok(Self {
            title: title.flatten(),
            content: content.flatten(),
            published: published.flatten(),
        })
    }

    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.content.is_none() && self.published.is_none()
    }
}

/// Direction of a vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteDir {
    /// `dir = 0`: remove my vote.
    Remove,
    /// `dir = 1`: add my vote.
    Add,
}

/// `POST /vote` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(as = Vote)]
pub struct VoteRequest {
    /// The post voted on.
    #[schema(value_type = u64, minimum = 1, maximum = 9007199254740991_u64)]
    pub post_id: PostId,
    /// `1` adds the caller's vote, `0` removes it.
    #[schema(value_type = u8, minimum = 0, maximum = 1)]
    pub dir: VoteDir,
}

impl VoteRequest {
    /// Validates a vote body: `post_id` a positive integer, `dir` exactly 0 or 1.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let mut f = JsonFields::parse(body)?;
        let post_id = f.int("post_id").and_then(|n| match u64::try_from(n) {
            Ok(id) if (1..=MAX_ID).contains(&id) => Some(PostId::new(id)),
            _ => {
                f.error("post_id", "greater_than", "Input should be greater than 0");
                None
            }
        });
        let dir = f.int("dir").and_then(|d| match d {
            0 => Some(VoteDir::Remove),
            1 => Some(VoteDir::Add),
            _ => {
                f.error("dir", "literal_error", "Input should be 0 or 1");
                None
            }
        });
        f.finish()?;
        match (post_id, dir) {
            (Some(post_id), Some(dir)) => Ok(Self { post_id, dir }),
            _ => Err(ApiError::internal("validated vote body lost a field")),
        }
    }
}

/// A user as the API shows it: never a password or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserOut {
    /// Server-assigned id (below 2^53).
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    pub id: u64,
    /// E-mail as stored.
    #[schema(format = Email)]
    pub email: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.get(),
            email: u.email.to_string(),
            created_at: u.created_at.clone(),
        }
    }
}

/// A post as the API shows it (`Post` in the contract; no `votes` key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Post)]
pub struct PostJson {
    /// May be empty.
    pub title: String,
    /// May be empty.
    pub content: String,
    /// Whether the owner published it (every post is listed either way, as in the course).
    pub published: bool,
    /// Server-assigned id (below 2^53).
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    pub id: u64,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The owner's id.
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    pub owner_id: u64,
    /// Who wrote it (never a password or hash).
    // Copied onto the post item at creation, so no read per post is needed.
    pub owner: UserOut,
}

impl From<&Post> for PostJson {
    fn from(p: &Post) -> Self {
        Self {
            title: p.title.clone(),
            content: p.content.clone(),
            published: p.published,
            id: p.id.get(),
            created_at: p.created_at.clone(),
            owner_id: p.owner.id.get(),
            owner: UserOut::from(&p.owner),
        }
    }
}

/// `PostOut` in the contract: `{"Post": {...}, "votes": n}` (capital P, as the original).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PostOut {
    /// The post.
    #[serde(rename = "Post")]
    pub post: PostJson,
    /// How many users voted for the post.
    pub votes: u64,
}

impl From<&Post> for PostOut {
    fn from(p: &Post) -> Self {
        Self {
            post: PostJson::from(p),
            votes: p.votes,
        }
    }
}

/// `POST /login` and `POST /token/refresh` answer. `access_token` and `token_type` are the
/// course's; the other keys are new, and its clients ignore them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Token {
    /// The JWT: send it as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    #[schema(value_type = String, example = "bearer")]
    pub token_type: &'static str,
    /// Seconds the access token stays valid.
    #[schema(example = 1800)]
    pub expires_in: u64,
    /// Trade it at `POST /token/refresh` for a new access token (and a new refresh token: each
    /// works once). Opaque; keep it secret, as a password.
    #[schema(
        min_length = 64,
        max_length = 64,
        example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )]
    pub refresh_token: String,
    /// Seconds the refresh token stays usable.
    #[schema(example = 604800)]
    pub refresh_expires_in: u64,
}

/// The longest refresh token a request may carry; ours are 64 characters.
pub const MAX_REFRESH_TOKEN_CHARS: usize = 256;

/// `POST /token/refresh` and `POST /logout` body.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
pub struct RefreshTokenRequest {
    /// A refresh token from `POST /login` or `POST /token/refresh`.
    #[schema(
        max_length = 256,
        example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )]
    pub refresh_token: String,
}

impl RefreshTokenRequest {
    /// Validates the body: `refresh_token` a string of at most 256 characters.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let mut f = JsonFields::parse(body)?;
        let token = f.string("refresh_token");
        let token = f.length("refresh_token", token, MAX_REFRESH_TOKEN_CHARS);
        f.finish()?;
        token
            .map(|refresh_token| Self { refresh_token })
            .ok_or_else(|| ApiError::internal("validated refresh body lost its token"))
    }
}

/// `{"message": ...}` answers (root, vote).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Message {
    /// The message.
    #[schema(value_type = String)]
    pub message: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_set_fields_are_ignored_on_create() {
        let p = NewPost::from_json(
            br#"{"title":"t","content":"c","id":5,"owner_id":9,"votes":100,"created_at":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            p,
            NewPost {
                title: "t".into(),
                content: "c".into(),
                published: true
            }
        );
    }

    #[test]
    fn published_null_is_a_type_error_not_a_default() {
        assert!(NewPost::from_json(br#"{"title":"t","content":"c","published":null}"#).is_err());
    }

    #[test]
    fn a_patch_with_no_fields_is_empty_and_valid() {
        assert!(PostPatch::from_json(b"{}").unwrap().is_empty());
        assert!(PostPatch::from_json(br#"{"title": 1}"#).is_err());
    }

    #[test]
    fn vote_dir_must_be_0_or_1() {
        for bad in [
            br#"{"post_id":1,"dir":2}"#.as_slice(),
            br#"{"post_id":1,"dir":-1}"#,
            br#"{"post_id":0,"dir":1}"#,
            br#"{"post_id":"1","dir":1}"#,
            br#"{"post_id":1,"dir":0.5}"#,
            br#"{"post_id":1.5,"dir":1}"#,
            br#"{"post_id":1e300,"dir":1}"#,
        ] {
            assert!(VoteRequest::from_json(bad).is_err());
        }
        // JSON Schema (and pydantic) count 1.0 as an integer; so do we.
        assert_eq!(
            VoteRequest::from_json(br#"{"post_id":7.0,"dir":1e0}"#).unwrap(),
            VoteRequest {
                post_id: PostId::new(7),
                dir: VoteDir::Add
            }
        );
        assert_eq!(
            VoteRequest::from_json(br#"{"post_id":7,"dir":0}"#).unwrap(),
            VoteRequest {
                post_id: PostId::new(7),
                dir: VoteDir::Remove
            }
        );
    }

    #[tokio::test]
    async fn the_login_form_normalises_the_domain_and_checks_grant_type() {
        let form = |body: &'static [u8]| {
            LoginForm::from_request(Some("application/x-www-form-urlencoded"), body)
        };
        let f = form(b"username=Bob%40Example.COM&password=p%26ss&grant_type=password")
            .await
            .unwrap();
        assert_eq!(f.username, "Bob@example.com");
        assert_eq!(f.password, "p&ss");
        assert!(
            form(b"username=a%40b.co&password=x&grant_type=client")
                .await
                .is_err()
        );
        assert!(form(b"password=x").await.is_err());
        assert!(
            form(br#"{"username":"a@b.co","password":"x"}"#)
                .await
                .is_err()
        );
    }

    #[test]
    fn sign_up_reports_both_fields() {
        match NewUser::from_json(br#"{"email":"nope","password":"short"}"#) {
            Err(ApiError::Validation(errs)) => assert_eq!(errs.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
