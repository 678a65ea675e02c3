//! The two commands of the binary: `serve` and `dynamodb`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::apigw::Gateway;
use crate::cli::{Command, DynamoDbArgs, ServeArgs, find_template};
use crate::dynamodb::{
    DynamoDbLocal, LocalOptions, client_for_endpoint, ensure_table_from_def, wait_until_ready,
};
use crate::dynamodb_supervisor::Supervisor;
use crate::error::{Error, Result};
use crate::runtime::{FunctionSpec, LambdaRuntime};
use crate::template::{FunctionConfig, ResolveOptions, Template};

/// Runs a parsed command to the end; returns the process exit code (2 for bad configuration).
pub async fn run(cmd: Command) -> i32 {
    let result = match cmd {
        Command::Help(text) => {
            println!("{}", text.trim_end());
            return 0;
        }
        Command::Serve(args) => serve(args).await,
        Command::DynamoDb(args) => dynamodb(args).await,
        Command::Seed(args) => crate::seed::seed(args).await,
        Command::EventToken(args) => crate::seed::event_token(args),
        Command::Migrate(args) => crate::migrate::migrate(args).await,
        Command::SeedPosts(args) => crate::seed_posts::seed_posts(args).await,
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("local_gateway: {e}");
            match e {
                Error::Config(_) | Error::DynamoDb(_) => 2,
                Error::Runtime(_) => 1,
            }
        }
    }
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// `path` relative to the current folder when it is inside it, for short messages.
fn shown(path: &Path) -> String {
    let cwd = cwd();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Resolves when Ctrl-C or SIGTERM arrives.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn bind(host: &str, port: u16, what: &str) -> Result<TcpListener> {
    TcpListener::bind((host, port)).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Error::config(format!("port {port} is in use ({what}): choose another with --port/--lambda-port, or 0 for a free one"))
        } else {
            Error::config(format!("cannot listen on {host}:{port} ({what}): {e}"))
        }
    })
}

/// The `--env-vars` file: `{"Parameters": {...}, "<LogicalId>": {...}}` with scalar values.
fn read_env_vars(path: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!(
            "cannot read --env-vars file {}: {e}",
            path.display()
        ))
    })?;
    let bad = |why: &str| Error::config(format!("--env-vars file {}: {why}", path.display()));
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
    let mut out = BTreeMap::new();
    for (scope, vars) in obj {
        let vars = vars
            .as_object()
            .ok_or_else(|| bad(&format!("{scope} is not an object")))?;
        let mut m = BTreeMap::new();
        for (k, v) in vars {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => continue,
                _ => return Err(bad(&format!("{scope}.{k} is not a string"))),
            };
            m.insert(k.clone(), s);
        }
        out.insert(scope.clone(), m);
    }
    Ok(out)
}

/// The environment every function gets besides its own variables and Lambda's reserved ones.
fn common_env(region: &str, dynamodb_endpoint: &str, bin_dir: &Path) -> BTreeMap<String, String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    set(
        "PATH",
        var("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
    );
    set("LANG", "en_US.UTF-8".into());
    set("TZ", ":UTC".into());
    set("LAMBDA_TASK_ROOT", bin_dir.display().to_string());
    set("LAMBDA_RUNTIME_DIR", bin_dir.display().to_string());
    set("_HANDLER", "bootstrap".into());
    set("AWS_REGION", region.into());
    set("AWS_DEFAULT_REGION", region.into());
    set(
        "AWS_ACCESS_KEY_ID",
        var("AWS_ACCESS_KEY_ID").unwrap_or_else(|| "local".into()),
    );
    set(
        "AWS_SECRET_ACCESS_KEY",
        var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "local".into()),
    );
    if let Some(t) = var("AWS_SESSION_TOKEN") {
        set("AWS_SESSION_TOKEN", t);
    }
    set("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint.into());
    // Text logs are easier to read in a terminal than Lambda's JSON format.
    set("AWS_LAMBDA_LOG_FORMAT", "Text".into());
    for k in ["RUST_LOG", "RUST_BACKTRACE"] {
        if let Some(v) = var(k) {
            set(k, v);
        }
    }
    env
}

