use super::*;
use serde_json::{Value, json};
use shared::http::request::from_str;

/// The checked-in copy of the document, which clients and the fuzzer read.
const CHECKED_IN: &str = "../../docs/openapi.json";

/// A REST proxy event for `resource`, as API Gateway sends it when the client asked for
/// `client_path` (which includes any stage or base-path prefix).
fn event(resource: &str, path: &str, client_path: &str, proxy: Option<&str>) -> Request {
    let event = json!({
        "resource": resource,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "pathParameters": proxy.map(|p| json!({"proxy": p})),
        "requestContext": {
            "resourcePath": resource,
            "path": client_path,
            "httpMethod": "GET",
            "stage": "Prod",
            "requestId": "r",
            "accountId": "123456789012",
            "identity": {"sourceIp": "203.0.113.10"},
        },
        "isBase64Encoded": false,
        "body": null,
    });
    from_str(&event.to_string()).expect("a valid REST proxy event")
}

async fn get(req: Request) -> Response<Body> {
    let state = State::new();
    handle(&state, req)
        .await
        .unwrap_or_else(ApiError::into_response)
}

fn text(r: &Response<Body>) -> String {
    String::from_utf8(r.body().to_vec()).expect("UTF-8 body")
}

#[test]
fn the_checked_in_document_is_what_the_code_generates() {
    let generated = document_text();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CHECKED_IN);
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if generated != checked_in {
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).expect("write docs/openapi.json");
            return;
        }
        panic!(
            "docs/openapi.json differs from what the handlers' annotations generate: \
             run `make openapi` and commit the result"
        );
    }
}

#[test]
fn the_document_is_openapi_3_1_with_every_route_of_the_contract() {
    let doc: Value = serde_json::to_value(ApiDoc::openapi()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "DELETE /posts/{id}",
            "GET /",
            "GET /posts",
            "GET /posts/{id}",
            "GET /users/{id}",
            "PATCH /posts/{id}",
            "POST /login",
            "POST /logout",
            "POST /posts",
            "POST /token/refresh",
            "POST /users",
            "POST /vote",
            "PUT /posts/{id}",
        ]
    );
}

#[test]
fn protected_routes_use_the_password_flow_with_its_token_url_at_login() {
    let doc: Value = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let scheme = &doc["components"]["securitySchemes"][SECURITY_SCHEME];
    assert_eq!(scheme["type"], "oauth2");
    assert_eq!(scheme["flows"]["password"]["tokenUrl"], "/login");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op.get("security").is_some();
            let protected = path.starts_with("/posts") || path == "/vote";
            assert_eq!(secured, protected, "{method} {path}");
            if protected {
                assert!(op["responses"].get("401").is_some(), "{method} {path}");
            }
        }
    }
}

#[test]
fn every_operation_documents_its_tag_and_its_422() {
    let doc: Value = serde_json::to_value(ApiDoc::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if path == "/" {
                continue;
            }
            assert!(op["tags"].as_array().is_some_and(|t| t.len() == 1));
            assert!(
                op["responses"].get("422").is_some(),
                "{method} {path} can answer 422"
            );
        }
    }
}

