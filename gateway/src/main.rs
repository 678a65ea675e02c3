//! `local_gateway`: serve the SAM template's API locally (see `--help`).

fn main() {
    // The gateway's log lines are read by scripts and tests as they are (`[gateway] ...`,
    // `GET /posts 200 3ms`): message only, no time, level or target, no colours, on stderr.
    tracing_subscriber::fmt()
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match local_gateway::cli::parse(&args, |k| std::env::var(k).ok()) {
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