/// The spec to run `f` from `bin_dir`; fails when its binary is missing.
fn function_spec(
    f: &FunctionConfig,
    bin_dir: &Path,
    common: &BTreeMap<String, String>,
    max_instances: usize,
) -> Result<FunctionSpec> {
    let executable = bin_dir.join(&f.binary);
    if !executable.is_file() {
        return Err(Error::config(format!(
            "binary {} not found: run `cargo build --bins` first",
            shown(&executable)
        )));
    }
    let mut env = common.clone();
    if let Some(level) = &f.log_level {
        env.insert("AWS_LAMBDA_LOG_LEVEL".into(), level.clone());
    }
    env.extend(f.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let limit = f
        .reserved_concurrency
        .map_or(max_instances, |r| (r as usize).min(max_instances));
    Ok(FunctionSpec {
        name: f.logical_id.clone(),
        binary: f.binary.clone(),
        executable,
        args: Vec::new(),
        env,
        timeout: f.timeout,
        memory_mb: f.memory_mb,
        max_instances: limit.max(1),
    })
}

async fn serve(args: ServeArgs) -> Result<()> {
    let cwd = cwd();
    let template_path = find_template(args.template.as_deref(), &cwd)?;
    let template = Template::load(&template_path)?;
    let project = template.project_dir();
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) => PathBuf::from(t).join("debug"),
            None => project.join("target").join("debug"),
        },
    };
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".into());
    // An outside test can set JWT_SECRET to mint tokens the functions accept.
    let jwt_secret = std::env::var("JWT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| crate::util::random_hex(48));
    let options = ResolveOptions {
        parameter_overrides: args.parameter_overrides.iter().cloned().collect(),
        table_name: args.table_name.clone(),
        jwt_secret,
        env_overrides: match &args.env_vars {
            Some(p) => read_env_vars(p)?,
            None => BTreeMap::new(),
        },
        region: Some(region.clone()),
    };
    let app = template.resolve(&options)?;
    // Check every binary before starting anything slow.
    for f in &app.functions {
        function_spec(f, &bin_dir, &BTreeMap::new(), 1)?;
    }
    // Bind early so a taken port fails fast, but only say "listening" once everything is up.
    let api_listener = bind(&args.host, args.port, "API").await?;
    let lambda_listener = match args.lambda_port {
        Some(p) => Some(bind(&args.host, p, "Lambda invoke API").await?),
        None => None,
    };

    let mut local = None;
    let endpoint = match &args.dynamodb_endpoint {
        Some(e) => {
            wait_until_ready(e, Duration::from_secs(30)).await?;
            e.clone()
        }
        None => {
            let opts =
                LocalOptions::for_project(&project, args.in_memory, args.data_dir.clone(), 0);
            let ddb = DynamoDbLocal::start(&opts).await?;
            tracing::info!(
                "[gateway] DynamoDB Local listening on {} (pid {})",
                ddb.endpoint(),
                ddb.pid()
            );
            let e = ddb.endpoint();
            local = Some((ddb, opts));
            e
        }
    };
    let client = client_for_endpoint(&endpoint);
    for (name, def) in &app.tables {
        ensure_table_from_def(&client, def, name).await?;
        tracing::info!("[gateway] table {name} is ready");
    }

    let common = common_env(&region, &endpoint, &bin_dir);
    let specs = app
        .functions
        .iter()
        .map(|f| function_spec(f, &bin_dir, &common, args.max_instances))
        .collect::<Result<Vec<_>>>()?;
    let runtime = Arc::new(LambdaRuntime::new(specs, &region));
    let gateway = Arc::new(Gateway::new(&app, runtime.clone())?);
    // From here on DynamoDB may come and go: the gateway keeps serving (the functions answer
    // 503) and restarts its own DynamoDB Local.
    let supervisor = match local {
        Some((ddb, opts)) => Supervisor::local(ddb, &opts, app.tables.clone()),
        None => Supervisor::endpoint(endpoint.clone(), app.tables.clone()),
    };

    let api_addr = api_listener
        .local_addr()
        .map_err(|e| Error::Runtime(e.to_string()))?;
    let api_server =
        crate::http_server::serve(api_listener, gateway.router(), args.timeouts, "API");
    let mut lines = vec![format!(
        "API listening on http://{}:{}",
        args.host,
        api_addr.port()
    )];
    let lambda_server = match lambda_listener {
        Some(l) => {
            let addr = l.local_addr().map_err(|e| Error::Runtime(e.to_string()))?;
            lines.push(format!(
                "Lambda invoke API listening on http://{}:{}",
                args.host,
                addr.port()
            ));
            Some(crate::http_server::serve(
                l,
                crate::invoke_api::router(runtime.clone()),
                args.timeouts,
                "Lambda invoke API",
            ))
        }
        None => None,
    };
    // Last, so readers of the first two lines see no change: where the table lives (e.g. for
    // `local_gateway seed --dynamodb-endpoint`).
    lines.push(format!("DynamoDB endpoint: {endpoint}"));
    {
        let mut out = std::io::stdout().lock();
        for l in &lines {
            let _ = writeln!(out, "{l}");
        }
        let _ = out.flush();
    }
    tracing::info!(
        "[gateway] {} functions from {} (binaries in {}); Ctrl-C to stop",
        app.functions.len(),
        shown(&template_path),
        shown(&bin_dir)
    );

    let lambda_future = async move {
        match lambda_server {
            Some(s) => s.await,
            None => std::future::pending().await,
        }
    };
    // The servers only return if their accept loop ends, which it does not; DynamoDB's
    // outages are the supervisor's, so only a signal ends the gateway.
    let outcome = tokio::select! {
        () = api_server => Err(Error::Runtime("the API server stopped".into())),
        () = lambda_future => Err(Error::Runtime("the Lambda invoke API stopped".into())),
        _ = shutdown_signal() => {
            tracing::info!("[gateway] shutting down");
            Ok(())
        }
    };
    runtime.shutdown().await;
    supervisor.stop().await;
    outcome
}

