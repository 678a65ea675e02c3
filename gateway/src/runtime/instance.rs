//! Process supervision: one instance is one process of the function's binary, with its own
//! Runtime API on a loopback port, killed when the pool says so and reported when it exits.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, LazyLock};

use time::format_description::BorrowedFormatItem;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::Notify;

use super::api;
use super::machine::INIT_TIMEOUT;
use super::pool::BinaryId;
use super::pool::Pool;
use crate::process::{Tail, die_with_parent, forward_lines_into};
use crate::util::random_hex;

impl Pool {
    /// Starts one instance and supervises it until it exits.
    pub(super) async fn run_instance(self: Arc<Self>, id: u64, kill: Arc<Notify>) {
        let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(l) => l,
            Err(e) => {
                return self
                    .instance_gone(id, &format!("could not open its Runtime API port: {e}"));
            }
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                return self
                    .instance_gone(id, &format!("could not open its Runtime API port: {e}"));
            }
        };
        let server =
            tokio::spawn(axum::serve(listener, api::runtime_api(self.clone(), id)).into_future());

        let spec = &self.spec;
        self.loading(BinaryId::of(&spec.executable));
        let mut cmd = Command::new(&spec.executable);
        cmd.args(&spec.args)
            .env_clear()
            .envs(&spec.env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", spec.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream_name())
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let cgroup = self.limits.get().and_then(|limits| {
            match limits.instance(&spec.name, id, spec.memory_mb) {
                Ok(cg) => Some(cg),
                Err(e) => {
                    self.log(format!(
                        "instance {id} runs without memory and CPU limits: {e}"
                    ));
                    None
                }
            }
        });
        if let Some(cg) = &cgroup {
            let files = cg.procs_files();
            // SAFETY: `enter` only makes async-signal-safe calls (open, write, close).
            unsafe {
                cmd.pre_exec(move || super::limits::enter(&files));
            }
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                server.abort();
                if let Some(cg) = cgroup {
                    cg.remove();
                }
                return self.instance_gone(
                    id,
                    &format!("could not start {}: {e}", spec.executable.display()),
                );
            }
        };
        // Kept apart: a failed `main` and a panic write to stderr, logs go to stdout.
        let (out_tail, err_tail) = (Tail::default(), Tail::default());
        forward_lines_into(
            child.stdout.take(),
            spec.binary.clone(),
            Some(out_tail.clone()),
        );
        forward_lines_into(
            child.stderr.take(),
            spec.binary.clone(),
            Some(err_tail.clone()),
        );
        self.started(id, child.id().unwrap_or(0));

        let pool = self.clone();
        let init_timer = tokio::spawn(async move {
            tokio::time::sleep(INIT_TIMEOUT).await;
            pool.init_timed_out(id);
        });
        let status = tokio::select! {
            status = child.wait() => status,
            _ = kill.notified() => {
                let _ = child.start_kill();
                child.wait().await
            }
        };
        init_timer.abort();
        server.abort();
        // The output readers finish at EOF, moments after the exit: give them that moment,
        // so the line that explains a failed start is there.
        for _ in 0..20 {
            if Arc::strong_count(&out_tail) == 1 && Arc::strong_count(&err_tail) == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let last = |t: &Tail| t.lock().ok().and_then(|t| t.back().cloned());
        self.last_output(last(&err_tail).or_else(|| last(&out_tail)));
        let mut how = match status {
            Ok(s) => match s.code() {
                Some(code) => format!("exit status {code}"),
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    format!("signal {}", s.signal().unwrap_or(0))
                }
            },
            Err(e) => format!("unknown status ({e})"),
        };
        if let Some(cg) = cgroup {
            // Killed by the kernel for outgrowing MemorySize: Lambda's words for it.
            if how == "signal 9" && cg.out_of_memory() {
                how = format!(
                    "signal: killed (out of memory: MemorySize {} MB, Max Memory Used {} MB)",
                    spec.memory_mb,
                    cg.max_memory_mb().unwrap_or(0)
                );
            }
            cg.remove();
        }
        self.instance_gone(id, &how);
    }
}

/// `2026/11/21/[$LATEST]<32 hex>`, the shape of a Lambda log stream name.
fn log_stream_name() -> String {
    static DATE: LazyLock<Vec<BorrowedFormatItem<'static>>> = LazyLock::new(|| {
        time::format_description::parse_borrowed::<2>("[year]/[month]/[day]")
            .expect("a valid format description")
    });
    let date = time::OffsetDateTime::now_utc()
        .format(&*DATE)
        .unwrap_or_default();
    format!("{date}/[$LATEST]{}", random_hex(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_stream_names_look_like_lambdas() {
        let s = log_stream_name();
        assert!(
            s.contains("/[$LATEST]") && s.len() == "2026/11/21/[$LATEST]".len() + 32,
            "{s}"
        );
    }
}
