//! What a migration did: the counts and the summary it prints.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a run did, post by post.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Post items seen by the scan.
    pub seen: u64,
    /// Posts moved from the old layout (feed key and version set, postings written).
    pub migrated: u64,
    /// Posts already in the new layout whose missing postings were put back.
    pub repaired: u64,
    /// Posts already in the new layout with all their postings: nothing done.
    pub unchanged: u64,
    /// Posts deleted, being deleted, or whose title changed meanwhile (its writer indexes it).
    pub skipped: u64,
    /// Posts that failed (see [`Report::failures`]).
    pub failed: u64,
    /// Posting items written.
    pub postings_written: u64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// What this run did (a resumed run counts only its own work).
    pub counts: Counts,
    /// Items DynamoDB evaluated for the scan (posts and everything else).
    pub scanned_items: u64,
    /// The first failures, as `(post id or "-", message)`.
    pub failures: Vec<(String, String)>,
    /// It started from a checkpoint.
    pub resumed: bool,
    /// It stopped before the end (`--max-posts` or a failure); the checkpoint is kept.
    pub unfinished: bool,
    /// How long it took.
    pub elapsed: Duration,
}

impl Report {
    /// True when nothing failed.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// The summary printed at the end.
    pub fn summary(&self, dry_run: bool) -> String {
        let c = &self.counts;
        let would = if dry_run { "would be " } else { "" };
        let mut text = format!(
            "{} posts seen ({} items scanned) in {:.1} s: {} {would}migrated, {} {would}repaired, {} unchanged, {} skipped (deleted or edited meanwhile), {} failed; {} postings {}",
            c.seen,
            self.scanned_items,
            self.elapsed.as_secs_f64(),
            c.migrated,
            c.repaired,
            c.unchanged,
            c.skipped,
            c.failed,
            c.postings_written,
            if dry_run { "missing" } else { "written" },
        );
        if self.resumed {
            text.push_str("\nresumed from the checkpoint: counts are this run's");
        }
        if c.migrated == 0 && c.repaired == 0 && c.failed == 0 && !self.unfinished {
            text.push_str("\nnothing to do: every post has its feed key and all its postings");
        }
        for (id, why) in &self.failures {
            text.push_str(&format!("\nfailed: post {id}: {why}"));
        }
        if self.unfinished {
            text.push_str("\nunfinished: run the same command again to resume from the checkpoint");
        }
        text
    }
}
