//! Command-line arguments, read with clap; every error is one line, as scripts and the
//! tests expect, and exits with code 2 (see `main.rs`).
//!
//! With no subcommand the options are `serve`'s, so `local_gateway --port 0` serves. The
//! environment fallbacks (`$PORT`, `$DYNAMODB_ENDPOINT`) are applied after parsing through
//! the `env` function given to [`parse`], so tests never depend on the process environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::{ContextKind, ErrorKind};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::http_server::Timeouts;

const AFTER_HELP: &str = "\
Environment: PORT (serve's --port), DYNAMODB_ENDPOINT (--dynamodb-endpoint), JWT_SECRET (else a
random one), RUST_LOG (passed to functions), AWS_REGION.";

/// The command line as clap reads it.
#[derive(Debug, Parser)]
#[command(
    name = "local_gateway",
    version,
    about = "Serve the SAM template's API locally: API Gateway and Lambda without Docker.",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// With no subcommand: `serve`'s options.
    #[command(flatten)]
    serve: ServeOpts,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Serve the API of template.yaml on http://127.0.0.1:3000 (the default command).
    Serve(Box<ServeOpts>),
    /// Only run DynamoDB Local in the foreground.
    Dynamodb(DynamoDbOpts),
    /// Write the sample events' fixtures (user 1, post 1) into a table; idempotent, and
    /// creates the table from the template when missing.
    Seed(SeedOpts),
    /// Print a fresh token for the sample events (development key).
    EventToken(EventTokenOpts),
    /// Backfill the sharded feed keys and search postings of posts written before them;
    /// idempotent and resumable, safe while the API serves (docs/data-model.md, "Migrating").
    Migrate(MigrateOpts),
    /// Bulk-write N test posts in the current item layout (for make bench-scale).
    #[command(hide = true)]
    SeedPosts(SeedPostsOpts),
}

#[derive(Debug, Args)]
struct ServeOpts {
    /// SAM template [default: template.yaml here or in a parent folder]
    #[arg(short, long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// Address to listen on
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// API port; 0 picks a free port [default: $PORT, else 3000]
    #[arg(short, long, value_name = "PORT", value_parser = port_arg, allow_negative_numbers = true)]
    port: Option<u16>,
    /// Where the function binaries are [default: <project>/target/debug]
    #[arg(short, long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Use this DynamoDB [default: $DYNAMODB_ENDPOINT, else start DynamoDB Local]
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// How long to wait at start for --dynamodb-endpoint to answer [default: 10]
    #[arg(long, value_name = "SECS", value_parser = seconds, allow_negative_numbers = true)]
    dynamodb_wait: Option<Duration>,
    /// DynamoDB Local keeps no data between runs, nor when it is restarted (the gateway
    /// restarts its DynamoDB Local when that dies)
    #[arg(long)]
    in_memory: bool,
    /// DynamoDB Local data [default: <project>/.local/dynamodb-data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Local name of the table [default: its logical id]
    #[arg(long, value_name = "NAME")]
    table_name: Option<String>,
    /// {"Parameters": {VAR: value}, "<Function>": {VAR: value}}, like sam local
    #[arg(short, long, value_name = "FILE.json")]
    env_vars: Option<PathBuf>,
    /// Override template parameters (KEY=VALUE, or sam's ParameterKey=K,ParameterValue=V)
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = parse_override)]
    parameter_overrides: Vec<(String, String)>,
    /// Also serve the Lambda Invoke API on this port
    #[arg(long, value_name = "PORT", value_parser = port_arg, allow_negative_numbers = true)]
    lambda_port: Option<u16>,
    /// Concurrent instances per function
    #[arg(long, value_name = "N", default_value = "10", value_parser = positive, allow_negative_numbers = true)]
    max_instances: usize,
    /// Close a connection whose request headers take longer (seconds, fractions allowed;
    /// applies to the API and the Invoke API) [default: 10]
    #[arg(long, value_name = "SECS", value_parser = seconds, allow_negative_numbers = true)]
    header_read_timeout: Option<Duration>,
    /// Close a connection whose request body takes longer [default: 30]
    #[arg(long, value_name = "SECS", value_parser = seconds, allow_negative_numbers = true)]
    body_read_timeout: Option<Duration>,
    /// Close a connection that waits longer for a request [default: 60]
    #[arg(long, value_name = "SECS", value_parser = seconds, allow_negative_numbers = true)]
    idle_timeout: Option<Duration>,
    /// Function log format: each function's LoggingConfig.LogFormat (`template`), or `text`
    /// or `json` for all
    #[arg(long, value_name = "FORMAT", default_value = "template", value_parser = ["template", "text", "json"])]
    log_format: String,
    /// Also append every log line (requests, function output) to FILE
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// Memory and CPU like Lambda: each instance gets its MemorySize as a memory limit and
    /// MemorySize/1769 of a CPU (cgroups; `auto`: where the machine allows, else a line says
    /// why), or `off`
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = ["auto", "off"])]
    limits: String,
    /// Rebuild the function binaries (cargo build) when a source file changes; the gateway
    /// runs each function's new binary from its next request
    #[arg(long)]
    watch: bool,
}

