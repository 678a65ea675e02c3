//! The template reader against the project's template and small hand-written ones.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::functions::binary_from_logical_id;
use super::*;

/// The project's real template, so these tests fail when it changes shape.
fn project_template() -> Template {
    Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml parses")
}

fn options() -> ResolveOptions {
    ResolveOptions {
        jwt_secret: "s3cret".into(),
        ..Default::default()
    }
}

#[test]
fn the_project_template_resolves_every_function_with_its_binary_and_globals() {
    let app = project_template().resolve(&options()).unwrap();
    let create = app
        .functions
        .iter()
        .find(|f| f.logical_id == "CreateUserFunction")
        .unwrap();
    assert_eq!(create.binary, "create_user");
    assert_eq!(
        create.memory_mb, 1769,
        "the function's MemorySize wins over Globals"
    );
    assert_eq!(
        create.timeout,
        Duration::from_secs(10),
        "Timeout comes from Globals"
    );
    assert_eq!(
        create.env["TABLE_NAME"], "AppTable",
        "!Ref of the table is its local name"
    );
    assert_eq!(create.env["CORS_ALLOW_ORIGIN"], "*");
    assert_eq!(
        create.env["BCRYPT_COST"], "12",
        "a Number parameter becomes a string"
    );
    assert_eq!(create.log_level.as_deref(), Some("INFO"));
    assert_eq!(create.log_format, "JSON", "Globals.Function.LoggingConfig");
    assert_eq!(
        create.events,
        vec![ApiEvent {
            api: "Api".into(),
            path: "/users".into(),
            method: "POST".into(),
            auth: AuthChoice::None
        }]
    );
    let login = app
        .functions
        .iter()
        .find(|f| f.logical_id == "LoginFunction")
        .unwrap();
    assert_eq!(
        login.env["JWT_SECRET"], "s3cret",
        "the secrets manager reference is the gateway's secret"
    );
    assert_eq!(login.env["ACCESS_TOKEN_EXPIRE_MINUTES"], "30");
    let list = app
        .functions
        .iter()
        .find(|f| f.logical_id == "ListPostsFunction")
        .unwrap();
    assert_eq!(list.events[0].auth, AuthChoice::Default);
    assert_eq!(list.memory_mb, 128);
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    assert_eq!(
        app.functions.len(),
        text.matches("Type: AWS::Serverless::Function").count(),
        "every function of the template: the routes, the docs and the authorizer"
    );
}

