//! `local_gateway migrate` against DynamoDB Local over HTTP with the real SDK: a table written
//! in the layout before the sharded feed and the search index (`gsi1pk = POSTS`, no
//! `version`, no postings) is listed and searched after it, votes untouched; a second run
//! changes nothing; an interrupted run resumes; edits and deletes racing it leave exact
//! postings. Needs `DYNAMODB_ENDPOINT` (`make test` sets it); skipped without one.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use local_gateway::migrate::{Options, Report, run};
use shared::domain::{Email, PasswordHash, PostChanges, PostId, User};
use shared::ports::{PostStore, UserStore, VoteStore};
use shared::store::{
    POSTING_PK_PREFIX, Store, feed_pk, posting_pk, posting_sk, shard_of, title_grams,
};

/// The feed shards of these tests (not the default, so the default is not assumed).
const SHARDS: u32 = 3;

struct Fixture {
    client: Client,
    store: Store,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn options(&self) -> Options {
        Options {
            segments: 2,
            page_size: 7,
            checkpoint: Some(self.checkpoint()),
            ..Options::default()
        }
    }

    fn checkpoint(&self) -> PathBuf {
        self.dir.path().join("checkpoint.json")
    }

    async fn migrate(&self, opts: &Options) -> Report {
        let report = run(&self.store, opts).await.expect("migrate runs");
        assert!(report.ok(), "{}", report.summary(opts.dry_run));
        report
    }
}

async fn fixture(name: &str) -> Option<Fixture> {
    let Some(endpoint) = std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        println!("SKIPPED: DYNAMODB_ENDPOINT is not set");
        return None;
    };
    let client = local_gateway::dynamodb::client_for_endpoint(&endpoint);
    let table = format!(
        "migrate-{name}-{}-{}",
        std::process::id(),
        shared::auth::random_hex(4)
    );
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    local_gateway::dynamodb::ensure_table(&client, template, &table)
        .await
        .expect("create the test table");
    Some(Fixture {
        store: Store::new(client.clone(), table).with_feed_shards(SHARDS),
        client,
        dir: tempfile::tempdir().expect("temp dir"),
    })
}

async fn owner(store: &Store) -> User {
    let email = Email::parse(&format!("{}@example.com", shared::auth::random_hex(6))).unwrap();
    store
        .create_user(&email, &PasswordHash::new("h"))
        .await
        .unwrap()
}