#[derive(Debug, Args)]
struct DynamoDbOpts {
    /// SAM template, only used to find the project folder
    #[arg(short, long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// Port to listen on
    #[arg(short, long, value_name = "PORT", default_value = "8000", value_parser = port_arg, allow_negative_numbers = true)]
    port: u16,
    /// Keep no data between runs
    #[arg(long)]
    in_memory: bool,
    /// DynamoDB Local data [default: <project>/.local/dynamodb-data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SeedOpts {
    /// SAM template [default: template.yaml here or in a parent folder]
    #[arg(short, long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// DynamoDB to write to [default: $DYNAMODB_ENDPOINT, else http://127.0.0.1:8000]
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// Local name of the table [default: its logical id, as for serve]
    #[arg(long, value_name = "NAME")]
    table_name: Option<String>,
}

#[derive(Debug, Args)]
struct EventTokenOpts {
    /// SAM template [default: template.yaml here or in a parent folder]
    #[arg(short, long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// The file whose Parameters.JWT_SECRET signs [default: sam-local-env.json beside the
    /// template]
    #[arg(short, long, value_name = "FILE")]
    env_vars: Option<PathBuf>,
    /// Also replace the token in events/*.json
    #[arg(long)]
    update_events: bool,
}

#[derive(Debug, Args)]
struct MigrateOpts {
    /// SAM template: the table's name and the default --feed-shards [default: template.yaml
    /// here or in a parent folder]
    #[arg(short, long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// DynamoDB to migrate: DynamoDB Local, or https://dynamodb.<region>.amazonaws.com (then
    /// the AWS credentials of the environment or profile) [default: $DYNAMODB_ENDPOINT, else
    /// http://127.0.0.1:8000]
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// Table name; for a deployed stack its physical name [default: its logical id]
    #[arg(long, value_name = "NAME")]
    table_name: Option<String>,
    /// AWS region [default: the endpoint's, else AWS_REGION or the profile's]
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// The functions' FEED_SHARDS; may only grow [default: the template's FeedShards]
    #[arg(long, value_name = "N", value_parser = feed_shards_arg)]
    feed_shards: Option<u32>,
    /// Parallel Scan segments (a checkpoint is resumed only with the same number)
    #[arg(long, value_name = "N", default_value = "4", value_parser = positive_u32)]
    segments: u32,
    /// Items evaluated per Scan page (a checkpoint step)
    #[arg(long, value_name = "N", default_value = "200", value_parser = positive_u32)]
    page_size: u32,
    /// Posts backfilled at once per segment
    #[arg(long, value_name = "N", default_value = "8", value_parser = positive, allow_negative_numbers = true)]
    concurrency: usize,
    /// Checkpoint file [default: migrate-<table>.checkpoint.json here]
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Ignore an existing checkpoint and scan the whole table again (the default resumes)
    #[arg(long)]
    from_scratch: bool,
    /// Only read, and report what would be migrated and repaired
    #[arg(long)]
    dry_run: bool,
    /// Stop after about N posts (at the end of a page), resumable
    #[arg(long, value_name = "N", value_parser = positive_u64)]
    max_posts: Option<u64>,
}

