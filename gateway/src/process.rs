//! Child processes: started so that they die with the gateway, their output forwarded.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

/// Makes `cmd` safe to leave running: killed when its `Child` handle is dropped, and (on
/// Linux) sent SIGKILL by the kernel if the gateway itself dies without cleaning up, so a
/// `kill -9` of the gateway never leaves function processes or a 200 MB JVM behind.
pub fn die_with_parent(cmd: &mut Command) {
    cmd.kill_on_drop(true);
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the forked child before exec and only calls prctl, which is
    // async-signal-safe; it allocates nothing and touches no locks.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The last lines a process wrote (stdout and stderr together), newest last.
pub type Tail = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>;

/// How many lines a [`Tail`] keeps.
const TAIL_LINES: usize = 8;

/// Copies each line of `stream` to the gateway's stderr as `[prefix] line`, until EOF.
pub fn forward_lines<R>(stream: Option<R>, prefix: String)
where
    R: AsyncRead + Unpin + Send + 'static,
{
    forward_lines_into(stream, prefix, None);
}

/// [`forward_lines`], also keeping the last lines in `tail` (to explain a failed start).
pub fn forward_lines_into<R>(stream: Option<R>, prefix: String, tail: Option<Tail>)
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let Some(stream) = stream else { return };
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\r', '\n']);
                    tracing::info!("[{prefix}] {line}");
                    if let Some(tail) = &tail
                        && let Ok(mut t) = tail.lock()
                    {
                        if t.len() == TAIL_LINES {
                            t.pop_front();
                        }
                        t.push_back(line.to_string());
                    }
                }
            }
        }
    });
}
