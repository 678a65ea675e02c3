//! `local_gateway migrate`: backfills the sharded feed keys and the search postings of posts
//! written before them (issue 10), against DynamoDB Local or a deployed table. The work on
//! each post is the store's ([`Store::backfill_post`]); this module scans, keeps the
//! checkpoint, prints progress and the summary.
//!
//! - **Scan**: `--segments` parallel `Scan` segments, pages of `--page-size` items evaluated,
//!   post items only (`sk = POST`, `pk` starting with `POST#`); up to `--concurrency` posts of
//!   a page are backfilled at once.
//! - **Checkpoint**: after each page whose posts all succeeded, the segment's
//!   `LastEvaluatedKey` goes to the checkpoint file (written atomically). A run resumes from the
//!   file when it exists (`--from-scratch` ignores it); a run that finishes deletes it, so the
//!   next run checks every post again. A page with a failed post is not passed: its segment
//!   stops there, the other segments go on, and the next run redoes that page (every step is
//!   idempotent).
//! - **Safe while the API serves**: every write is conditioned, and postings follow the store's
//!   put-then-re-read protocol (`docs/data-model.md`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use shared::domain::{PostId, StoreError};
use shared::store::{Indexed, ScanPosition, ScannedPost, Store};

use crate::cli::{MigrateArgs, find_template};
use crate::error::{Error, Result};
use crate::template::{ResolveOptions, Template};

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

/// The checkpoint file: where each scan segment stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Checkpoint {
    table: String,
    feed_shards: u32,
    segments: Vec<SegmentState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SegmentState {
    /// The next page starts after this key (`None`: at the start, or done).
    next: Option<ScanPosition>,
    done: bool,
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

fn load_checkpoint(path: &Path) -> Result<Option<Checkpoint>> {
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

fn save_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(checkpoint).unwrap_or_default();
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::Runtime(format!("checkpoint {}: {e}", path.display())))
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

/// A DynamoDB client for `endpoint`. DynamoDB Local (any endpoint outside `amazonaws.com`)
/// gets the local gateway's dummy credentials; AWS gets the SDK's default credential chain
/// (environment, profile, SSO cache, instance role...) and the region of the endpoint's name
/// (`dynamodb.<region>.amazonaws.com`), else `region`, else the chain's; with the standard
/// retries raised to 10 attempts, as a long backfill meets throttling.
pub async fn client_for(endpoint: &str, region: Option<&str>) -> aws_sdk_dynamodb::Client {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    if !(host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")) {
        return crate::dynamodb::client_for_endpoint(endpoint);
    }
    let named = host
        .strip_prefix("dynamodb.")
        .and_then(|rest| rest.split('.').next())
        .filter(|r| !r.is_empty());
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared::store::https_client())
        .endpoint_url(endpoint)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10));
    if let Some(r) = region.or(named) {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    aws_sdk_dynamodb::Client::new(&loader.load().await)
}

/// `local_gateway migrate`: resolves the table and the feed shards from the template and the
/// options, runs the migration, prints progress on stderr and the summary on stdout. An `Err`
/// (exit code 1 or 2) when anything failed or it could not start.
pub async fn migrate(args: MigrateArgs) -> Result<()> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let template = Template::load(find_template(args.template.as_deref(), &cwd)?)?;
    let app = template.resolve(&ResolveOptions {
        table_name: args.table_name.clone(),
        ..Default::default()
    })?;
    let [(table, _)] = app.tables.as_slice() else {
        return Err(Error::config(
            "migrate: the template must have exactly one AWS::DynamoDB::Table",
        ));
    };
    let feed_shards = match args.feed_shards {
        Some(n) => n,
        None => app
            .functions
            .iter()
            .find_map(|f| f.env.get("FEED_SHARDS")?.parse().ok())
            .unwrap_or(shared::config::DEFAULT_FEED_SHARDS),
    };
    let client = client_for(&args.dynamodb_endpoint, args.region.as_deref()).await;
    let store = Store::new(client, table.clone()).with_feed_shards(feed_shards);
    let opts = Options {
        segments: args.segments,
        page_size: args.page_size,
        concurrency: args.concurrency,
        dry_run: args.dry_run,
        max_posts: args.max_posts,
        checkpoint: Some(
            args.checkpoint
                .clone()
                .unwrap_or_else(|| default_checkpoint(table)),
        ),
        from_scratch: args.from_scratch,
        progress_every: Duration::from_secs(2),
    };
    eprintln!(
        "migrate: table {table} at {}, {feed_shards} feed shards, {} segments{}",
        args.dynamodb_endpoint,
        opts.segments,
        if opts.dry_run {
            ", dry run (no writes)"
        } else {
            ""
        }
    );
    let report = run(&store, &opts).await?;
    println!("{}", report.summary(opts.dry_run));
    if report.ok() {
        Ok(())
    } else {
        Err(Error::Runtime(format!(
            "migrate: {} failures (listed above); run it again to resume",
            report.counts.failed.max(report.failures.len() as u64)
        )))
    }
}