#[derive(Debug, Args)]
struct SeedPostsOpts {
    /// SAM template [default: template.yaml here or in a parent folder]
    #[arg(short, long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// DynamoDB to write to [default: $DYNAMODB_ENDPOINT, else http://127.0.0.1:8000]
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// Local name of the table [default: its logical id]
    #[arg(long, value_name = "NAME")]
    table_name: Option<String>,
    /// Posts to write
    #[arg(long, value_name = "N", value_parser = positive_u64)]
    count: u64,
    /// The word in every --rare-every'th title (the search-hit case)
    #[arg(long, value_name = "WORD", default_value = "zephyr")]
    rare_word: String,
    /// One title in this many has the rare word
    #[arg(long, value_name = "N", default_value = "100", value_parser = positive_u64)]
    rare_every: u64,
    /// [default: the template's FeedShards]
    #[arg(long, value_name = "N", value_parser = feed_shards_arg)]
    feed_shards: Option<u32>,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve the API.
    Serve(Box<ServeArgs>),
    /// Run DynamoDB Local only.
    DynamoDb(DynamoDbArgs),
    /// Write the sample events' fixtures.
    Seed(SeedArgs),
    /// Print a token for the sample events.
    EventToken(EventTokenArgs),
    /// Backfill the new index items of old posts.
    Migrate(MigrateArgs),
    /// Bulk-write test posts (hidden).
    SeedPosts(SeedPostsArgs),
    /// Print this text (`--help` or `--version`) on stdout and exit 0.
    Help(String),
}

/// Options of `serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    /// `--template` (else searched from the current folder upwards).
    pub template: Option<PathBuf>,
    /// `--host`.
    pub host: String,
    /// `--port` or `$PORT`, default 3000.
    pub port: u16,
    /// `--bin-dir` (else `<project>/target/debug`).
    pub bin_dir: Option<PathBuf>,
    /// `--dynamodb-endpoint` or `$DYNAMODB_ENDPOINT`.
    pub dynamodb_endpoint: Option<String>,
    /// `--dynamodb-wait`: how long an outside endpoint may take to answer at start.
    pub dynamodb_wait: Duration,
    /// `--in-memory`.
    pub in_memory: bool,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--table-name`.
    pub table_name: Option<String>,
    /// `--env-vars`.
    pub env_vars: Option<PathBuf>,
    /// `--parameter-overrides`.
    pub parameter_overrides: Vec<(String, String)>,
    /// `--lambda-port`.
    pub lambda_port: Option<u16>,
    /// `--max-instances`.
    pub max_instances: usize,
    /// `--header-read-timeout`, `--body-read-timeout`, `--idle-timeout`.
    pub timeouts: Timeouts,
    /// `--watch`.
    pub watch: bool,
    /// `--log-format`: `None` follows the template, else `Text` or `JSON` for every function.
    pub log_format: Option<String>,
    /// `--log-file`.
    pub log_file: Option<PathBuf>,
    /// `--limits`: `false` for `off`.
    pub limits: bool,
}

/// Options of `dynamodb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoDbArgs {
    /// `--template`: only used to find the project folder.
    pub template: Option<PathBuf>,
    /// `--port`, default 8000.
    pub port: u16,
    /// `--in-memory`.
    pub in_memory: bool,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// Options of `seed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedArgs {
    /// `--template` (else searched from the current folder upwards).
    pub template: Option<PathBuf>,
    /// `--dynamodb-endpoint`, else `$DYNAMODB_ENDPOINT`, else `http://127.0.0.1:8000` (where
    /// `local_gateway dynamodb` listens by default).
    pub dynamodb_endpoint: String,
    /// `--table-name` (else the table's logical id, as `serve` names it).
    pub table_name: Option<String>,
}

/// Options of `event-token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTokenArgs {
    /// `--template` (else searched from the current folder upwards).
    pub template: Option<PathBuf>,
    /// `--env-vars`: the file with the development key (else `sam-local-env.json`).
    pub env_vars: Option<PathBuf>,
    /// `--update-events`.
    pub update_events: bool,
}

/// Options of `migrate` (see its `--help`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateArgs {
    /// `--template`.
    pub template: Option<PathBuf>,
    /// `--dynamodb-endpoint`, else `$DYNAMODB_ENDPOINT`, else `http://127.0.0.1:8000`.
    pub dynamodb_endpoint: String,
    /// `--table-name`.
    pub table_name: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--feed-shards` (else the template's).
    pub feed_shards: Option<u32>,
    /// `--segments`.
    pub segments: u32,
    /// `--page-size`.
    pub page_size: u32,
    /// `--concurrency`.
    pub concurrency: usize,
    /// `--checkpoint`.
    pub checkpoint: Option<PathBuf>,
    /// `--from-scratch`.
    pub from_scratch: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--max-posts`.
    pub max_posts: Option<u64>,
}

