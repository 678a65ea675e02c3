//! `local_gateway seed-posts` (hidden): bulk-writes test posts for `make bench-scale`, in the
//! item layout of the store (its own builders, [`Store::seed_posts`]), so the layout is never
//! written twice. Unconditional batch writes: for tables of test data only.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use shared::domain::{Email, Post, PostId, User, UserId};
use shared::store::Store;

use crate::cli::SeedPostsArgs;
use crate::dynamodb::{client_for_endpoint, ensure_table_from_def, wait_until_ready};
use crate::error::{Error, Result};
use crate::seed::{TemplateTable, template_table};

/// Posts per [`Store::seed_posts`] call, and calls in flight.
const POSTS_PER_CALL: usize = 50;
const CALLS_IN_FLIGHT: usize = 4;

/// Words of the generated titles: none contains a trigram of the default rare word
/// (`zephyr`) or of the benchmark's missing search.
const WORDS: &[&str] = &[
    "rust",
    "lambda",
    "table",
    "query",
    "index",
    "cloud",
    "event",
    "stream",
    "cache",
    "token",
    "vote",
    "post",
    "feed",
    "write",
    "read",
    "shard",
    "batch",
    "local",
    "fast",
    "small",
    "serverless",
    "course",
    "notes",
    "today",
    "review",
    "design",
    "tips",
    "guide",
    "first",
    "simple",
];

/// The title of generated post `i`: three or four words, the rare word in one of every
/// `rare_every`.
pub fn title(i: u64, rare_word: &str, rare_every: u64) -> String {
    let w = |k: u64| {
        WORDS[((i.wrapping_mul(2_654_435_761) >> (k * 5)) as usize + k as usize) % WORDS.len()]
    };
    if i.is_multiple_of(rare_every) {
        format!("{} {rare_word} {} {i}", w(0), w(1))
    } else {
        format!("{} {} {} {i}", w(0), w(1), w(2))
    }
}

/// `local_gateway seed-posts`: writes `--count` posts, newest last, creating the table when
/// missing; prints what it wrote on stdout.
pub async fn seed_posts(args: SeedPostsArgs) -> Result<()> {
    let TemplateTable {
        table,
        def,
        feed_shards,
    } = template_table(
        "seed-posts",
        args.template.as_deref(),
        args.table_name.clone(),
    )?;
    let feed_shards = args.feed_shards.unwrap_or(feed_shards);
    let endpoint = &args.dynamodb_endpoint;
    wait_until_ready(endpoint, Duration::from_secs(30)).await?;
    let client = client_for_endpoint(endpoint);
    ensure_table_from_def(&client, &def, &table).await?;
    let store = Store::new(client, table.clone()).with_feed_shards(feed_shards);
    let owner = User {
        id: UserId::new(2),
        email: Email::from_trusted("seed-posts@example.com"),
        created_at: shared::time::now_rfc3339(),
    };
    let created_at = shared::time::now_rfc3339();
    // Ids as the functions make them (ms since 2020 << 11 | 11 random bits), one ms apart and
    // ending now, so the seeded posts sort in the order written and before any new post.
    let now_ms = shared::ids::new_id() >> 11;
    let first_ms = now_ms.saturating_sub(args.count);
    let posts: Vec<Post> = (0..args.count)
        .map(|i| Post {
            id: PostId::new(((first_ms + i) << 11) | rand::random_range(0..2048u64)),
            title: title(i, &args.rare_word, args.rare_every),
            content: format!("Post {i} of seed-posts."),
            published: true,
            created_at: created_at.clone(),
            owner: owner.clone(),
            votes: 0,
        })
        .collect();
    let started = Instant::now();
    let mut calls = futures_util::stream::iter(posts.chunks(POSTS_PER_CALL))
        .map(|chunk| store.seed_posts(chunk))
        .buffer_unordered(CALLS_IN_FLIGHT);
    let mut items = 0;
    while let Some(written) = calls.next().await {
        items += written.map_err(|e| Error::DynamoDb(format!("seed-posts: {e}")))?;
    }
    println!(
        "seeded {} posts ({items} items with their postings, {} with {:?}) into {table} at {endpoint} in {:.1} s",
        args.count,
        args.count.div_ceil(args.rare_every),
        args.rare_word,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
