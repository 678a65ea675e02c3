//! Command-line arguments (hand-parsed: four small subcommands do not justify a parser crate).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::http_server::Timeouts;

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
Usage:
  local_gateway [serve] [options]     serve the API of template.yaml on http://127.0.0.1:3000
  local_gateway dynamodb [options]    only run DynamoDB Local in the foreground
  local_gateway seed [options]        write the sample events' fixtures (user 1, post 1) into a table
  local_gateway event-token [options] print a fresh token for the sample events (development key)

serve options:
  --template FILE              SAM template (default: template.yaml here or in a parent folder)
  --host HOST                  address to listen on (default 127.0.0.1)
  --port PORT                  API port (default $PORT or 3000; 0 picks a free port)
  --bin-dir DIR                where the function binaries are (default <project>/target/debug)
  --dynamodb-endpoint URL      use this DynamoDB (default $DYNAMODB_ENDPOINT, else start DynamoDB Local)
  --in-memory                  DynamoDB Local keeps no data between runs, nor when it is restarted
                               (the gateway restarts its DynamoDB Local when that dies)
  --data-dir DIR               DynamoDB Local data (default <project>/.local/dynamodb-data)
  --table-name NAME            local name of the table (default: its logical id)
  --env-vars FILE.json         {\"Parameters\": {VAR: value}, \"<Function>\": {VAR: value}}, like sam local
  --parameter-overrides K=V... override template parameters
  --lambda-port PORT           also serve the Lambda Invoke API on this port
  --max-instances N            concurrent instances per function (default 10)
  --header-read-timeout SECS   close a connection whose request headers take longer (default 10)
  --body-read-timeout SECS     close a connection whose request body takes longer (default 30)
  --idle-timeout SECS          close a connection that waits longer for a request (default 60)
                               (the three apply to the API and the Invoke API; fractions allowed)

dynamodb options:
  --port PORT (default 8000), --in-memory, --data-dir DIR, --template FILE

seed options (idempotent; creates the table from the template when missing):
  --dynamodb-endpoint URL (default $DYNAMODB_ENDPOINT, else http://127.0.0.1:8000),
  --table-name NAME (default: the table's logical id, as for serve), --template FILE

event-token options:
  --env-vars FILE (default sam-local-env.json beside the template: its Parameters.JWT_SECRET
  signs), --update-events (also replace the token in events/*.json), --template FILE

Environment: JWT_SECRET (else a random one), RUST_LOG (passed to functions), AWS_REGION.";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Run DynamoDB Local only.
    DynamoDb(DynamoDbArgs),
    /// Write the sample events' fixtures.
    Seed(SeedArgs),
    /// Print a token for the sample events.
    EventToken(EventTokenArgs),
    /// Print the usage.
    Help,
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

/// One option on the command line: `--name`, `--name=inline`, or a stray word.
struct Arg {
    /// As typed.
    raw: String,
    /// The option's name (`--port`), without an `=value`.
    name: String,
    /// The value given with `=`.
    inline: Option<String>,
}

impl Arg {
    fn is_help(&self) -> bool {
        self.raw == "-h" || self.raw == "--help"
    }
}

/// Reads options one by one, the same way for every subcommand: a value follows its option
/// (`--port 3000`) or is attached to it (`--port=3000`).
struct Flags<'a> {
    args: &'a [String],
    next: usize,
}

impl<'a> Flags<'a> {
    fn new(args: &'a [String]) -> Self {
        Self { args, next: 0 }
    }

    fn next_flag(&mut self) -> Option<Arg> {
        let raw = self.args.get(self.next)?.clone();
        self.next += 1;
        let (name, inline) = match raw.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (raw.clone(), None),
        };
        Some(Arg { raw, name, inline })
    }

    /// The value of `arg`: attached, or the next word unless that is an option.
    fn value(&mut self, arg: &Arg) -> Result<String> {
        if let Some(v) = &arg.inline {
            return Ok(v.clone());
        }
        match self.args.get(self.next) {
            Some(v) if !v.starts_with("--") => {
                self.next += 1;
                Ok(v.clone())
            }
            _ => Err(Error::config(format!("{} needs a value", arg.name))),
        }
    }

    /// Every value of `arg`: the attached one and all the words up to the next option.
    fn values(&mut self, arg: &Arg) -> Vec<String> {
        let mut items: Vec<String> = arg.inline.iter().cloned().collect();
        while let Some(v) = self.args.get(self.next).filter(|v| !v.starts_with("--")) {
            items.push(v.clone());
            self.next += 1;
        }
        items
    }
}

/// Parses the options of `seed` or `event-token` (after the subcommand's name).
fn parse_tool(
    name: &str,
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command> {
    let mut seed = SeedArgs {
        template: None,
        dynamodb_endpoint: env("DYNAMODB_ENDPOINT")
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| "http://127.0.0.1:8000".into()),
        table_name: None,
    };
    let mut token = EventTokenArgs {
        template: None,
        env_vars: None,
        update_events: false,
    };
    let is_seed = name == "seed";
    let mut flags = Flags::new(args);
    while let Some(arg) = flags.next_flag() {
        if arg.is_help() {
            return Ok(Command::Help);
        }
        let flag = arg.name.as_str();
        let mut value = || flags.value(&arg);
        match (is_seed, flag) {
            (_, "--template") => {
                let v = PathBuf::from(value()?);
                seed.template = Some(v.clone());
                token.template = Some(v);
            }
            (true, "--dynamodb-endpoint") => seed.dynamodb_endpoint = value()?,
            (true, "--table-name") => seed.table_name = Some(value()?),
            (false, "--env-vars") => token.env_vars = Some(PathBuf::from(value()?)),
            (false, "--update-events") => token.update_events = true,
            _ => {
                return Err(Error::config(format!(
                    "unknown option {} for `{name}` (see --help)",
                    arg.raw
                )));
            }
        }
    }
    Ok(if is_seed {
        Command::Seed(seed)
    } else {
        Command::EventToken(token)
    })
}

fn port(flag: &str, v: &str) -> Result<u16> {
    v.parse()
        .map_err(|_| Error::config(format!("{flag}: {v:?} is not a port number")))
}

/// A timeout in seconds, fractions allowed (`0.5`), to the millisecond; at most a day.
fn seconds(flag: &str, v: &str) -> Result<Duration> {
    v.parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && *s <= 86_400.0)
        .map(|s| Duration::from_millis(((s * 1000.0).round() as u64).max(1)))
        .ok_or_else(|| {
            Error::config(format!(
                "{flag}: {v:?} is not a number of seconds (above 0, at most 86400)"
            ))
        })
}

/// Parses the arguments after the program name; `env` reads environment variables.
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Command> {
    if let Some(name @ ("seed" | "event-token")) = args.first().map(String::as_str) {
        return parse_tool(name, &args[1..], env);
    }
    let mut rest: &[String] = args;
    let dynamodb = match rest.first().map(String::as_str) {
        Some("serve") => {
            rest = &rest[1..];
            false
        }
        Some("dynamodb") => {
            rest = &rest[1..];
            true
        }
        _ => false,
    };
    let mut serve = ServeArgs {
        template: None,
        host: "127.0.0.1".into(),
        port: match env("PORT").filter(|p| !p.is_empty()) {
            Some(p) => port("PORT", &p)?,
            None => 3000,
        },
        bin_dir: None,
        dynamodb_endpoint: env("DYNAMODB_ENDPOINT").filter(|e| !e.is_empty()),
        in_memory: false,
        data_dir: None,
        table_name: None,
        env_vars: None,
        parameter_overrides: Vec::new(),
        lambda_port: None,
        max_instances: 10,
        timeouts: Timeouts::default(),
    };
    let mut ddb = DynamoDbArgs {
        template: None,
        port: 8000,
        in_memory: false,
        data_dir: None,
    };

    let mut flags = Flags::new(rest);
    while let Some(arg) = flags.next_flag() {
        if arg.is_help() {
            return Ok(Command::Help);
        }
        let flag = arg.name.as_str();
        let mut value = || flags.value(&arg);
        match (dynamodb, flag) {
            (_, "--template") => {
                let v = PathBuf::from(value()?);
                serve.template = Some(v.clone());
                ddb.template = Some(v);
            }
            (_, "--in-memory") => {
                serve.in_memory = true;
                ddb.in_memory = true;
            }
            (_, "--data-dir") => {
                let v = PathBuf::from(value()?);
                serve.data_dir = Some(v.clone());
                ddb.data_dir = Some(v);
            }
            (true, "--port") => ddb.port = port(flag, &value()?)?,
            (false, "--port") => serve.port = port(flag, &value()?)?,
            (false, "--host") => serve.host = value()?,
            (false, "--bin-dir") => serve.bin_dir = Some(PathBuf::from(value()?)),
            (false, "--dynamodb-endpoint") => serve.dynamodb_endpoint = Some(value()?),
            (false, "--table-name") => serve.table_name = Some(value()?),
            (false, "--env-vars") => serve.env_vars = Some(PathBuf::from(value()?)),
            (false, "--lambda-port") => serve.lambda_port = Some(port(flag, &value()?)?),
            (false, "--max-instances") => {
                let v = value()?;
                serve.max_instances = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::config(format!("--max-instances: {v:?} is not a positive number"))
                })?;
            }
            (false, "--header-read-timeout") => {
                serve.timeouts.header_read = seconds(flag, &value()?)?;
            }
            (false, "--body-read-timeout") => {
                serve.timeouts.body_read = seconds(flag, &value()?)?;
            }
            (false, "--idle-timeout") => serve.timeouts.idle = seconds(flag, &value()?)?,
            (false, "--parameter-overrides") => {
                let items = flags.values(&arg);
                if items.is_empty() {
                    return Err(Error::config("--parameter-overrides needs KEY=VALUE items"));
                }
                for item in items {
                    serve.parameter_overrides.push(parse_override(&item)?);
                }
            }
            _ => {
                let cmd = if dynamodb { "dynamodb" } else { "serve" };
                return Err(Error::config(format!(
                    "unknown option {} for `{cmd}` (see --help)",
                    arg.raw
                )));
            }
        }
    }
    Ok(if dynamodb {
        Command::DynamoDb(ddb)
    } else {
        Command::Serve(serve)
    })
}

/// `Key=Value`, or sam's `ParameterKey=Key,ParameterValue=Value`.
fn parse_override(item: &str) -> Result<(String, String)> {
    if let Some(rest) = item.strip_prefix("ParameterKey=")
        && let Some((k, v)) = rest.split_once(",ParameterValue=")
    {
        return Ok((k.to_string(), v.to_string()));
    }
    match item.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(Error::config(format!(
            "--parameter-overrides: {item:?} is not KEY=VALUE"
        ))),
    }
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
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn serve(s: &str) -> ServeArgs {
        match parse(&args(s), |_| None).unwrap() {
            Command::Serve(a) => a,
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
        let Command::Seed(s) = parse(&args("seed --dynamodb-endpoint=http://x"), env).unwrap()
        else {
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
        assert_eq!(parse(&args("seed -h"), |_| None).unwrap(), Command::Help);
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
        assert_eq!(
            parse(&args("serve --help"), |_| None).unwrap(),
            Command::Help
        );
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
}