/// Options of the hidden `seed-posts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedPostsArgs {
    /// `--template`.
    pub template: Option<PathBuf>,
    /// `--dynamodb-endpoint`, else `$DYNAMODB_ENDPOINT`, else `http://127.0.0.1:8000`.
    pub dynamodb_endpoint: String,
    /// `--table-name`.
    pub table_name: Option<String>,
    /// `--count`.
    pub count: u64,
    /// `--rare-word`.
    pub rare_word: String,
    /// `--rare-every`.
    pub rare_every: u64,
    /// `--feed-shards`.
    pub feed_shards: Option<u32>,
}

fn positive_u32(v: &str) -> std::result::Result<u32, String> {
    v.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{v:?} is not a positive number"))
}

fn positive_u64(v: &str) -> std::result::Result<u64, String> {
    v.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{v:?} is not a positive number"))
}

fn feed_shards_arg(v: &str) -> std::result::Result<u32, String> {
    let max = shared::config::MAX_FEED_SHARDS;
    v.parse()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("{v:?} is not a number of feed shards (1..={max})"))
}

fn port_arg(v: &str) -> std::result::Result<u16, String> {
    v.parse().map_err(|_| format!("{v:?} is not a port number"))
}

fn positive(v: &str) -> std::result::Result<usize, String> {
    v.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{v:?} is not a positive number"))
}

/// A timeout in seconds, fractions allowed (`0.5`), to the millisecond; at most a day.
fn seconds(v: &str) -> std::result::Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && *s <= 86_400.0)
        .map(|s| Duration::from_millis(((s * 1000.0).round() as u64).max(1)))
        .ok_or_else(|| format!("{v:?} is not a number of seconds (above 0, at most 86400)"))
}

/// `Key=Value`, or sam's `ParameterKey=Key,ParameterValue=Value`.
fn parse_override(item: &str) -> std::result::Result<(String, String), String> {
    if let Some(rest) = item.strip_prefix("ParameterKey=")
        && let Some((k, v)) = rest.split_once(",ParameterValue=")
    {
        return Ok((k.to_string(), v.to_string()));
    }
    match item.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{item:?} is not KEY=VALUE")),
    }
}

/// Clap's error as one line naming the option (scripts and logs read one line).
fn one_line(e: &clap::Error, command: &str) -> Error {
    let context = |kind| e.get(kind).map(ToString::to_string).unwrap_or_default();
    let arg = context(ContextKind::InvalidArg);
    // `--port <PORT>` -> `--port`
    let flag = arg.split_whitespace().next().unwrap_or_default();
    let msg = match e.kind() {
        ErrorKind::UnknownArgument => {
            let hint = e
                .get(ContextKind::SuggestedArg)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            format!("unknown option {arg} for `{command}` (see --help){hint}")
        }
        ErrorKind::InvalidValue if context(ContextKind::InvalidValue).is_empty() => {
            format!("{flag} needs a value: {arg}")
        }
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e)
                .map(ToString::to_string)
                .unwrap_or_default();
            format!("{flag}: {why}")
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        }
    };
    Error::config(msg)
}

