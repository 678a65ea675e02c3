//! Keeps `serve` running when its DynamoDB goes away. The gateway's own DynamoDB Local is
//! restarted on the same port (so the functions' `AWS_ENDPOINT_URL_DYNAMODB` stays right),
//! with the same data folder or again in memory, after a capped back-off; an outside endpoint
//! (`--dynamodb-endpoint`) is probed. Meanwhile the API keeps serving: the functions' DynamoDB
//! calls fail and they answer 503 themselves, as they would on AWS. The tables are created
//! again when DynamoDB comes back without them (an in-memory restart loses everything).

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

use crate::dynamodb::{
    DynamoDbLocal, LocalOptions, client_for_endpoint, ensure_table_from_def, probe_client,
};
use crate::error::Result;
use crate::template::TableDef;

/// The wait before the first restart attempt; it doubles after each attempt up to
/// [`MAX_DELAY`], so a DynamoDB Local that dies at once again is not restarted in a tight loop.
const FIRST_DELAY: Duration = Duration::from_millis(500);
/// The longest wait between two restart attempts.
const MAX_DELAY: Duration = Duration::from_secs(30);
/// An instance that stayed up this long resets the back-off.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How often an outside endpoint is probed (one ListTables of one name: nothing for DynamoDB).
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The tables `serve` created, by local name.
pub type Tables = Vec<(String, TableDef)>;

/// A background task that looks after `serve`'s DynamoDB until [`Supervisor::stop`].
pub struct Supervisor {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Supervisor {
    /// Restarts `local` (started from `opts`) whenever it exits, on the same port.
    pub fn local(local: DynamoDbLocal, opts: &LocalOptions, tables: Tables) -> Self {
        let opts = restart_options(opts, local.port());
        Self::spawn(|stop| keep_running(local, opts, tables, stop))
    }

    /// Probes the outside DynamoDB at `endpoint` and logs when it stops and starts answering.
    pub fn endpoint(endpoint: String, tables: Tables) -> Self {
        Self::spawn(|stop| watch_endpoint(endpoint, tables, stop))
    }

    fn spawn<F, Fut>(run: F) -> Self
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, rx) = oneshot::channel();
        Self {
            stop,
            task: tokio::spawn(run(rx)),
        }
    }

    /// Stops looking after DynamoDB; the gateway's own DynamoDB Local is killed and waited for.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// The options to start DynamoDB Local again: the port it had (never 0, which would move it
/// away from the functions' endpoint), the same data folder or again in memory.
fn restart_options(opts: &LocalOptions, port: u16) -> LocalOptions {
    LocalOptions {
        port,
        ..opts.clone()
    }
}

async fn keep_running(
    mut local: DynamoDbLocal,
    opts: LocalOptions,
    tables: Tables,
    mut stop: oneshot::Receiver<()>,
) {
    let mut delay = FIRST_DELAY;
    loop {
        let up_since = Instant::now();
        let pid = local.pid();
        let status = tokio::select! {
            s = local.wait() => s,
            _ = &mut stop => {
                local.stop().await;
                return;
            }
        };
        if up_since.elapsed() >= STABLE_AFTER {
            delay = FIRST_DELAY;
        }
        let how = match status {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        tracing::info!(
            "[gateway] DynamoDB Local (pid {pid}) exited ({how}): the API keeps serving, but \
             requests that need DynamoDB fail with 503 until it is back; restarting it on port \
             {} in {delay:?}",
            opts.port
        );
        local = loop {
            tokio::select! {
                _ = sleep(delay) => {}
                _ = &mut stop => return,
            }
            let attempt = tokio::select! {
                r = restart(&opts, &tables) => r,
                // Dropping the half-started process kills it (`kill_on_drop`).
                _ = &mut stop => return,
            };
            delay = (delay * 2).min(MAX_DELAY);
            match attempt {
                Ok(l) => break l,
                Err(e) => tracing::info!(
                    "[gateway] restarting DynamoDB Local failed: {e}; next attempt in {delay:?}"
                ),
            }
        };
        tracing::info!("[gateway] {}", restarted_line(&local, &opts, &tables));
    }
}

/// Starts DynamoDB Local from `opts` and makes sure the tables exist.
async fn restart(opts: &LocalOptions, tables: &Tables) -> Result<DynamoDbLocal> {
    let mut local = DynamoDbLocal::start(opts).await?;
    if let Err(e) = ensure_tables(&local.endpoint(), tables).await {
        local.stop().await;
        return Err(e);
    }
    Ok(local)
}

async fn ensure_tables(endpoint: &str, tables: &Tables) -> Result<()> {
    let client = client_for_endpoint(endpoint);
    for (name, def) in tables {
        ensure_table_from_def(&client, def, name).await?;
    }
    Ok(())
}

fn table_names(tables: &Tables) -> String {
    let names: Vec<&str> = tables.iter().map(|(n, _)| n.as_str()).collect();
    names.join(", ")
}

/// The log line after a restart; it says whether the data survived.
fn restarted_line(local: &DynamoDbLocal, opts: &LocalOptions, tables: &Tables) -> String {
    let what = match &opts.data_dir {
        None => format!(
            "it runs in memory (--in-memory), so all data written before was lost: table(s) {} \
             created again, empty",
            table_names(tables)
        ),
        Some(dir) => format!(
            "data kept in {}; table(s) {} ready",
            dir.display(),
            table_names(tables)
        ),
    };
    format!(
        "DynamoDB Local restarted (pid {}) on {}: {what}",
        local.pid(),
        local.endpoint()
    )
}

async fn watch_endpoint(endpoint: String, tables: Tables, mut stop: oneshot::Receiver<()>) {
    let probe = probe_client(&endpoint);
    let mut down = false;
    loop {
        tokio::select! {
            _ = sleep(PROBE_EVERY) => {}
            _ = &mut stop => return,
        }
        let answer = tokio::select! {
            r = probe.list_tables().limit(1).send() => r,
            _ = &mut stop => return,
        };
        match (answer, down) {
            (Err(e), false) => {
                down = true;
                tracing::info!(
                    "[gateway] DynamoDB at {endpoint} does not answer ({}): the API keeps \
                     serving, but requests that need DynamoDB fail with 503 until it is back",
                    root_cause(&e)
                );
            }
            (Ok(_), true) => match ensure_tables(&endpoint, &tables).await {
                Ok(()) => {
                    down = false;
                    tracing::info!(
                        "[gateway] DynamoDB at {endpoint} answers again; table(s) {} ready",
                        table_names(&tables)
                    );
                }
                // Still "down": the next probe tries again.
                Err(e) => tracing::info!(
                    "[gateway] DynamoDB at {endpoint} answers again, but its tables are not \
                     ready: {e}"
                ),
            },
            _ => {}
        }
    }
}

/// The innermost error of `e`'s chain ("tcp connect error: Connection refused"), which says
/// more in a log line than the SDK's outer "dispatch failure".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_keeps_the_port_and_the_data_folder_or_memory() {
        let project = std::path::Path::new("/p");
        let on_disk = LocalOptions::for_project(project, false, None, 0);
        let again = restart_options(&on_disk, 41234);
        assert_eq!(again.port, 41234, "never 0: the functions know this port");
        assert_eq!(
            again.data_dir.as_deref(),
            Some(std::path::Path::new("/p/.local/dynamodb-data"))
        );
        assert_eq!(again.install_dir, on_disk.install_dir);
        let in_memory = LocalOptions::for_project(project, true, None, 0);
        assert_eq!(restart_options(&in_memory, 41234).data_dir, None);
    }
}
