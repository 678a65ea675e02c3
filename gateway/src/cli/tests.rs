//! The command line: options, defaults, environment fallbacks and one-line errors.
use super::*;

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn serve(s: &str) -> ServeArgs {
    match parse(&args(s), |_| None).unwrap() {
        Command::Serve(a) => *a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_and_environment() {
    let a = serve("");
    assert_eq!(
        (a.host.as_str(), a.port, a.max_instances),
        ("127.0.0.1", 3000, 10)
    );
    assert_eq!(a, serve("serve"));
    let env = |k: &str| match k {
        "PORT" => Some("0".to_string()),
        "DYNAMODB_ENDPOINT" => Some("http://127.0.0.1:8000".to_string()),
        _ => None,
    };
    let Command::Serve(a) = parse(&[], env).unwrap() else {
        panic!()
    };
    assert_eq!(a.port, 0);
    assert_eq!(
        a.dynamodb_endpoint.as_deref(),
        Some("http://127.0.0.1:8000")
    );
}

#[test]
fn every_serve_option_parses() {
    let a = serve(
        "serve --template t.yaml --host 0.0.0.0 --port=4000 --bin-dir target/release --dynamodb-endpoint http://x \
         --in-memory --data-dir d --table-name T --env-vars e.json --lambda-port 3001 --max-instances 2 \
         --parameter-overrides A=1 ParameterKey=B,ParameterValue=x=y",
    );
    assert_eq!(a.template, Some("t.yaml".into()));
    assert_eq!(
        (a.host.as_str(), a.port, a.lambda_port, a.max_instances),
        ("0.0.0.0", 4000, Some(3001), 2)
    );
    assert_eq!(a.bin_dir, Some("target/release".into()));
    assert_eq!(a.dynamodb_endpoint.as_deref(), Some("http://x"));
    assert!(a.in_memory);
    assert_eq!(a.data_dir, Some("d".into()));
    assert_eq!(a.table_name.as_deref(), Some("T"));
    assert_eq!(a.env_vars, Some("e.json".into()));
    assert_eq!(
        a.parameter_overrides,
        vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
    );
}

#[test]
fn the_connection_timeouts_default_to_10_30_60_seconds_and_take_fractions() {
    assert_eq!(
        serve("").timeouts,
        Timeouts {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        }
    );
    let a = serve("--header-read-timeout 0.25 --body-read-timeout=2 --idle-timeout 1.5");
    assert_eq!(
        a.timeouts,
        Timeouts {
            header_read: Duration::from_millis(250),
            body_read: Duration::from_secs(2),
            idle: Duration::from_millis(1500),
        }
    );
    for bad in ["0", "-1", "abc", "NaN", "inf", "86401"] {
        let err = parse(&args(&format!("--idle-timeout {bad}")), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--idle-timeout"), "{bad}: {err}");
    }
    assert!(parse(&args("dynamodb --idle-timeout 1"), |_| None).is_err());
}

#[test]
fn the_dynamodb_command_has_its_own_port() {
    let Command::DynamoDb(d) = parse(&args("dynamodb --port 0 --in-memory"), |_| None).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        d,
        DynamoDbArgs {
            template: None,
            port: 0,
            in_memory: true,
            data_dir: None
        }
    );
    let Command::DynamoDb(d) = parse(&args("dynamodb"), |_| None).unwrap() else {
        panic!()
    };
    assert_eq!(d.port, 8000);
}

#[test]
fn seed_and_event_token_have_their_own_options() {
    let Command::Seed(s) = parse(&args("seed"), |_| None).unwrap() else {
        panic!()
    };
    assert_eq!(s.dynamodb_endpoint, "http://127.0.0.1:8000");
    assert_eq!((s.table_name, s.template), (None, None));
    let env = |k: &str| (k == "DYNAMODB_ENDPOINT").then(|| "http://e:1".to_string());
    let Command::Seed(s) = parse(&args("seed --table-name T --template t.yaml"), env).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        s,
        SeedArgs {
            template: Some("t.yaml".into()),
            dynamodb_endpoint: "http://e:1".into(),
            table_name: Some("T".into())
        }
    );
    let Command::Seed(s) = parse(&args("seed --dynamodb-endpoint=http://x"), env).unwrap() else {
        panic!()
    };
    assert_eq!(s.dynamodb_endpoint, "http://x");
    let Command::EventToken(t) = parse(
        &args("event-token --env-vars e.json --update-events"),
        |_| None,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(t.env_vars, Some("e.json".into()));
    assert!(t.update_events);
    assert!(matches!(
        parse(&args("seed -h"), |_| None).unwrap(),
        Command::Help(_)
    ));
    for (line, want) in [
        (
            "seed --env-vars e.json",
            "unknown option --env-vars for `seed`",
        ),
        ("event-token --table-name T", "unknown option"),
        ("seed --table-name", "needs a value"),
    ] {
        let err = parse(&args(line), |_| None).unwrap_err().to_string();
        assert!(err.contains(want), "{line}: {err}");
    }
}

#[test]
fn bad_arguments_are_one_line_errors() {
    for (line, want) in [
        ("--nope", "unknown option --nope"),
        ("--port", "--port needs a value"),
        ("--port abc", "not a port number"),
        ("--max-instances 0", "positive"),
        ("--parameter-overrides", "KEY=VALUE"),
        ("--parameter-overrides nonsense", "KEY=VALUE"),
        ("dynamodb --lambda-port 1", "unknown option"),
    ] {
        let err = parse(&args(line), |_| None).unwrap_err().to_string();
        assert!(err.contains(want) && !err.contains('\n'), "{line}: {err}");
    }
    assert!(matches!(
        parse(&args("serve --help"), |_| None).unwrap(),
        Command::Help(_)
    ));
    let err = parse(&[], |k| (k == "PORT").then(|| "x".to_string())).unwrap_err();
    assert!(err.to_string().contains("PORT"));
}

#[test]
fn the_template_is_found_in_a_parent_folder() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = find_template(None, here).unwrap();
    assert_eq!(found, here.parent().unwrap().join("template.yaml"));
    assert!(find_template(Some(Path::new("/nonexistent/t.yaml")), here).is_err());
}

#[test]
fn when_an_option_is_misspelt_then_the_one_line_error_suggests_the_right_one() {
    let err = parse(&args("--prot 3000"), |_| None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown option --prot") && err.contains("did you mean --port?"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn when_asked_for_the_version_or_with_short_flags_then_they_work() {
    let Command::Help(text) = parse(&args("--version"), |_| None).unwrap() else {
        panic!()
    };
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    let a = serve("-p 4000 -t t.yaml -b bins -e e.json");
    assert_eq!(
        (a.port, a.template, a.bin_dir, a.env_vars),
        (
            4000,
            Some("t.yaml".into()),
            Some("bins".into()),
            Some("e.json".into())
        )
    );
}

#[test]
fn migrate_resumes_by_default_and_every_option_parses() {
    let Command::Migrate(a) = parse(&args("migrate"), |_| None).unwrap() else {
        panic!()
    };
    assert_eq!(a.dynamodb_endpoint, "http://127.0.0.1:8000");
    assert_eq!((a.segments, a.page_size, a.concurrency), (4, 200, 8));
    assert!(!a.from_scratch && !a.dry_run && a.feed_shards.is_none() && a.max_posts.is_none());
    let line = "migrate --dynamodb-endpoint https://dynamodb.eu-west-1.amazonaws.com \
                --table-name prod-AppTable-1 --region eu-west-1 --feed-shards 8 --segments 2 \
                --page-size 50 --concurrency 3 --checkpoint cp.json --from-scratch --dry-run \
                --max-posts 10";
    let Command::Migrate(a) = parse(&args(line), |_| None).unwrap() else {
        panic!()
    };
    assert_eq!(a.table_name.as_deref(), Some("prod-AppTable-1"));
    assert_eq!(
        (a.feed_shards, a.segments, a.max_posts),
        (Some(8), 2, Some(10))
    );
    assert!(a.from_scratch && a.dry_run);
    let e = parse(&args("migrate --feed-shards 65"), |_| None).unwrap_err();
    assert!(e.to_string().contains("1..=64"), "{e}");
}

#[test]
fn seed_posts_is_hidden_from_help_but_parses() {
    let Command::Help(help) = parse(&args("--help"), |_| None).unwrap() else {
        panic!()
    };
    assert!(
        help.contains("migrate") && !help.contains("seed-posts"),
        "{help}"
    );
    let Command::SeedPosts(a) = parse(&args("seed-posts --count 10"), |_| None).unwrap() else {
        panic!()
    };
    assert_eq!(
        (a.count, a.rare_every, a.rare_word.as_str()),
        (10, 100, "zephyr")
    );
}
