//! The checkpoint file: where each scan segment of a migration stands, so a run resumes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shared::store::ScanPosition;

use crate::error::{Error, Result};

/// The checkpoint file: where each scan segment stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Checkpoint {
    pub(super) table: String,
    pub(super) feed_shards: u32,
    pub(super) segments: Vec<SegmentState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SegmentState {
    /// The next page starts after this key (`None`: at the start, or done).
    pub(super) next: Option<ScanPosition>,
    pub(super) done: bool,
}

/// The default checkpoint file of table `table`, in the current folder.
pub fn default_checkpoint(table: &str) -> PathBuf {
    let safe: String = table
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("migrate-{safe}.checkpoint.json"))
}

pub(super) fn load_checkpoint(path: &Path) -> Result<Option<Checkpoint>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::config(format!(
                "checkpoint {}: {e} (remove it or pass --from-scratch)",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::config(format!("checkpoint {}: {e}", path.display()))),
    }
}

pub(super) fn save_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(checkpoint).unwrap_or_default();
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::Runtime(format!("checkpoint {}: {e}", path.display())))
}