#[test]
fn the_project_api_has_its_stage_cors_authorizer_and_gateway_responses() {
    let app = project_template().resolve(&options()).unwrap();
    assert_eq!(app.apis.len(), 1);
    let api = &app.apis[0];
    assert_eq!(api.stage, "Prod");
    let cors = api.cors.as_ref().unwrap();
    assert_eq!(cors.allow_origin, "*", "single quotes are stripped");
    assert_eq!(
        cors.allow_headers.as_deref(),
        Some("Authorization,Content-Type")
    );
    assert_eq!(cors.max_age.as_deref(), Some("600"));
    assert!(!api.authorize_preflight);
    assert_eq!(api.default_authorizer.as_deref(), Some("JwtAuthorizer"));
    let auth = &api.authorizers["JwtAuthorizer"];
    assert_eq!(auth.function, "AuthorizerFunction");
    assert_eq!(auth.identity_headers, ["Authorization"]);
    // AuthorizerCacheSeconds, 5 minutes by default.
    assert_eq!(auth.ttl, Duration::from_secs(300));
    assert_eq!(
        auth.payload,
        AuthorizerPayload::Request,
        "it must see every Authorization header"
    );
    let unauth = &api.gateway_responses["UNAUTHORIZED"];
    assert_eq!(unauth.status, Some(401));
    assert!(
        unauth
            .headers
            .contains(&("WWW-Authenticate".into(), "Bearer".into()))
    );
    assert!(
        unauth
            .headers
            .contains(&("Access-Control-Allow-Origin".into(), "*".into()))
    );
    assert_eq!(
        unauth.template.as_deref(),
        Some(r#"{"detail": "Not authenticated"}"#)
    );
    assert_eq!(api.gateway_responses["DEFAULT_4XX"].status, None);
    assert_eq!(
        api.throttle,
        Some(ThrottleConfig {
            rate: 100.0,
            burst: 200.0
        })
    );
}

#[test]
fn the_project_table_definition_has_keys_and_the_gsi() {
    let t = project_template().table_def(None).unwrap();
    assert_eq!(t.logical_id, "AppTable");
    assert_eq!(
        t.key_schema,
        vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
    );
    assert_eq!(t.attributes.len(), 4);
    assert!(t.attributes.contains(&("gsi1sk".into(), "N".into())));
    assert_eq!(t.global_indexes.len(), 1);
    assert_eq!(t.global_indexes[0].name, "gsi1");
    assert_eq!(t.global_indexes[0].projection_type, "ALL");
    assert_eq!(t.billing_mode, "PAY_PER_REQUEST");
}

#[test]
fn parameter_overrides_table_name_and_env_vars_file_change_the_environment() {
    let mut o = options();
    o.parameter_overrides
        .insert("CorsAllowOrigin".into(), "https://example.com".into());
    o.table_name = Some("local-table".into());
    o.env_overrides.insert(
        "Parameters".into(),
        BTreeMap::from([("EXTRA".into(), "1".into())]),
    );
    o.env_overrides.insert(
        "LoginFunction".into(),
        BTreeMap::from([("BCRYPT_COST".into(), "4".into())]),
    );
    let app = project_template().resolve(&o).unwrap();
    let login = app
        .functions
        .iter()
        .find(|f| f.logical_id == "LoginFunction")
        .unwrap();
    assert_eq!(login.env["CORS_ALLOW_ORIGIN"], "https://example.com");
    assert_eq!(login.env["TABLE_NAME"], "local-table");
    assert_eq!(login.env["BCRYPT_COST"], "4");
    assert_eq!(login.env["EXTRA"], "1");
    let root = app
        .functions
        .iter()
        .find(|f| f.logical_id == "RootFunction")
        .unwrap();
    assert_eq!(root.env["EXTRA"], "1");
    assert!(!root.env.contains_key("BCRYPT_COST"));
    assert_eq!(
        app.apis[0].cors.as_ref().unwrap().allow_origin,
        "https://example.com"
    );
    assert_eq!(app.tables[0].0, "local-table");
}

#[test]
fn bad_overrides_are_clear_errors() {
    let t = project_template();
    let mut o = options();
    o.parameter_overrides.insert("Nope".into(), "1".into());
    assert!(
        t.resolve(&o)
            .unwrap_err()
            .to_string()
            .contains("no parameter Nope")
    );
    let mut o = options();
    o.parameter_overrides
        .insert("LogLevel".into(), "LOUD".into());
    assert!(
        t.resolve(&o)
            .unwrap_err()
            .to_string()
            .contains("AllowedValues")
    );
    let mut o = options();
    o.parameter_overrides
        .insert("BcryptCost".into(), "99".into());
    assert!(t.resolve(&o).unwrap_err().to_string().contains("range"));
    let mut o = options();
    o.env_overrides
        .insert("NoSuchFunction".into(), BTreeMap::new());
    assert!(
        t.resolve(&o)
            .unwrap_err()
            .to_string()
            .contains("NoSuchFunction")
    );
}

const SMALL: &str = r#"
Parameters:
  Stage: { Type: String }
Conditions:
  IsDev: !Equals [!Ref Stage, dev]
  NotDev: !Not [!Condition IsDev]
  Both: !And [{ Condition: IsDev }, !Equals [a, a]]
Globals:
  Function:
    Timeout: 5
    Environment:
      Variables:
        A: global
        B: global
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
  ThingFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          B: local
          SUB: !Sub "${Table}-${AWS::Region}-${!Literal}"
          SUB_VARS: !Sub ["${x}/${Stage}", { x: !Ref Table }]
          LONG: { "Fn::Sub": "t=${Table}" }
          ARN: !GetAtt Table.Arn
          JOINED: !Join ["-", [a, !Ref Table, 3]]
          NUM: 7
          IF_DEV: !If [IsDev, yes-dev, no-dev]
          IF_NOT: !If [NotDev, "1", "0"]
          IF_BOTH: { "Fn::If": [Both, on, off] }
      Events:
        Get:
          Type: Api
          Properties: { Path: /things/, Method: any }
"#;

#[test]
fn intrinsics_sub_getatt_join_and_globals_merge_per_variable() {
    let t = Template::parse("x/template.yaml", SMALL).unwrap();
    let mut o = options();
    o.parameter_overrides.insert("Stage".into(), "dev".into());
    let app = t.resolve(&o).unwrap();
    let f = &app.functions[0];
    assert_eq!(f.binary, "thing", "binary name derived from the logical id");
    assert_eq!(f.timeout, Duration::from_secs(5));
    assert_eq!(f.env["A"], "global");
    assert_eq!(f.env["B"], "local");
    assert_eq!(f.env["SUB"], "Table-us-east-1-${Literal}");
    assert_eq!(f.env["SUB_VARS"], "Table/dev");
    assert_eq!(f.env["LONG"], "t=Table");
    assert_eq!(
        f.env["ARN"],
        "arn:aws:dynamodb:us-east-1:123456789012:table/Table"
    );
    assert_eq!(f.env["JOINED"], "a-Table-3");
    assert_eq!(f.env["NUM"], "7");
    assert_eq!(
        (f.env["IF_DEV"].as_str(), f.env["IF_NOT"].as_str()),
        ("yes-dev", "0")
    );
    assert_eq!(f.env["IF_BOTH"], "on");
    assert_eq!(
        f.events[0].path, "/things",
        "trailing slash of the template path dropped"
    );
    assert_eq!(f.events[0].method, "ANY");
    assert_eq!(f.events[0].api, IMPLICIT_API);
    assert_eq!(app.apis[0].logical_id, IMPLICIT_API);
    assert_eq!(app.apis[0].stage, "Prod");
    assert_eq!(t.project_dir(), PathBuf::from("x"));
}

#[test]
fn an_unresolvable_variable_names_the_function_and_the_variable() {
    let text = SMALL.replace("NUM: 7", "BAD: !Ref Secret");
    let t = Template::parse("template.yaml", &text).unwrap();
    let mut o = options();
    o.parameter_overrides.insert("Stage".into(), "dev".into());
    let err = t.resolve(&o).unwrap_err().to_string();
    assert!(
        err.contains("ThingFunction") && err.contains("BAD") && err.contains("Secret"),
        "{err}"
    );
    // A parameter without a default that nobody set.
    let err = t.resolve(&options()).unwrap_err().to_string();
    assert!(
        err.contains("Stage") && err.contains("--parameter-overrides"),
        "{err}"
    );
}

#[test]
fn unquote_strips_one_pair_of_single_quotes() {
    assert_eq!(unquote("'*'"), "*");
    assert_eq!(unquote("'GET,POST'"), "GET,POST");
    assert_eq!(unquote("plain"), "plain");
    assert_eq!(unquote("'"), "'");
}

#[test]
fn binary_names_follow_the_project_naming_rule() {
    assert_eq!(binary_from_logical_id("CreateUserFunction"), "create_user");
    assert_eq!(binary_from_logical_id("Root"), "root");
    assert_eq!(binary_from_logical_id("Function"), "function");
}

#[test]
fn when_a_value_cannot_be_resolved_then_the_error_names_its_template_path() {
    let text = SMALL.replace("NUM: 7", "BAD: !Ref Secret");
    let t = Template::parse("template.yaml", &text).unwrap();
    let mut o = options();
    o.parameter_overrides.insert("Stage".into(), "dev".into());
    match t.resolve(&o).unwrap_err() {
        TemplateError::Resolve(e) => {
            assert_eq!(
                e.path,
                "Resources.ThingFunction.Properties.Environment.Variables.BAD"
            );
            assert!(matches!(e.reason, Unresolved::NoLocalRef { .. }), "{e}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn when_a_section_has_the_wrong_shape_then_the_error_names_its_template_path() {
    let text = SMALL.replace(
        "Properties: { Path: /things/, Method: any }",
        "Properties: [/things]",
    );
    let mut o = options();
    o.parameter_overrides.insert("Stage".into(), "dev".into());
    let err = Template::parse("template.yaml", &text)
        .unwrap()
        .resolve(&o)
        .unwrap_err();
    assert!(
        matches!(&err, TemplateError::Shape { path, .. }
            if path == "Resources.ThingFunction.Properties.Events.Get.Properties"),
        "{err}"
    );
    let err = Template::parse("template.yaml", "Resources:\n  T:\n    Type: [x]\n").unwrap_err();
    assert!(
        matches!(&err, TemplateError::Shape { path, .. } if path == "Resources.T.Type"),
        "{err}"
    );
}

#[test]
fn a_malformed_path_or_an_unknown_method_is_refused_with_its_template_path() {
    let mut o = options();
    o.parameter_overrides.insert("Stage".into(), "dev".into());
    let cases = [
        ("{ Path: \"/things/{idd\", Method: get }", "Path", "{idd"),
        (
            "{ Path: \"/things/{proxy+}/x\", Method: get }",
            "Path",
            "last segment",
        ),
        ("{ Path: /a//b, Method: get }", "Path", "empty segment"),
        ("{ Path: things, Method: get }", "Path", "starts with /"),
        ("{ Path: /things, Method: pots }", "Method", "\"POTS\""),
    ];
    for (props, field, why) in cases {
        let text = SMALL.replace("{ Path: /things/, Method: any }", props);
        let err = Template::parse("template.yaml", &text)
            .unwrap()
            .resolve(&o)
            .unwrap_err()
            .to_string();
        let at = format!("Resources.ThingFunction.Properties.Events.Get.Properties.{field}: ");
        assert!(err.starts_with(&at), "{props}: {err}");
        assert!(err.contains(why), "{props}: {err}");
    }
    for good in ["/", "/posts/{id}/", "/docs/{proxy+}", "/a-b/c.d/{x_y}"] {
        let text = SMALL.replace(
            "{ Path: /things/, Method: any }",
            &format!("{{ Path: \"{good}\", Method: get }}"),
        );
        assert!(
            Template::parse("template.yaml", &text)
                .unwrap()
                .resolve(&o)
                .is_ok(),
            "{good}"
        );
    }
}
