//! Where the workspace's files and binaries are.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The `local_gateway` binary the tests run (also for its `seed` command).
pub fn local_gateway_binary() -> PathBuf {
    bin_dir().join("local_gateway")
}

/// The development-only JWT key: `Parameters.JWT_SECRET` of `sam-local-env.json`, the key the
/// sample events' token is signed with. Never the key of a deployed stack.
pub fn dev_jwt_secret() -> Result<String, String> {
    let path = workspace_root().join("sam-local-env.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("read {path:?}: {e}"))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{path:?} is not JSON: {e}"))?;
    json["Parameters"]["JWT_SECRET"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{path:?} has no Parameters.JWT_SECRET string"))
}

/// The folder that holds the workspace's binaries.
///
/// The test executable itself lives in `<target>/<profile>/deps/`, so its grandparent is the
/// right folder whatever `CARGO_TARGET_DIR` and the profile are. `API_TESTS_BIN_DIR` overrides.
pub(crate) fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("API_TESTS_BIN_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .filter(|dir| dir.join("local_gateway").is_file())
    {
        return dir;
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_relative() {
                workspace_root().join(dir)
            } else {
                dir
            }
        })
        .unwrap_or_else(|_| workspace_root().join("target"));
    target.join("debug")
}

/// The workspace root (the folder of `template.yaml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `events/` folder of sample events.
pub fn events_dir() -> PathBuf {
    workspace_root().join("events")
}
