//! The migration itself: scan segments in parallel, backfill each page's posts, pass the
//! checkpoint on after each page that fully succeeded.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use shared::domain::{PostId, StoreError};
use shared::store::{Indexed, ScannedPost, Store};

use super::checkpoint::{Checkpoint, SegmentState, load_checkpoint, save_checkpoint};
use super::report::{Counts, Report};
use crate::error::{Error, Result};

/// How a migration runs (the command's options, resolved).
#[derive(Debug, Clone)]
pub struct Options {
    /// Parallel scan segments.
    pub segments: u32,
    /// The scan's `Limit`: items evaluated per page (and per checkpoint step).
    pub page_size: u32,
    /// Posts of one page backfilled at once, per segment.
    pub concurrency: usize,
    /// Only read and report what would change.
    pub dry_run: bool,
    /// Stop (resumably) once this many posts have been seen.
    pub max_posts: Option<u64>,
    /// The checkpoint file; `None` keeps no checkpoint.
    pub checkpoint: Option<PathBuf>,
    /// Ignore (and replace) an existing checkpoint.
    pub from_scratch: bool,
    /// How often a progress line goes to stderr.
    pub progress_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            segments: 4,
            page_size: 200,
            concurrency: 8,
            dry_run: false,
            max_posts: None,
            checkpoint: None,
            from_scratch: false,
            progress_every: Duration::from_secs(2),
        }
    }
}

/// Shared state of the segment workers.
struct Run<'a> {
    store: &'a Store,
    opts: &'a Options,
    checkpoint: Mutex<Checkpoint>,
    counts: Mutex<Counts>,
    scanned: AtomicU64,
    failures: Mutex<Vec<(String, String)>>,
    stop: AtomicBool,
    started: Instant,
    last_progress: Mutex<Instant>,
}

/// Failures kept for the summary (the count is complete).
const MAX_FAILURES_SHOWN: usize = 20;

impl Run<'_> {
    fn fail(&self, id: String, why: String) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if f.len() < MAX_FAILURES_SHOWN {
            f.push((id, why));
        }
    }

    fn progress(&self, force: bool) {
        let mut last = self.last_progress.lock().unwrap_or_else(|p| p.into_inner());
        if !force && last.elapsed() < self.opts.progress_every {
            return;
        }
        *last = Instant::now();
        let c = self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let done = {
            let cp = self.checkpoint.lock().unwrap_or_else(|p| p.into_inner());
            cp.segments.iter().filter(|s| s.done).count()
        };
        eprintln!(
            "migrate: {} posts seen, {} migrated, {} repaired, {} unchanged, {} skipped, {} failed; {:.0} posts/s; segments done {done}/{}",
            c.seen,
            c.migrated,
            c.repaired,
            c.unchanged,
            c.skipped,
            c.failed,
            c.seen as f64 / secs,
            self.opts.segments
        );
    }

    /// One segment, page by page, until it is done, stopped, or a page fails.
    async fn segment(&self, segment: u32) {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let start = {
                let cp = self.checkpoint.lock().unwrap_or_else(|p| p.into_inner());
                let state = &cp.segments[segment as usize];
                if state.done {
                    return;
                }
                state.next.clone()
            };
            let page = match self
                .store
                .scan_posts(
                    segment,
                    self.opts.segments,
                    start.as_ref(),
                    self.opts.page_size,
                )
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    self.fail("-".into(), format!("scan of segment {segment}: {e}"));
                    return;
                }
            };
            self.scanned
                .fetch_add(page.scanned as u64, Ordering::Relaxed);
            let results: Vec<(PostId, std::result::Result<Outcome, String>)> =
                futures_util::stream::iter(page.posts.iter())
                    .map(|post| async move { (post.id, self.post(post).await) })
                    .buffer_unordered(self.opts.concurrency.max(1))
                    .collect()
                    .await;
            let mut page_failed = false;
            {
                let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
                for (id, result) in results {
                    c.seen += 1;
                    match result {
                        Ok(o) => {
                            c.postings_written += o.postings_written as u64;
                            match o.kind {
                                Kind::Migrated => c.migrated += 1,
                                Kind::Repaired => c.repaired += 1,
                                Kind::Unchanged => c.unchanged += 1,
                                Kind::Skipped => c.skipped += 1,
                            }
                        }
                        Err(why) => {
                            c.failed += 1;
                            page_failed = true;
                            self.fail(id.to_string(), why);
                        }
                    }
                }
                if let Some(max) = self.opts.max_posts
                    && c.seen >= max
                {
                    self.stop.store(true, Ordering::SeqCst);
                }
            }
            if page_failed {
                // Not passed: the next run redoes this page.
                return;
            }
            let snapshot = {
                let mut cp = self.checkpoint.lock().unwrap_or_else(|p| p.into_inner());
                let state = &mut cp.segments[segment as usize];
                state.done = page.next.is_none();
                state.next = page.next;
                cp.clone()
            };
            if let Some(path) = &self.opts.checkpoint
                && !self.opts.dry_run
                && let Err(e) = save_checkpoint(path, &snapshot)
            {
                self.fail("-".into(), e.to_string());
                self.stop.store(true, Ordering::SeqCst);
                return;
            }
            self.progress(false);
        }
    }

    async fn post(&self, post: &ScannedPost) -> std::result::Result<Outcome, String> {
        let shards = self.store.feed_shards();
        if let Some(s) = post.feed_shard
            && s >= shards
        {
            return Err(format!(
                "it is in feed shard {s}, beyond --feed-shards {shards}: FEED_SHARDS may only grow"
            ));
        }
        let done = self
            .store
            .backfill_post(post, self.opts.dry_run)
            .await
            .map_err(|e: StoreError| e.to_string())?;
        let kind = match done.index {
            Indexed::Gone | Indexed::Moved => Kind::Skipped,
            Indexed::Unversioned => {
                return Err("it still has no version after its backfill".into());
            }
            Indexed::Indexed { .. } if done.migrated => Kind::Migrated,
            Indexed::Indexed { .. } if done.postings_written > 0 => Kind::Repaired,
            Indexed::Indexed { .. } => Kind::Unchanged,
        };
        Ok(Outcome {
            kind,
            postings_written: done.postings_written,
        })
    }
}