#[test]
fn login_and_refresh_answer_a_token_pair_and_logout_takes_the_refresh_token() {
    let doc: Value = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let token = &doc["components"]["schemas"]["Token"];
    let mut required: Vec<&str> = token["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        [
            "access_token",
            "expires_in",
            "refresh_expires_in",
            "refresh_token",
            "token_type"
        ]
    );
    for path in ["/login", "/token/refresh"] {
        let ok = &doc["paths"][path]["post"]["responses"]["200"];
        assert_eq!(
            ok["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Token",
            "{path}"
        );
    }
    assert!(doc["paths"]["/token/refresh"]["post"]["responses"]["401"].is_object());
    for path in ["/token/refresh", "/logout"] {
        let body = &doc["paths"][path]["post"]["requestBody"];
        assert_eq!(
            body["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/RefreshTokenRequest",
            "{path}"
        );
    }
    assert!(doc["paths"]["/logout"]["post"]["responses"]["204"].is_object());
    // Links say where a refresh token goes next.
    for path in ["/login", "/token/refresh"] {
        let links = &doc["paths"][path]["post"]["responses"]["200"]["links"];
        assert_eq!(links["refresh"]["operationId"], "refresh_token", "{path}");
        assert_eq!(links["logout"]["operationId"], "logout", "{path}");
        assert_eq!(
            links["refresh"]["requestBody"],
            json!({"refresh_token": "$response.body#/refresh_token"})
        );
    }
}

#[tokio::test]
async fn openapi_json_at_the_root_has_no_servers_and_the_plain_token_url() {
    let r = get(event(
        "/openapi.json",
        "/openapi.json",
        "/openapi.json",
        None,
    ))
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = serde_json::from_str(&text(&r)).unwrap();
    assert_eq!(doc, serde_json::to_value(ApiDoc::openapi()).unwrap());
    assert!(doc.get("servers").is_none());
}

#[tokio::test]
async fn behind_a_stage_prefix_the_document_points_at_the_stage() {
    let r = get(event(
        "/openapi.json",
        "/openapi.json",
        "/Prod/openapi.json",
        None,
    ))
    .await;
    let doc: Value = serde_json::from_str(&text(&r)).unwrap();
    assert_eq!(doc["servers"], json!([{"url": "/Prod"}]));
    assert_eq!(
        doc["components"]["securitySchemes"][SECURITY_SCHEME]["flows"]["password"]["tokenUrl"],
        "/Prod/login"
    );
}

#[tokio::test]
async fn the_docs_page_loads_its_files_and_the_document_from_under_the_prefix() {
    for (client_path, prefix) in [("/docs", ""), ("/Prod/docs", "/Prod"), ("/v1/docs/", "/v1")] {
        let path = if client_path.ends_with('/') {
            "/docs/"
        } else {
            "/docs"
        };
        let r = get(event("/docs", path, client_path, None)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        let html = text(&r);
        assert!(html.contains(&format!(r#"src="{prefix}/docs/swagger-ui-bundle.js""#)));
        assert!(html.contains(&format!(r#"href="{prefix}/docs/swagger-ui.css""#)));
        assert!(html.contains(&format!(r#"url: "{prefix}/openapi.json""#)));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "the page must load nothing from elsewhere"
        );
    }
}

#[tokio::test]
async fn a_prefix_with_unexpected_characters_is_ignored() {
    let r = get(event("/docs", "/docs", "/<script>/docs", None)).await;
    let html = text(&r);
    assert!(!html.contains("<script>/docs"));
    assert!(html.contains(r#"src="/docs/swagger-ui-bundle.js""#));
}

#[tokio::test]
async fn swagger_ui_files_are_served_from_the_binary() {
    let r = get(event(
        "/docs/{proxy+}",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui-bundle.js",
        Some("swagger-ui-bundle.js"),
    ))
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(text(&r).contains("SwaggerUIBundle"));

    let r = get(event(
        "/docs/{proxy+}",
        "/docs/swagger-ui.css",
        "/docs/swagger-ui.css",
        Some("swagger-ui.css"),
    ))
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/css");
}

#[tokio::test]
async fn other_files_are_404_not_found() {
    for name in [
        "index.html",
        "favicon-32x32.png",
        "../Cargo.toml",
        "nope.js",
        "",
    ] {
        let r = get(event(
            "/docs/{proxy+}",
            &format!("/docs/{name}"),
            &format!("/docs/{name}"),
            Some(name),
        ))
        .await;
        assert_eq!(r.status(), 404, "{name}");
        assert_eq!(text(&r), r#"{"detail":"Not Found"}"#);
    }
}

#[test]
fn the_post_text_rule_is_documented_as_the_code_enforces_it() {
    let doc: Value = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("PostCreate", "title"),
        ("PostCreate", "content"),
        ("PostPatch", "title"),
        ("PostPatch", "content"),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(
            property["pattern"],
            shared::validate::POST_TEXT_PATTERN,
            "{schema}.{field}"
        );
    }
    assert_eq!(
        schemas["PostCreate"]["properties"]["content"]["maxLength"],
        json!(shared::models::MAX_CONTENT_CHARS)
    );
    assert_eq!(
        schemas["PostCreate"]["properties"]["title"]["maxLength"],
        json!(shared::models::MAX_TITLE_CHARS)
    );
}