async fn dynamodb(args: DynamoDbArgs) -> Result<()> {
    let cwd = cwd();
    // The project folder is the template's; without one, the current folder.
    let project = match find_template(args.template.as_deref(), &cwd) {
        Ok(t) => Template::load(&t)?.project_dir(),
        Err(e) if args.template.is_some() => return Err(e),
        Err(_) => cwd.clone(),
    };
    let opts =
        LocalOptions::for_project(&project, args.in_memory, args.data_dir.clone(), args.port);
    let mut ddb = DynamoDbLocal::start(&opts).await?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "DynamoDB Local listening on {}", ddb.endpoint());
        let _ = out.flush();
    }
    let outcome = tokio::select! {
        r = ddb.wait() => Err(Error::Runtime(format!("DynamoDB Local exited: {r:?}"))),
        _ = shutdown_signal() => Ok(()),
    };
    ddb.stop().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_is_named_with_the_build_hint() {
        let t = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
        let app = t.resolve(&ResolveOptions::default()).unwrap();
        let err = function_spec(
            &app.functions[0],
            Path::new("/nonexistent/debug"),
            &BTreeMap::new(),
            10,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "binary /nonexistent/debug/root not found: run `cargo build --bins` first"
        );
    }

    #[test]
    fn function_env_has_the_common_variables_and_its_own_on_top() {
        let dir = std::env::temp_dir();
        let exe = dir.join(format!("lgw-fake-bin-{}", std::process::id()));
        std::fs::write(&exe, b"").unwrap();
        let f = FunctionConfig {
            logical_id: "XFunction".into(),
            binary: exe.file_name().unwrap().to_string_lossy().into_owned(),
            timeout: Duration::from_secs(3),
            memory_mb: 256,
            env: BTreeMap::from([
                ("TABLE_NAME".into(), "T".into()),
                ("AWS_ENDPOINT_URL_DYNAMODB".into(), "http://o".into()),
            ]),
            log_level: Some("DEBUG".into()),
            reserved_concurrency: Some(2),
            events: vec![],
        };
        let common = common_env("eu-west-1", "http://127.0.0.1:9", &dir);
        let spec = function_spec(&f, &dir, &common, 10).unwrap();
        std::fs::remove_file(&exe).unwrap();
        assert_eq!(spec.env["AWS_REGION"], "eu-west-1");
        assert_eq!(spec.env["AWS_DEFAULT_REGION"], "eu-west-1");
        assert_eq!(spec.env["AWS_LAMBDA_LOG_FORMAT"], "Text");
        assert_eq!(spec.env["AWS_LAMBDA_LOG_LEVEL"], "DEBUG");
        assert_eq!(spec.env["TABLE_NAME"], "T");
        assert_eq!(
            spec.env["AWS_ENDPOINT_URL_DYNAMODB"], "http://o",
            "the function's own value wins"
        );
        assert!(spec.env.contains_key("AWS_ACCESS_KEY_ID"));
        assert_eq!(
            spec.max_instances, 2,
            "ReservedConcurrentExecutions caps the pool"
        );
    }

    #[test]
    fn the_env_vars_file_has_sam_locals_format() {
        let p = std::env::temp_dir().join(format!("lgw-env-{}.json", std::process::id()));
        std::fs::write(
            &p,
            r#"{"Parameters": {"A": "1", "N": 2}, "LoginFunction": {"B": true}}"#,
        )
        .unwrap();
        let m = read_env_vars(&p).unwrap();
        std::fs::write(&p, r#"{"Parameters": {"A": [1]}}"#).unwrap();
        let err = read_env_vars(&p).unwrap_err().to_string();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(m["Parameters"]["A"], "1");
        assert_eq!(m["Parameters"]["N"], "2");
        assert_eq!(m["LoginFunction"]["B"], "true");
        assert!(err.contains("Parameters.A"), "{err}");
    }
}
