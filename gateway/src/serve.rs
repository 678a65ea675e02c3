//! The two commands of the binary: `serve` and `dynamodb`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::apigw::Gateway;
use crate::cli::{Command, DynamoDbArgs, ServeArgs, find_template};
use crate::dynamodb::{
    DynamoDbLocal, LocalOptions, client_for_endpoint, ensure_table_from_def, schema_drift,
    wait_for_endpoint,
};
use crate::dynamodb_supervisor::Supervisor;
use crate::error::{Error, Result};
use crate::runtime::limits::{Limits, MB_PER_VCPU};
use crate::runtime::{FunctionSpec, LambdaRuntime};
use crate::template::{FunctionConfig, ResolveOptions, Template};

/// Runs a parsed command to the end; returns the process exit code (2 for bad configuration).
pub async fn run(cmd: Command) -> i32 {
    let result = match cmd {
        Command::Help(text) => {
            println!("{}", text.trim_end());
            return 0;
        }
        Command::Serve(args) => serve(*args).await,
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
    log_format: Option<&str>,
) -> Result<FunctionSpec> {
    let executable = bin_dir.join(&f.binary);
    if !executable.is_file() {
        return Err(Error::config(format!(
            "binary {} not found: run `cargo build --bins` first",
            shown(&executable)
        )));
    }
    let mut env = common.clone();
    // As Lambda's advanced logging controls: the format always, the application log level
    // only for JSON logs (Lambda filters Text logs by nothing). `--log-format` overrides
    // the template. The functions' tracing setup (lambda_runtime) reads both; a RUST_LOG
    // with valid directives wins over the level.
    let format = log_format.unwrap_or(&f.log_format);
    env.insert("AWS_LAMBDA_LOG_FORMAT".into(), format.to_string());
    if let Some(level) = &f.log_level
        && format == "JSON"
    {
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

/// The name of the key file in the local data folder.
const LOCAL_KEY_FILE: &str = "local-jwt-secret";

/// The development signing key kept in the local data folder `dir`: made (random, 48 bytes
/// as hex, readable by the owner only) the first time, read after that, so the tokens of a
/// run still work after a restart, as the users they name are still in the data. Deleting
/// the folder resets both. Returns the key and its file.
fn local_jwt_secret(dir: &Path) -> Result<(String, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = dir.join(LOCAL_KEY_FILE);
    let bad = |e: std::io::Error| Error::config(format!("local JWT key {}: {e}", file.display()));
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let key = text.trim().to_string();
            if key.len() < 32 {
                return Err(Error::config(format!(
                    "local JWT key {} is shorter than 32 bytes: delete it and a new one is made",
                    file.display()
                )));
            }
            return Ok((key, file));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(bad(e)),
    }
    std::fs::create_dir_all(dir).map_err(bad)?;
    let key = crate::util::random_hex(48);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .map_err(bad)?;
    f.write_all(format!("{key}\n").as_bytes()).map_err(bad)?;
    Ok((key, file))
}

/// One line for the functions that could not start: the first one's reason in full, the
/// others by name (they usually fail for the same reason, e.g. the same JWT_SECRET).
fn start_failure(failed: &[(String, String)]) -> String {
    let Some((first, why)) = failed.first() else {
        return "a function failed to start".into();
    };
    let mut msg = format!("{first} failed to start: {why}");
    if failed.len() > 1 {
        let others: Vec<&str> = failed[1..].iter().map(|(n, _)| n.as_str()).collect();
        msg.push_str(&format!("; also failed: {}", others.join(", ")));
    }
    msg
}

/// The warning for a kept table whose keys or indexes are not the template's.
fn warn_drift(name: &str, drift: &[String], local: Option<&LocalOptions>, endpoint: &str) {
    let reset = match local.and_then(|o| o.data_dir.as_ref()) {
        Some(dir) => format!(
            "stop the gateway and delete {} (the local data and the local JWT key are lost), or run with --in-memory",
            shown(dir)
        ),
        None => format!(
            "delete the table (aws dynamodb delete-table --table-name {name} --endpoint-url {endpoint}) and restart the gateway, which creates it again"
        ),
    };
    tracing::warn!(
        "[gateway] WARNING: table {name} was created from an older template and is kept as it was: {}. Requests that need the template's schema will fail. To start afresh: {reset}",
        drift.join("; ")
    );
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
    let mut options = ResolveOptions {
        parameter_overrides: args.parameter_overrides.iter().cloned().collect(),
        table_name: args.table_name.clone(),
        jwt_secret: String::new(),
        env_overrides: match &args.env_vars {
            Some(p) => read_env_vars(p)?,
            None => BTreeMap::new(),
        },
        region: Some(region.clone()),
    };
    // Check the template and every binary before anything is written or started.
    for f in &template.resolve(&options)?.functions {
        function_spec(f, &bin_dir, &BTreeMap::new(), 1, None)?;
    }
    // Bind early so a taken port fails fast, but only say "listening" once everything is up.
    let api_listener = bind(&args.host, args.port, "API").await?;
    let lambda_listener = match args.lambda_port {
        Some(p) => Some(bind(&args.host, p, "Lambda invoke API").await?),
        None => None,
    };
    // An outside test can set JWT_SECRET to mint tokens the functions accept.
    options.jwt_secret = match std::env::var("JWT_SECRET").ok().filter(|s| !s.is_empty()) {
        Some(s) => s,
        None => {
            let data =
                LocalOptions::for_project(&project, args.in_memory, args.data_dir.clone(), 0)
                    .data_dir;
            match data {
                Some(dir) => {
                    let (key, file) = local_jwt_secret(&dir)?;
                    tracing::info!(
                        "[gateway] tokens are signed with the local key in {} (kept between runs; JWT_SECRET overrides it)",
                        shown(&file)
                    );
                    key
                }
                // --in-memory: nothing is kept, the key neither.
                None => crate::util::random_hex(48),
            }
        }
    };
    let app = template.resolve(&options)?;

    // Where DynamoDB will listen is known before it runs, so the functions start meanwhile.
    let (endpoint, local_opts) = match &args.dynamodb_endpoint {
        Some(e) => (e.clone(), None),
        None => {
            let port = crate::util::free_loopback_port()
                .map_err(|e| Error::Runtime(format!("cannot find a free port: {e}")))?;
            let opts =
                LocalOptions::for_project(&project, args.in_memory, args.data_dir.clone(), port);
            (format!("http://127.0.0.1:{port}"), Some(opts))
        }
    };
    let common = common_env(&region, &endpoint, &bin_dir);
    let specs = app
        .functions
        .iter()
        .map(|f| {
            function_spec(
                f,
                &bin_dir,
                &common,
                args.max_instances,
                args.log_format.as_deref(),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let runtime = Arc::new(LambdaRuntime::new(specs, &region));
    let limits = if args.limits {
        match Limits::detect() {
            Ok(l) => {
                tracing::info!(
                    "[gateway] memory and CPU like Lambda: each instance gets its MemorySize and MemorySize/{MB_PER_VCPU} of a CPU (--limits off to lift them)"
                );
                let l = Arc::new(l);
                runtime.set_limits(l.clone());
                Some(l)
            }
            Err(why) => {
                tracing::info!("[gateway] memory and CPU limits are off: {why}");
                None
            }
        }
    } else {
        None
    };
    let storage = async {
        let local = match &local_opts {
            Some(opts) => {
                let ddb = DynamoDbLocal::start(opts).await?;
                tracing::info!(
                    "[gateway] DynamoDB Local listening on {} (pid {})",
                    ddb.endpoint(),
                    ddb.pid()
                );
                Some(ddb)
            }
            None => {
                wait_for_endpoint(&endpoint, args.dynamodb_wait).await?;
                None
            }
        };
        let client = client_for_endpoint(&endpoint);
        for (name, def) in &app.tables {
            ensure_table_from_def(&client, def, name).await?;
            let drift = schema_drift(&client, def, name).await?;
            if drift.is_empty() {
                tracing::info!("[gateway] table {name} is ready");
            } else {
                warn_drift(name, &drift, local_opts.as_ref(), &endpoint);
            }
        }
        Ok::<_, Error>(local)
    };
    // Every function starts once now (sam's --warm-containers EAGER): a function that cannot
    // start (a short JWT_SECRET, a bad setting) stops the gateway with its own message.
    let functions = async {
        runtime
            .start_all()
            .await
            .map_err(|failed| Error::config(start_failure(&failed)))
    };
    let local = match tokio::try_join!(storage, functions) {
        Ok((local, ())) => local.zip(local_opts.clone()),
        Err(e) => {
            runtime.shutdown().await;
            if let Some(l) = &limits {
                l.remove();
            }
            return Err(e);
        }
    };
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

    if args.watch {
        crate::watch::spawn(project.clone())?;
    }

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
    if let Some(l) = &limits {
        l.remove();
    }
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
    use std::time::Duration;

    #[test]
    fn a_missing_binary_is_named_with_the_build_hint() {
        let t = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
        let app = t.resolve(&ResolveOptions::default()).unwrap();
        let err = function_spec(
            &app.functions[0],
            Path::new("/nonexistent/debug"),
            &BTreeMap::new(),
            10,
            None,
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
            log_format: "JSON".into(),
            log_level: Some("DEBUG".into()),
            reserved_concurrency: Some(2),
            events: vec![],
        };
        let common = common_env("eu-west-1", "http://127.0.0.1:9", &dir);
        let spec = function_spec(&f, &dir, &common, 10, None).unwrap();
        let text = function_spec(&f, &dir, &common, 10, Some("Text")).unwrap();
        std::fs::remove_file(&exe).unwrap();
        assert_eq!(spec.env["AWS_REGION"], "eu-west-1");
        assert_eq!(spec.env["AWS_DEFAULT_REGION"], "eu-west-1");
        assert_eq!(spec.env["AWS_LAMBDA_LOG_FORMAT"], "JSON", "the template's");
        assert_eq!(spec.env["AWS_LAMBDA_LOG_LEVEL"], "DEBUG");
        assert_eq!(
            text.env["AWS_LAMBDA_LOG_FORMAT"], "Text",
            "--log-format text"
        );
        assert!(
            !text.env.contains_key("AWS_LAMBDA_LOG_LEVEL"),
            "Lambda filters JSON logs only"
        );
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
    fn the_local_key_is_made_once_kept_private_and_read_again() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("dynamodb-data");
        let (first, file) = local_jwt_secret(&data).unwrap();
        assert_eq!(file, data.join(LOCAL_KEY_FILE));
        assert!(first.len() >= 32);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, _) = local_jwt_secret(&data).unwrap();
        assert_eq!(first, again, "a restart signs with the same key");
        std::fs::write(&file, "short\n").unwrap();
        let err = local_jwt_secret(&data).unwrap_err().to_string();
        assert!(err.contains("shorter than 32 bytes"), "{err}");
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
