//! The API's functions and routes, as in `template.yaml`: the one list every test of `tests/`
//! reads.

/// Every function of the template: (binary name, SAM logical id).
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("root", "RootFunction"),
    ("create_user", "CreateUserFunction"),
    ("get_user", "GetUserFunction"),
    ("login", "LoginFunction"),
    ("refresh_token", "RefreshTokenFunction"),
    ("logout", "LogoutFunction"),
    ("list_posts", "ListPostsFunction"),
    ("create_post", "CreatePostFunction"),
    ("get_post", "GetPostFunction"),
    ("update_post", "UpdatePostFunction"),
    ("patch_post", "PatchPostFunction"),
    ("delete_post", "DeletePostFunction"),
    ("vote", "VoteFunction"),
    ("docs", "DocsFunction"),
    ("authorizer", "AuthorizerFunction"),
];
