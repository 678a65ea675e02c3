//! Memory and CPU like Lambda: each instance runs in its own cgroup with its function's
//! `MemorySize` as a hard memory limit (no swap) and a CPU share proportional to it, 1,769 MB
//! being one vCPU (Lambda's rule), so that bcrypt at 128 MB is as slow as on AWS and a
//! function that outgrows its memory is killed as it would be there.
//!
//! Linux cgroup v1 (the `memory` and `cpu` hierarchies), which is what this kind of machine
//! offers without Docker: the gateway makes `lgw-<pid>` inside its own cgroup of each
//! hierarchy (so whatever limits the gateway itself runs under still hold), and one cgroup
//! per instance inside that. Where that is not possible (no cgroup v1 hierarchies, no right
//! to create cgroups), [`Limits::detect`] says why and the gateway runs without limits.

use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Lambda gives one full vCPU at this much memory, and CPU in proportion below it.
pub const MB_PER_VCPU: u64 = 1769;
/// The CFS period the quota is a share of.
const CPU_PERIOD_US: u64 = 100_000;

/// Where the gateway's instance cgroups live.
#[derive(Debug)]
pub struct Limits {
    memory: PathBuf,
    cpu: PathBuf,
}

/// The cgroups of one instance: remove them with [`InstanceCgroup::remove`] once its process
/// has exited.
#[derive(Debug)]
pub struct InstanceCgroup {
    memory: PathBuf,
    cpu: PathBuf,
}

/// The cgroup of this process in the v1 hierarchy of `controller`, from `/proc/self/cgroup`.
fn own_cgroup(controller: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers.split(',').any(|c| c == controller).then(|| {
            Path::new("/sys/fs/cgroup")
                .join(controller)
                .join(path.trim_start_matches('/'))
        })
    })
}

/// Removes the cgroups a gateway left behind when it was killed (`lgw-<pid>` of a process
/// that is gone): empty ones only, so a live process is never affected.
fn remove_stale(own: &Path) {
    let Ok(entries) = std::fs::read_dir(own) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("lgw-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(children) = std::fs::read_dir(e.path()) {
            for c in children.flatten() {
                if c.file_type().is_ok_and(|t| t.is_dir()) {
                    let _ = std::fs::remove_dir(c.path());
                }
            }
        }
        let _ = std::fs::remove_dir(e.path());
    }
}

fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl Limits {
    /// Makes the gateway's cgroups, or says why it cannot.
    pub fn detect() -> Result<Limits, String> {
        if !cfg!(target_os = "linux") {
            return Err("cgroups are Linux only".into());
        }
        let base = |controller: &str| -> Result<PathBuf, String> {
            let own = own_cgroup(controller).ok_or_else(|| {
                format!(
                    "no cgroup v1 `{controller}` hierarchy (cgroup v2 alone is not supported yet)"
                )
            })?;
            if !own.is_dir() {
                return Err(format!("{} is not mounted", own.display()));
            }
            remove_stale(&own);
            let dir = own.join(format!("lgw-{}", std::process::id()));
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            Ok(dir)
        };
        let memory = base("memory")?;
        let cpu = match base("cpu") {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir(&memory);
                return Err(e);
            }
        };
        Ok(Limits { memory, cpu })
    }

    /// The cgroups of a new instance of `function` with `memory_mb`.
    pub fn instance(
        &self,
        function: &str,
        id: u64,
        memory_mb: u32,
    ) -> std::io::Result<InstanceCgroup> {
        let name = format!("{function}-{id}");
        let cg = InstanceCgroup {
            memory: self.memory.join(&name),
            cpu: self.cpu.join(&name),
        };
        std::fs::create_dir_all(&cg.memory)?;
        std::fs::create_dir_all(&cg.cpu)?;
        let bytes = u64::from(memory_mb) * 1024 * 1024;
        write(&cg.memory.join("memory.limit_in_bytes"), &bytes.to_string())?;
        // No swap, as on Lambda (only where swap accounting exists).
        let memsw = cg.memory.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            write(&memsw, &bytes.to_string())?;
        }
        let quota = (CPU_PERIOD_US * u64::from(memory_mb) / MB_PER_VCPU).max(1000);
        write(
            &cg.cpu.join("cpu.cfs_period_us"),
            &CPU_PERIOD_US.to_string(),
        )?;
        write(&cg.cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
        Ok(cg)
    }

    /// Removes the gateway's cgroups (once every instance's are gone).
    pub fn remove(&self) {
        let _ = std::fs::remove_dir(&self.memory);
        let _ = std::fs::remove_dir(&self.cpu);
    }
}

impl InstanceCgroup {
    /// The `cgroup.procs` files a starting process writes `0` to, to enter its cgroups
    /// before it runs anything (see [`enter`]).
    pub fn procs_files(&self) -> Vec<CString> {
        [&self.memory, &self.cpu]
            .iter()
            .filter_map(|d| {
                CString::new(d.join("cgroup.procs").as_os_str().as_encoded_bytes()).ok()
            })
            .collect()
    }

    /// The kernel killed a process of this cgroup for want of memory (its OOM-kill count,
    /// or on older kernels, the limit having been hit).
    pub fn out_of_memory(&self) -> bool {
        let read = |f: &str| std::fs::read_to_string(self.memory.join(f)).unwrap_or_default();
        let oom_kills = read("memory.oom_control").lines().find_map(|l| {
            l.strip_prefix("oom_kill ")
                .and_then(|n| n.trim().parse::<u64>().ok())
        });
        match oom_kills {
            Some(n) => n > 0,
            None => read("memory.failcnt")
                .trim()
                .parse::<u64>()
                .is_ok_and(|n| n > 0),
        }
    }

    /// The most memory the instance used, in MB (Lambda's `Max Memory Used`).
    pub fn max_memory_mb(&self) -> Option<u64> {
        std::fs::read_to_string(self.memory.join("memory.max_usage_in_bytes"))
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .map(|b| b.div_ceil(1024 * 1024))
    }

    /// Removes the instance's cgroups; its process must have exited.
    pub fn remove(self) {
        let _ = std::fs::remove_dir(&self.memory);
        let _ = std::fs::remove_dir(&self.cpu);
    }
}

/// Moves the calling process into the cgroups of `files` (from
/// [`InstanceCgroup::procs_files`]); for `pre_exec`, so it uses only async-signal-safe calls.
pub fn enter(files: &[CString]) -> std::io::Result<()> {
    for f in files {
        // SAFETY: open, write and close on a NUL-terminated path: async-signal-safe calls
        // with valid pointers.
        unsafe {
            let fd = libc::open(f.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
            if written != 1 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_share_is_lambdas_one_vcpu_at_1769_mb() {
        let quota = |mb: u64| (CPU_PERIOD_US * mb / MB_PER_VCPU).max(1000);
        assert_eq!(quota(1769), CPU_PERIOD_US, "one vCPU");
        assert_eq!(quota(128), 7235, "7% of a vCPU");
        assert_eq!(quota(3538), 2 * CPU_PERIOD_US);
    }
}
