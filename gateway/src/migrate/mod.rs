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
//!
//! Parts: `run.rs` (the segment workers), `checkpoint.rs` (the file), `report.rs` (counts and
//! the summary); this file builds the client and runs the command.

mod checkpoint;
mod report;
mod run;

use std::time::Duration;

use shared::store::Store;

use crate::cli::MigrateArgs;
use crate::error::{Error, Result};
use crate::seed::{TemplateTable, template_table};

pub use checkpoint::default_checkpoint;
pub use report::{Counts, Report};
pub use run::{Options, run};

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
    let TemplateTable {
        table, feed_shards, ..
    } = template_table("migrate", args.template.as_deref(), args.table_name.clone())?;
    let feed_shards = args.feed_shards.unwrap_or(feed_shards);
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
                .unwrap_or_else(|| default_checkpoint(&table)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_aws_endpoint_gets_the_region_of_its_name_and_any_other_the_local_client() {
        let aws = client_for("https://dynamodb.eu-west-1.amazonaws.com", None).await;
        assert_eq!(aws.config().region().unwrap().as_ref(), "eu-west-1");
        let given = client_for(
            "https://dynamodb-fips.us-east-2.amazonaws.com",
            Some("us-east-2"),
        );
        assert_eq!(given.await.config().region().unwrap().as_ref(), "us-east-2");
        // DynamoDB Local: the local gateway's client (dummy credentials, us-east-1).
        let local = client_for("http://127.0.0.1:8000", Some("eu-west-3")).await;
        assert_eq!(local.config().region().unwrap().as_ref(), "us-east-1");
    }

    #[test]
    fn the_default_checkpoint_is_named_after_the_table_in_the_current_folder() {
        assert_eq!(
            default_checkpoint("posts-api-AppTable-1X2Y"),
            std::path::PathBuf::from("migrate-posts-api-AppTable-1X2Y.checkpoint.json")
        );
        assert_eq!(
            default_checkpoint("a/../b"),
            std::path::PathBuf::from("migrate-a____b.checkpoint.json")
        );
    }

    #[test]
    fn the_summary_says_when_nothing_changed_and_how_to_resume() {
        let quiet = Report {
            counts: Counts {
                seen: 3,
                unchanged: 3,
                ..Counts::default()
            },
            ..Report::default()
        };
        assert!(quiet.summary(false).contains("nothing to do"));
        let cut = Report {
            unfinished: true,
            failures: vec![("42".into(), "throttled".into())],
            ..Report::default()
        };
        let text = cut.summary(false);
        assert!(
            !cut.ok() && text.contains("failed: post 42: throttled"),
            "{text}"
        );
        assert!(text.contains("run the same command again"), "{text}");
    }
}
