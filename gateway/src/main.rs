//! `local_gateway`: serve the SAM template's API locally (see `--help`).

use std::sync::Mutex;

use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};

/// The gateway's log lines are read by scripts and tests as they are (`[gateway] ...`,
/// `GET /posts 200 3ms ...`): message only, no time, level or target, no colours, on stderr,
/// and with `--log-file` appended to that file as well.
fn init_logging(writer: BoxMakeWriter) {
    tracing_subscriber::fmt()
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer)
        .init();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = local_gateway::cli::parse(&args, |k| std::env::var(k).ok());
    let log_file = match &parsed {
        Ok(local_gateway::cli::Command::Serve(a)) => a.log_file.clone(),
        _ => None,
    };
    match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path);
            match file {
                Ok(f) => init_logging(BoxMakeWriter::new(std::io::stderr.and(Mutex::new(f)))),
                Err(e) => {
                    init_logging(BoxMakeWriter::new(std::io::stderr));
                    tracing::error!("local_gateway: --log-file {}: {e}", path.display());
                    std::process::exit(2);
                }
            }
        }
        None => init_logging(BoxMakeWriter::new(std::io::stderr)),
    }
    let cmd = match parsed {
        Ok(cmd) => cmd,
        Err(e) => {
            tracing::error!("local_gateway: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("local_gateway: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(local_gateway::serve::run(cmd));
    // Shutting the runtime down drops every task and with them any child still running (they
    // are all `kill_on_drop`). A plain drop would also wait for idle blocking-pool threads.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    std::process::exit(code);
}