/// Writes `n` posts as the code before the sharded feed did: `gsi1pk = POSTS`, no
/// `version`, no postings. Returns their ids, oldest first, and titles.
async fn legacy_posts(
    f: &Fixture,
    owner: &User,
    n: usize,
    title: impl Fn(usize) -> String,
) -> Vec<(PostId, String)> {
    let mut posts = Vec::new();
    for i in 0..n {
        let id = PostId::new(shared::ids::new_id());
        let title = title(i);
        let item = HashMap::from([
            ("pk".to_string(), AttributeValue::S(format!("POST#{id}"))),
            ("sk".into(), AttributeValue::S("POST".into())),
            ("gsi1pk".into(), AttributeValue::S("POSTS".into())),
            ("gsi1sk".into(), AttributeValue::N(id.to_string())),
            ("id".into(), AttributeValue::N(id.to_string())),
            ("title".into(), AttributeValue::S(title.clone())),
            ("content".into(), AttributeValue::S(format!("content {i}"))),
            ("published".into(), AttributeValue::Bool(true)),
            (
                "created_at".into(),
                AttributeValue::S("2025-01-01T00:00:00+00:00".into()),
            ),
            ("owner_id".into(), AttributeValue::N(owner.id.to_string())),
            (
                "owner_email".into(),
                AttributeValue::S(owner.email.to_string()),
            ),
            (
                "owner_created_at".into(),
                AttributeValue::S(owner.created_at.clone()),
            ),
            ("votes".into(), AttributeValue::N("0".into())),
        ]);
        f.client
            .put_item()
            .table_name(f.store.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
        posts.push((id, title));
        // Distinct milliseconds, so the ids' order is the order written.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    posts
}

/// Every posting item of the table, by post id.
async fn all_postings(f: &Fixture) -> HashMap<PostId, BTreeSet<(String, String)>> {
    let mut found: HashMap<PostId, BTreeSet<(String, String)>> = HashMap::new();
    let mut start = None;
    loop {
        let out = f
            .client
            .scan()
            .table_name(f.store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in out.items.unwrap_or_default() {
            let pk = item["pk"].as_s().unwrap();
            let sk = item["sk"].as_s().unwrap();
            if pk.starts_with(POSTING_PK_PREFIX) {
                let id: u64 = sk.split('#').next().unwrap().parse().unwrap();
                found
                    .entry(PostId::new(id))
                    .or_default()
                    .insert((pk.clone(), sk.clone()));
            }
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return found,
        }
    }
}

async fn post_item(f: &Fixture, id: PostId) -> Option<HashMap<String, AttributeValue>> {
    f.client
        .get_item()
        .table_name(f.store.table())
        .key("pk", AttributeValue::S(format!("POST#{id}")))
        .key("sk", AttributeValue::S("POST".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// The postings post `id` must have: its title's grams at its version, in its shard.
async fn expected_postings(f: &Fixture, id: PostId) -> BTreeSet<(String, String)> {
    let Some(item) = post_item(f, id).await else {
        return BTreeSet::new();
    };
    let version: u64 = item["version"].as_n().unwrap().parse().unwrap();
    let title = item
        .get("title")
        .map(|t| t.as_s().unwrap().clone())
        .unwrap_or_default();
    assert_eq!(
        item["gsi1pk"].as_s().unwrap(),
        &feed_pk(shard_of(id, SHARDS))
    );
    title_grams(&title)
        .into_iter()
        .map(|g| {
            (
                posting_pk(shard_of(id, SHARDS), &g),
                posting_sk(id, version),
            )
        })
        .collect()
}

/// Every post of `ids` has exactly its postings, and nothing else has any.
async fn assert_postings_exact(f: &Fixture, ids: &[PostId]) {
    let mut actual = all_postings(f).await;
    for id in ids {
        let expected = expected_postings(f, *id).await;
        assert_eq!(actual.remove(id).unwrap_or_default(), expected, "post {id}");
    }
    assert!(actual.is_empty(), "postings of other posts: {actual:?}");
}

fn title(i: usize) -> String {
    if i.is_multiple_of(4) {
        format!("a rare zephyr {i}")
    } else {
        format!("plain post number {i}")
    }
}

#[tokio::test]
async fn after_migrate_a_table_of_the_old_layout_is_listed_and_searched_and_its_votes_are_untouched()
 {
    let Some(f) = fixture("old").await else {
        return;
    };
    // GIVEN 12 posts of the old layout, two of them with votes
    let ann = owner(&f.store).await;
    let bob = owner(&f.store).await;
    let posts = legacy_posts(&f, &ann, 12, title).await;
    let ids: Vec<PostId> = posts.iter().map(|p| p.0).collect();
    assert!(
        f.store
            .list_posts(100, 0, "", None)
            .await
            .unwrap()
            .is_empty()
    );
    f.store.add_vote(ids[1], ann.id).await.unwrap();
    f.store.add_vote(ids[1], bob.id).await.unwrap();
    f.store.add_vote(ids[5], bob.id).await.unwrap();
    // WHEN it is migrated
    let report = f.migrate(&f.options()).await;
    // THEN every post moved, and the checkpoint is gone
    assert_eq!(report.counts.seen, 12, "{}", report.summary(false));
    assert_eq!(report.counts.migrated, 12);
    assert!(!report.unfinished && !f.checkpoint().exists());
    // the feed lists them all, newest first
    let listed: Vec<PostId> = f
        .store
        .list_posts(100, 0, "", None)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let newest_first: Vec<PostId> = ids.iter().rev().copied().collect();
    assert_eq!(listed, newest_first);
    // and search finds them: the rare word, a trigram join, a 1-character gram
    let found: Vec<PostId> = f
        .store
        .list_posts(100, 0, "zephyr", None)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let rare: Vec<PostId> = posts
        .iter()
        .rev()
        .filter(|p| p.1.contains("zephyr"))
        .map(|p| p.0)
        .collect();
    assert_eq!(found, rare);
    let eleven = f.store.list_posts(100, 0, "number 11", None).await.unwrap();
    assert_eq!(eleven.len(), 1);
    assert_eq!(
        f.store.list_posts(100, 0, "z", None).await.unwrap().len(),
        rare.len()
    );
    // the votes are as they were
    assert_eq!(f.store.count_vote_items(ids[1]).await.unwrap(), 2);
    assert_eq!(f.store.get_post(ids[1]).await.unwrap().unwrap().votes, 2);
    assert_eq!(f.store.get_post(ids[5]).await.unwrap().unwrap().votes, 1);
    assert_eq!(f.store.get_post(ids[0]).await.unwrap().unwrap().votes, 0);
    // and each post has exactly its postings, at version 1
    assert_postings_exact(&f, &ids).await;
    for id in &ids {
        assert_eq!(
            post_item(&f, *id).await.unwrap()["version"].as_n().unwrap(),
            "1"
        );
    }
}

#[tokio::test]
async fn a_second_migrate_changes_nothing_and_says_so_and_a_later_one_repairs_lost_postings() {
    let Some(f) = fixture("twice").await else {
        return;
    };
    let ann = owner(&f.store).await;
    let posts = legacy_posts(&f, &ann, 9, title).await;
    let ids: Vec<PostId> = posts.iter().map(|p| p.0).collect();
    f.migrate(&f.options()).await;
    let before = all_postings(&f).await;
    // WHEN it runs again
    let again = f.migrate(&f.options()).await;
    // THEN nothing changes, and it says so
    assert_eq!((again.counts.seen, again.counts.unchanged), (9, 9));
    assert_eq!(
        (
            again.counts.migrated,
            again.counts.repaired,
            again.counts.postings_written
        ),
        (0, 0, 0)
    );
    assert!(
        again.summary(false).contains("nothing to do"),
        "{}",
        again.summary(false)
    );
    assert_eq!(all_postings(&f).await, before);
    // GIVEN postings lost (a function stopped after its title change)
    let lost: Vec<_> = before[&ids[3]].iter().take(5).cloned().collect();
    for (pk, sk) in &lost {
        f.client
            .delete_item()
            .table_name(f.store.table())
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()))
            .send()
            .await
            .unwrap();
    }
    // WHEN it runs again, THEN it puts back exactly those
    let repair = f.migrate(&f.options()).await;
    assert_eq!((repair.counts.repaired, repair.counts.unchanged), (1, 8));
    assert_eq!(repair.counts.postings_written, 5);
    assert_postings_exact(&f, &ids).await;
}

#[tokio::test]
async fn an_interrupted_migrate_resumes_from_its_checkpoint_and_a_mismatched_one_is_refused() {
    let Some(f) = fixture("resume").await else {
        return;
    };
    let ann = owner(&f.store).await;
    let posts = legacy_posts(&f, &ann, 30, title).await;
    let ids: Vec<PostId> = posts.iter().map(|p| p.0).collect();
    // WHEN a run stops after a few posts
    let first = f
        .migrate(&Options {
            max_posts: Some(4),
            page_size: 3,
            ..f.options()
        })
        .await;
    // THEN it says it is unfinished, and keeps its checkpoint
    assert!(first.unfinished && f.checkpoint().exists());
    assert!(
        first.counts.migrated >= 4 && first.counts.migrated < 30,
        "{}",
        first.summary(false)
    );
    assert!(first.summary(false).contains("run the same command again"));
    // a checkpoint of other options is refused rather than misread
    let other = run(
        &f.store,
        &Options {
            segments: 3,
            ..f.options()
        },
    )
    .await;
    assert!(other.unwrap_err().to_string().contains("--from-scratch"));
    // WHEN it runs again, THEN it resumes and migrates only the rest
    let second = f
        .migrate(&Options {
            page_size: 3,
            ..f.options()
        })
        .await;
    assert!(second.resumed && !second.unfinished && !f.checkpoint().exists());
    assert_eq!(first.counts.migrated + second.counts.migrated, 30);
    assert_eq!(first.counts.seen + second.counts.seen, 30);
    assert_eq!(
        f.store.list_posts(100, 0, "", None).await.unwrap().len(),
        30
    );
    assert_postings_exact(&f, &ids).await;
}

#[tokio::test]
async fn title_edits_and_deletes_racing_a_migrate_leave_exact_postings() {
    let Some(f) = fixture("race").await else {
        return;
    };
    let ann = owner(&f.store).await;
    let posts = legacy_posts(&f, &ann, 24, title).await;
    let ids: Vec<PostId> = posts.iter().map(|p| p.0).collect();
    // WHEN posts are edited (3 title changes each on half of them) and deleted (a quarter)
    // while the migration runs
    let edits = async {
        let edits = ids.iter().take(12).map(|id| {
            let store = f.store.clone();
            let owner = ann.id;
            async move {
                for round in 0..3 {
                    let changes = PostChanges {
                        title: Some(format!("edited {round} of {id}")),
                        ..PostChanges::default()
                    };
                    store.update_post(*id, owner, changes).await.unwrap();
                }
            }
        });
        let deletes = ids.iter().skip(12).step_by(2).map(|id| {
            let store = f.store.clone();
            let owner = ann.id;
            async move { store.delete_post(*id, owner).await.unwrap() }
        });
        futures_util::future::join(
            futures_util::future::join_all(edits),
            futures_util::future::join_all(deletes),
        )
        .await
    };
    let opts = Options {
        page_size: 2,
        concurrency: 4,
        ..f.options()
    };
    let (report, _) = tokio::join!(f.migrate(&opts), edits);
    // THEN every surviving post has exactly the postings of its final title and version,
    // and the deleted ones none
    assert_eq!(report.counts.failed, 0);
    assert_postings_exact(&f, &ids).await;
    let listed = f.store.list_posts(100, 0, "", None).await.unwrap();
    assert_eq!(listed.len(), 24 - 6);
    let edited = f
        .store
        .list_posts(100, 0, "edited 2 of", None)
        .await
        .unwrap();
    assert_eq!(edited.len(), 12);
    assert!(
        f.store
            .list_posts(100, 0, "edited 1 of", None)
            .await
            .unwrap()
            .is_empty()
    );
    // AND a second run finds nothing to do
    let again = f.migrate(&f.options()).await;
    assert_eq!(
        (again.counts.migrated, again.counts.repaired),
        (0, 0),
        "{}",
        again.summary(false)
    );
}

#[tokio::test]
async fn migrate_refuses_fewer_feed_shards_than_a_shard_in_use_before_writing_anything() {
    let Some(f) = fixture("shrink").await else {
        return;
    };
    let ann = owner(&f.store).await;
    let legacy = legacy_posts(&f, &ann, 2, title).await;
    // GIVEN a post written by functions with 8 shards, in a shard above 2
    let wide = f.store.clone().with_feed_shards(8);
    let high = loop {
        let draft = shared::domain::PostDraft {
            title: "wide".into(),
            content: String::new(),
            published: true,
        };
        let post = wide.create_post(&ann, draft).await.unwrap();
        if shard_of(post.id, 8) >= SHARDS {
            break shard_of(post.id, 8);
        }
    };
    // WHEN a migration with 3 shards runs, THEN it refuses and writes nothing
    let err = run(&f.store, &f.options()).await.unwrap_err().to_string();
    assert!(err.contains("may only grow"), "{err}");
    assert!(err.contains(&format!("POSTS#{high}")) || high < 7, "{err}");
    let item = post_item(&f, legacy[0].0).await.unwrap();
    assert_eq!(item["gsi1pk"].as_s().unwrap(), "POSTS");
    // and with 8 it runs
    let report = run(&wide, &f.options()).await.unwrap();
    assert!(
        report.ok() && report.counts.migrated == 2,
        "{}",
        report.summary(false)
    );
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_counts_what_a_run_would_do() {
    let Some(f) = fixture("dry").await else {
        return;
    };
    let ann = owner(&f.store).await;
    let posts = legacy_posts(&f, &ann, 5, title).await;
    let report = f
        .migrate(&Options {
            dry_run: true,
            ..f.options()
        })
        .await;
    let grams: usize = posts.iter().map(|p| title_grams(&p.1).len()).sum();
    assert_eq!(report.counts.migrated, 5);
    assert_eq!(report.counts.postings_written, grams as u64);
    assert!(report.summary(true).contains("would be migrated"));
    assert!(all_postings(&f).await.is_empty());
    assert!(!f.checkpoint().exists());
    for (id, _) in &posts {
        let item = post_item(&f, *id).await.unwrap();
        assert_eq!(item["gsi1pk"].as_s().unwrap(), "POSTS");
        assert!(!item.contains_key("version"));
    }
}
