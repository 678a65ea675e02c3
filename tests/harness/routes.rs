//! The API's functions and routes, as in `template.yaml`: the one list every test of `tests/`
//! reads (the binaries the local gateway needs, the sample events, the protected routes that
//! authentication and fault tests loop over, the preflights of CORS).
//!
//! A route added to the template but not here fails this module's
//! `every_route_of_the_template_is_in_routes_and_no_other` test, which prints the line to add.

/// One route of the API, as `template.yaml` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The function that serves it: its crate in `functions/`, its binary, and (CamelCase plus
    /// `Function`, see [`logical_id`]) its resource in `template.yaml`.
    pub function: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// API Gateway's resource path (`/posts/{id}`), as in the template.
    pub path: &'static str,
    /// Whether the JWT authorizer guards it (the template's default); public routes say
    /// `Auth: Authorizer: NONE`.
    pub protected: bool,
    /// The sample event of the function (`events/<function>.json`) when it is a request of
    /// this route. A function has one sample event, so at most one of its routes has one.
    pub event: Option<&'static str>,
}

/// Every route of the template, in the order of the template.
pub const ROUTES: &[Route] = &[
    public("root", "GET", "/", Some("events/root.json")),
    public(
        "create_user",
        "POST",
        "/users",
        Some("events/create_user.json"),
    ),
    public(
        "get_user",
        "GET",
        "/users/{id}",
        Some("events/get_user.json"),
    ),
    public("login", "POST", "/login", Some("events/login.json")),
    public(
        "refresh_token",
        "POST",
        "/token/refresh",
        Some("events/refresh_token.json"),
    ),
    public("logout", "POST", "/logout", Some("events/logout.json")),
    protected("list_posts", "GET", "/posts", "events/list_posts.json"),
    protected("create_post", "POST", "/posts", "events/create_post.json"),
    protected("get_post", "GET", "/posts/{id}", "events/get_post.json"),
    protected(
        "update_post",
        "PUT",
        "/posts/{id}",
        "events/update_post.json",
    ),
    protected(
        "patch_post",
        "PATCH",
        "/posts/{id}",
        "events/patch_post.json",
    ),
    protected(
        "delete_post",
        "DELETE",
        "/posts/{id}",
        "events/delete_post.json",
    ),
    protected("vote", "POST", "/vote", "events/vote.json"),
    public("docs", "GET", "/openapi.json", None),
    public("docs", "GET", "/docs", Some("events/docs.json")),
    public("docs", "GET", "/docs/{proxy+}", None),
];

/// The authorizer: a function of the template with no route of its own (API Gateway calls it
/// before every protected route). Its sample event is `events/authorizer.json`.
pub const AUTHORIZER: &str = "authorizer";

const fn public(
    function: &'static str,
    method: &'static str,
    path: &'static str,
    event: Option<&'static str>,
) -> Route {
    Route {
        function,
        method,
        path,
        protected: false,
        event,
    }
}

const fn protected(
    function: &'static str,
    method: &'static str,
    path: &'static str,
    event: &'static str,
) -> Route {
    Route {
        function,
        method,
        path,
        protected: true,
        event: Some(event),
    }
}

impl Route {
    /// The path with `{id}` replaced by `id` (and a greedy `{proxy+}` by a file name), for a
    /// request to it.
    pub fn path_with_id(&self, id: u64) -> String {
        self.path
            .replace("{id}", &id.to_string())
            .replace("{proxy+}", "index.css")
    }
}

/// Every function of the template, each once: the routes' functions in the order of
/// [`ROUTES`], then the [`AUTHORIZER`].
pub fn functions() -> Vec<&'static str> {
    let mut functions: Vec<&'static str> = Vec::new();
    for route in ROUTES {
        if !functions.contains(&route.function) {
            functions.push(route.function);
        }
    }
    functions.push(AUTHORIZER);
    functions
}

/// The function's resource in `template.yaml`: `create_user` → `CreateUserFunction`.
pub fn logical_id(function: &str) -> String {
    let camel: String = function
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{camel}Function")
}

