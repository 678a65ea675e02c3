//! `--watch`: rebuild the function binaries when their sources change.
//!
//! The gateway itself picks a rebuilt binary up on its own (each invocation compares the
//! binary's inode, size and mtime with those of its running instances, see `runtime`); this
//! module only runs `cargo build` when a source file changes, so that saving a file is enough.
//!
//! Changes are seen through `notify` (inotify on Linux: no polling, no CPU while nothing
//! changes). Only the project's source folders are watched, never `target/`, `.local/` or
//! dot-folders, whose churn would trigger builds by the build itself.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::process::forward_lines;

/// How long to wait after a change for more (an editor saving several files, a `git pull`).
const SETTLE: Duration = Duration::from_millis(300);

/// File types whose change can change a binary.
const SOURCE_EXTENSIONS: [&str; 9] = [
    "rs", "toml", "lock", "json", "yaml", "yml", "html", "css", "js",
];

/// Folders of the project that are never watched.
fn ignored_dir(name: &str) -> bool {
    name.starts_with('.') || name == "target" || name == "node_modules" || name == "__pycache__"
}

/// A change worth a build: a source file outside ignored folders.
fn is_source(project: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(project) else {
        return false;
    };
    let in_ignored = rel
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .any(|c| ignored_dir(&c.as_os_str().to_string_lossy()));
    let ext = path.extension().map(|e| e.to_string_lossy().to_string());
    !in_ignored && ext.is_some_and(|e| SOURCE_EXTENSIONS.contains(&e.as_str()))
}

/// Starts watching `project` and rebuilding with `cargo build --workspace --bins`, the same
/// command as `make run` (building a subset would resolve the dependencies' features
/// differently and make the two rebuild each other's artefacts). A rebuilt `local_gateway`
/// replaces the file, not the running process: gateway changes need a restart. Runs until
/// the gateway stops.
pub fn spawn(project: PathBuf) -> Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Reads (cargo opening every source file) are not changes.
        if let Ok(event) = res
            && !matches!(
                event.kind,
                notify::EventKind::Access(_) | notify::EventKind::Other
            )
        {
            for p in event.paths {
                let _ = tx.send(p);
            }
        }
    })
    .map_err(|e| Error::config(format!("--watch: cannot watch files: {e}")))?;
    let watch = |w: &mut notify::RecommendedWatcher, p: &Path, mode| {
        w.watch(p, mode)
            .map_err(|e| Error::config(format!("--watch: cannot watch {}: {e}", p.display())))
    };
    // The root alone (Cargo.toml, Cargo.lock), then each source folder with its subfolders.
    watch(&mut watcher, &project, RecursiveMode::NonRecursive)?;
    let entries = std::fs::read_dir(&project)
        .map_err(|e| Error::config(format!("--watch: {}: {e}", project.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.file_type().is_ok_and(|t| t.is_dir()) && !ignored_dir(&name) {
            watch(&mut watcher, &entry.path(), RecursiveMode::Recursive)?;
        }
    }
    tracing::info!(
        "[watch] rebuilding the functions when a source file in {} changes",
        project.display()
    );
    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        while let Some(path) = rx.recv().await {
            if !is_source(&project, &path) {
                continue;
            }
            let mut changed = vec![path];
            // Let a burst of changes settle, then build once for all of them.
            while let Ok(Some(p)) = tokio::time::timeout(SETTLE, rx.recv()).await {
                if is_source(&project, &p) && !changed.contains(&p) {
                    changed.push(p);
                }
            }
            let first = changed[0].strip_prefix(&project).unwrap_or(&changed[0]);
            let more = match changed.len() {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            tracing::info!("[watch] {}{more} changed: cargo build", first.display());
            build(&project).await;
        }
    });
    Ok(())
}

/// Runs one build, its output in the log as `[cargo] ...`.
async fn build(project: &Path) {
    let started = Instant::now();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project)
        .args(["build", "--workspace", "--bins"])
        .args(["--color", "never"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::info!("[watch] cannot run cargo: {e}");
            return;
        }
    };
    forward_lines(child.stdout.take(), "cargo".into());
    forward_lines(child.stderr.take(), "cargo".into());
    let status = child.wait().await;
    let secs = started.elapsed().as_secs_f64();
    match status {
        Ok(s) if s.success() => tracing::info!(
            "[watch] built in {secs:.1} s: each rebuilt function runs its new binary from its next request"
        ),
        Ok(s) => tracing::info!("[watch] the build failed ({s}): the running binaries stay"),
        Err(e) => tracing::info!("[watch] cargo: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_source_files_outside_build_and_data_folders_trigger_a_build() {
        let p = Path::new("/proj");
        assert!(is_source(p, Path::new("/proj/functions/login/src/lib.rs")));
        assert!(is_source(p, Path::new("/proj/Cargo.toml")));
        assert!(is_source(p, Path::new("/proj/shared/store-actions.json")));
        assert!(!is_source(p, Path::new("/proj/target/debug/login.d")));
        assert!(!is_source(
            p,
            Path::new("/proj/target/debug/build/x/out.rs")
        ));
        assert!(!is_source(
            p,
            Path::new("/proj/.local/dynamodb-data/x.json")
        ));
        assert!(!is_source(
            p,
            Path::new("/proj/functions/login/src/.lib.rs.swp")
        ));
        assert!(!is_source(
            p,
            Path::new("/proj/functions/login/src/lib.rs~")
        ));
        assert!(!is_source(p, Path::new("/elsewhere/a.rs")));
    }
}