/// Parses the arguments after the program name; `env` reads environment variables.
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Command> {
    let command = args
        .first()
        .map(String::as_str)
        .filter(|c| {
            [
                "serve",
                "dynamodb",
                "seed",
                "event-token",
                "migrate",
                "seed-posts",
            ]
            .contains(c)
        })
        .unwrap_or("serve");
    let argv = std::iter::once("local_gateway".to_string()).chain(args.iter().cloned());
    let matches = match Cli::command().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            return Ok(Command::Help(e.render().to_string()));
        }
        Err(e) => return Err(one_line(&e, command)),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| one_line(&e, command))?;
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    Ok(match cli.command {
        None => Command::Serve(Box::new(serve_args(cli.serve, &env)?)),
        Some(Sub::Serve(o)) => Command::Serve(Box::new(serve_args(*o, &env)?)),
        Some(Sub::Dynamodb(o)) => Command::DynamoDb(DynamoDbArgs {
            template: o.template,
            port: o.port,
            in_memory: o.in_memory,
            data_dir: o.data_dir,
        }),
        Some(Sub::Seed(o)) => Command::Seed(SeedArgs {
            template: o.template,
            dynamodb_endpoint: o
                .dynamodb_endpoint
                .or_else(|| env("DYNAMODB_ENDPOINT"))
                .unwrap_or_else(|| "http://127.0.0.1:8000".into()),
            table_name: o.table_name,
        }),
        Some(Sub::EventToken(o)) => Command::EventToken(EventTokenArgs {
            template: o.template,
            env_vars: o.env_vars,
            update_events: o.update_events,
        }),
        Some(Sub::Migrate(o)) => Command::Migrate(MigrateArgs {
            template: o.template,
            dynamodb_endpoint: endpoint_or_default(o.dynamodb_endpoint, &env),
            table_name: o.table_name,
            region: o.region,
            feed_shards: o.feed_shards,
            segments: o.segments,
            page_size: o.page_size,
            concurrency: o.concurrency,
            checkpoint: o.checkpoint,
            from_scratch: o.from_scratch,
            dry_run: o.dry_run,
            max_posts: o.max_posts,
        }),
        Some(Sub::SeedPosts(o)) => Command::SeedPosts(SeedPostsArgs {
            template: o.template,
            dynamodb_endpoint: endpoint_or_default(o.dynamodb_endpoint, &env),
            table_name: o.table_name,
            count: o.count,
            rare_word: o.rare_word,
            rare_every: o.rare_every,
            feed_shards: o.feed_shards,
        }),
    })
}

/// `--dynamodb-endpoint`, else `$DYNAMODB_ENDPOINT`, else where `local_gateway dynamodb`
/// listens by default.
fn endpoint_or_default(given: Option<String>, env: &impl Fn(&str) -> Option<String>) -> String {
    given
        .or_else(|| env("DYNAMODB_ENDPOINT"))
        .unwrap_or_else(|| "http://127.0.0.1:8000".into())
}

fn serve_args(o: ServeOpts, env: &impl Fn(&str) -> Option<String>) -> Result<ServeArgs> {
    let port = match (o.port, env("PORT")) {
        (Some(p), _) => p,
        (None, Some(p)) => port_arg(&p).map_err(|e| Error::config(format!("PORT: {e}")))?,
        (None, None) => 3000,
    };
    let defaults = Timeouts::default();
    Ok(ServeArgs {
        template: o.template,
        host: o.host,
        port,
        bin_dir: o.bin_dir,
        dynamodb_endpoint: o.dynamodb_endpoint.or_else(|| env("DYNAMODB_ENDPOINT")),
        dynamodb_wait: o.dynamodb_wait.unwrap_or(Duration::from_secs(10)),
        in_memory: o.in_memory,
        data_dir: o.data_dir,
        table_name: o.table_name,
        env_vars: o.env_vars,
        parameter_overrides: o.parameter_overrides,
        lambda_port: o.lambda_port,
        max_instances: o.max_instances,
        timeouts: Timeouts {
            header_read: o.header_read_timeout.unwrap_or(defaults.header_read),
            body_read: o.body_read_timeout.unwrap_or(defaults.body_read),
            idle: o.idle_timeout.unwrap_or(defaults.idle),
        },
        watch: o.watch,
        log_format: match o.log_format.as_str() {
            "text" => Some("Text".into()),
            "json" => Some("JSON".into()),
            _ => None,
        },
        log_file: o.log_file,
        limits: o.limits != "off",
    })
}

/// The template to use: `given`, else `template.yaml` in `cwd` or the nearest parent folder.
pub fn find_template(given: Option<&Path>, cwd: &Path) -> Result<PathBuf> {
    if let Some(p) = given {
        if !p.is_file() {
            return Err(Error::config(format!("template {} not found", p.display())));
        }
        return Ok(p.to_path_buf());
    }
    for dir in cwd.ancestors() {
        let candidate = dir.join("template.yaml");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::config(format!(
        "template.yaml not found in {} or its parents: pass --template FILE",
        cwd.display()
    )))
}

#[cfg(test)]
mod tests;