/// The protected routes, in the order of [`ROUTES`].
pub fn protected_routes() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(|route| route.protected)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use yaml_serde::Value;

    use super::*;
    use crate::workspace::workspace_root;

    /// `(function, METHOD, path, protected)`, comparable between ROUTES and the template.
    type Key = (String, String, String, bool);

    /// The route of every `Type: Api` event of every function in template.yaml, and every
    /// function's name.
    fn template_routes() -> (BTreeSet<Key>, BTreeSet<String>) {
        let path = workspace_root().join("template.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
        let template: Value =
            yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{path:?} is not YAML: {e}"));
        let resources = template["Resources"]
            .as_mapping()
            .expect("template.yaml has Resources");
        let (mut routes, mut functions) = (BTreeSet::new(), BTreeSet::new());
        for (id, resource) in resources {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let id = id.as_str().expect("a resource id is a string");
            // The inverse of `logical_id`, so that a name that breaks the convention shows.
            let function = snake_case(id.strip_suffix("Function").unwrap_or(id));
            assert_eq!(
                logical_id(&function),
                id,
                "template.yaml: function {id} is not named <CamelCaseCrate>Function"
            );
            functions.insert(function.clone());
            let Some(events) = resource["Properties"]["Events"].as_mapping() else {
                continue;
            };
            for event in events.values() {
                if event["Type"].as_str() != Some("Api") {
                    continue;
                }
                let properties = &event["Properties"];
                let method = properties["Method"]
                    .as_str()
                    .expect("an Api event's Method");
                let path = properties["Path"].as_str().expect("an Api event's Path");
                // The API's DefaultAuthorizer guards every route that does not opt out.
                let public = properties["Auth"]["Authorizer"].as_str() == Some("NONE");
                routes.insert((
                    function.clone(),
                    method.to_ascii_uppercase(),
                    path.to_owned(),
                    !public,
                ));
            }
        }
        (routes, functions)
    }

    fn snake_case(camel: &str) -> String {
        let mut out = String::new();
        for (i, c) in camel.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn every_route_of_the_template_is_in_routes_and_no_other() {
        let (template, template_functions) = template_routes();
        let ours: BTreeSet<Key> = ROUTES
            .iter()
            .map(|r| {
                (
                    r.function.into(),
                    r.method.into(),
                    r.path.into(),
                    r.protected,
                )
            })
            .collect();
        let missing: Vec<String> = template
            .difference(&ours)
            .map(|(function, method, path, protected)| {
                let helper = if *protected { "protected" } else { "public" };
                let event = if *protected {
                    format!("\"events/{function}.json\"")
                } else {
                    format!("Some(\"events/{function}.json\")")
                };
                format!("    {helper}(\"{function}\", \"{method}\", \"{path}\", {event}),")
            })
            .collect();
        let extra: Vec<String> = ours
            .difference(&template)
            .map(|(function, method, path, protected)| {
                format!("{method} {path} ({function}, protected: {protected})")
            })
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "tests/harness/routes.rs's ROUTES and template.yaml differ.\n\
             In template.yaml but not in ROUTES; add to ROUTES in tests/harness/routes.rs \
             (and see CONTRIBUTING.md, \"Change or add a route\", for the other places):\n{}\n\
             In ROUTES but not in template.yaml (or with another function or auth): {}",
            missing.join("\n"),
            if extra.is_empty() {
                "none".to_owned()
            } else {
                extra.join(", ")
            }
        );
        let functions: BTreeSet<String> = functions().into_iter().map(str::to_owned).collect();
        assert_eq!(
            functions, template_functions,
            "the functions of tests/harness/routes.rs (ROUTES and AUTHORIZER) are not those of \
             template.yaml"
        );
    }

    #[test]
    fn every_function_has_a_crate_and_a_sample_event_of_one_of_its_routes() {
        let root = workspace_root();
        for function in functions() {
            let manifest = root.join("functions").join(function).join("Cargo.toml");
            assert!(
                manifest.is_file(),
                "{function}: no crate at functions/{function}/"
            );
            let event = format!("events/{function}.json");
            assert!(root.join(&event).is_file(), "{function}: no {event}");
            if function != AUTHORIZER {
                let with_event: Vec<&Route> = ROUTES
                    .iter()
                    .filter(|r| r.function == function && r.event.is_some())
                    .collect();
                assert_eq!(
                    with_event.len(),
                    1,
                    "{function}: exactly one of its routes in ROUTES names its sample event"
                );
                assert_eq!(with_event[0].event, Some(event.as_str()));
            }
        }
    }
}