enum Kind {
    Migrated,
    Repaired,
    Unchanged,
    Skipped,
}

struct Outcome {
    kind: Kind,
    postings_written: usize,
}

/// Runs a migration of `store`'s table with `store`'s feed shards. Refuses (before any
/// write) a shard count lower than a shard already in use, and a checkpoint of another table,
/// shard count or segment count. Failed posts are in the report, not an `Err`.
pub async fn run(store: &Store, opts: &Options) -> Result<Report> {
    let shards = store.feed_shards();
    let segments = opts.segments.max(1);
    let failed = |e: StoreError| Error::DynamoDb(format!("migrate: {e}"));
    if let Some(highest) = store
        .highest_feed_shard_from(shards)
        .await
        .map_err(failed)?
    {
        return Err(Error::config(format!(
            "--feed-shards {shards} is lower than a shard already in use (POSTS#{highest}): FEED_SHARDS may only grow, so pass at least {}",
            highest + 1
        )));
    }
    let fresh = Checkpoint {
        table: store.table().to_string(),
        feed_shards: shards,
        segments: vec![SegmentState::default(); segments as usize],
    };
    let mut resumed = false;
    let checkpoint = match (&opts.checkpoint, opts.from_scratch || opts.dry_run) {
        (Some(path), false) => match load_checkpoint(path)? {
            Some(cp) => {
                if cp.table != fresh.table
                    || cp.feed_shards != shards
                    || cp.segments.len() != fresh.segments.len()
                {
                    return Err(Error::config(format!(
                        "checkpoint {} is of table {} with {} feed shards and {} segments, not {} with {shards} and {segments}: pass the same options, or --from-scratch",
                        path.display(),
                        cp.table,
                        cp.feed_shards,
                        cp.segments.len(),
                        fresh.table
                    )));
                }
                resumed = true;
                cp
            }
            None => fresh,
        },
        _ => fresh,
    };
    let run = Run {
        store,
        opts: &Options {
            segments,
            ..opts.clone()
        },
        checkpoint: Mutex::new(checkpoint),
        counts: Mutex::new(Counts::default()),
        scanned: AtomicU64::new(0),
        failures: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
        started: Instant::now(),
        last_progress: Mutex::new(Instant::now()),
    };
    futures_util::future::join_all((0..segments).map(|s| run.segment(s))).await;
    run.progress(true);
    let checkpoint = run
        .checkpoint
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let finished = checkpoint.segments.iter().all(|s| s.done);
    let failures = run.failures.into_inner().unwrap_or_else(|p| p.into_inner());
    if finished
        && failures.is_empty()
        && !opts.dry_run
        && let Some(path) = &opts.checkpoint
    {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Runtime(format!(
                    "checkpoint {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(Report {
        counts: run.counts.into_inner().unwrap_or_else(|p| p.into_inner()),
        scanned_items: run.scanned.into_inner(),
        failures,
        resumed,
        unfinished: !finished,
        elapsed: run.started.elapsed(),
    })
}
