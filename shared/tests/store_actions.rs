//! `shared/store-actions.json` lists the IAM actions each store method needs; the template's
//! policies are checked against it. This test proves the list itself: it runs every store method
//! (success and failure paths) against DynamoDB Local with an SDK interceptor that records each
//! call, and compares what was really called with what the list declares, both ways.

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemInput, batch_write_item::BatchWriteItemInput,
    delete_item::DeleteItemInput, get_item::GetItemInput, put_item::PutItemInput,
    query::QueryInput, scan::ScanInput, transact_write_items::TransactWriteItemsInput,
    update_item::UpdateItemInput,
};
use shared::domain::{Email, PasswordHash, PostChanges, PostDraft, User, UserId};
use shared::ports::{LoginLimitStore, PostStore, SessionStore, UserStore, VoteStore};
use shared::store::{LoginAttempt, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Records the IAM action of every call (the per-item actions inside a transaction).
#[derive(Debug, Default, Clone)]
struct Recorder(Arc<Mutex<BTreeSet<String>>>);

impl Recorder {
    fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let input = context.input();
        let mut seen = self.0.lock().unwrap();
        let mut add = |a: &str| {
            seen.insert(format!("dynamodb:{a}"));
        };
        if input.downcast_ref::<GetItemInput>().is_some() {
            add("GetItem");
        } else if input.downcast_ref::<PutItemInput>().is_some() {
            add("PutItem");
        } else if input.downcast_ref::<UpdateItemInput>().is_some() {
            add("UpdateItem");
        } else if input.downcast_ref::<DeleteItemInput>().is_some() {
            add("DeleteItem");
        } else if input.downcast_ref::<QueryInput>().is_some() {
            add("Query");
        } else if input.downcast_ref::<ScanInput>().is_some() {
            add("Scan");
        } else if input.downcast_ref::<BatchWriteItemInput>().is_some() {
            add("BatchWriteItem");
        } else if input.downcast_ref::<BatchGetItemInput>().is_some() {
            add("BatchGetItem");
        } else if let Some(t) = input.downcast_ref::<TransactWriteItemsInput>() {
            for item in t.transact_items() {
                if item.put().is_some() {
                    add("PutItem");
                }
                if item.update().is_some() {
                    add("UpdateItem");
                }
                if item.delete().is_some() {
                    add("DeleteItem");
                }
                if item.condition_check().is_some() {
                    add("ConditionCheckItem");
                }
            }
        } else {
            add("Unknown");
        }
        Ok(())
    }
}

async fn recorded_store() -> (Store, Recorder) {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT")
        .expect("DYNAMODB_ENDPOINT must point at DynamoDB Local (`make test` sets it)");
    let plain = local_gateway::dynamodb::client_for_endpoint(&endpoint);
    let table = format!("store-actions-{}", std::process::id());
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    local_gateway::dynamodb::ensure_table(&plain, template, &table)
        .await
        .expect("create the test table");
    let recorder = Recorder::default();
    let conf = plain
        .config()
        .to_builder()
        .interceptor(recorder.clone())
        .build();
    (
        Store::new(aws_sdk_dynamodb::Client::from_conf(conf), table),
        recorder,
    )
}

fn declared() -> BTreeMap<String, BTreeSet<String>> {
    let text = include_str!("../store-actions.json");
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(text).unwrap();
    map.into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| {
            let actions = v
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            (k, actions)
        })
        .collect()
}

#[tokio::test]
async fn every_store_method_makes_exactly_the_dynamodb_calls_the_iam_list_declares() {
    let (store, rec) = recorded_store().await;
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut record = |name: &str, rec: &Recorder| {
        used.entry(name.to_string()).or_default().extend(rec.take());
    };

    let email = Email::parse("actions@example.com").unwrap();
    let hash = PasswordHash::new("h");
    let owner: User = store.create_user(&email, &hash).await.unwrap();
    let _ = store.create_user(&email, &hash).await; // the taken-e-mail path
    record("create_user", &rec);
    store.get_user(owner.id).await.unwrap();
    record("get_user", &rec);
    store.get_credential(&email).await.unwrap();
    record("get_credential", &rec);
    // Login limits: under them, then over the account's total from an unknown source (which
    // reads whether the source is known), then a success from it.
    let limits = shared::config::LoginLimitsConfig {
        window_secs: 900,
        per_account_source: 5,
        per_account: 1,
        per_source: 5,
    };
    let attempt = |ip| LoginAttempt::now("actions@example.com", Some(ip), 900);
    for ip in ["192.0.2.1", "192.0.2.2"] {
        store
            .check_login_limits(&limits, &attempt(ip))
            .await
            .unwrap();
    }
    record("check_login_limits", &rec);
    store
        .record_login_success(&limits, &attempt("192.0.2.2"))
        .await
        .unwrap();
    record("record_login_success", &rec);
    let post = store
        .create_post(
            &owner,
            PostDraft {
                title: "t".into(),
                content: "c".into(),
                published: true,
            },
        )
        .await
        .unwrap();
    record("create_post", &rec);
    store.get_post(post.id).await.unwrap();
    record("get_post", &rec);
    store.list_posts(10, 0, "", None).await.unwrap();
    store.list_posts(10, 0, "t", None).await.unwrap();
    record("list_posts", &rec);
    let change = PostChanges {
        title: Some("u".into()),
        ..Default::default()
    };
    store
        .update_post(post.id, owner.id, change.clone())
        .await
        .unwrap();
    let _ = store
        .update_post(post.id, UserId::new(owner.id.get() + 1), change)
        .await; // forbidden: explains with a read
    let _ = store
        .update_post(post.id, owner.id, PostChanges::default())
        .await;
    record("update_post", &rec);
    store.add_vote(post.id, owner.id).await.unwrap();
    let _ = store.add_vote(post.id, owner.id).await;
    record("add_vote", &rec);
    store.remove_vote(post.id, owner.id).await.unwrap();
    let _ = store.remove_vote(post.id, owner.id).await;
    record("remove_vote", &rec);
    store.count_vote_items(post.id).await.unwrap();
    record("count_vote_items", &rec);
    // Sessions: a login, a rotation, the rotated token presented again (revokes), a refresh
    // of the revoked session, an unknown token, and logout.
    let sessions = shared::config::SessionConfig {
        refresh_expire_minutes: 60,
        session_max_minutes: 120,
    };
    let now = shared::auth::unix_now();
    store
        .create_session(owner.id, "first", now, &sessions)
        .await
        .unwrap();
    record("create_session", &rec);
    store
        .rotate_refresh_token("first", "second", now, 3600)
        .await
        .unwrap();
    let _ = store
        .rotate_refresh_token("first", "third", now, 3600)
        .await;
    let _ = store
        .rotate_refresh_token("second", "fourth", now, 3600)
        .await;
    let _ = store
        .rotate_refresh_token("unknown", "fifth", now, 3600)
        .await;
    record("rotate_refresh_token", &rec);
    store.revoke_session("second", now).await.unwrap();
    store.revoke_session("unknown", now).await.unwrap();
    record("revoke_session", &rec);
    let session = store
        .create_session(owner.id, "sixth", now, &sessions)
        .await
        .unwrap()
        .session_id;
    rec.take();
    store.session_is_active(&session, now).await.unwrap();
    record("session_is_active", &rec);
    for _ in 0..2 {
        store
            .seed_session(UserId::new(1), "seeded", now, &sessions)
            .await
            .unwrap();
    }
    record("seed_session", &rec);
    // Fixtures (local_gateway seed): written, then found already there.
    let fixture = User {
        id: UserId::new(1),
        email: Email::from_trusted("seed-actions@example.com"),
        created_at: owner.created_at.clone(),
    };
    for _ in 0..2 {
        store.seed_user(&fixture, &hash).await.unwrap();
    }
    record("seed_user", &rec);
    let fixture_post = shared::domain::Post {
        id: shared::domain::PostId::new(1),
        owner: fixture,
        ..post.clone()
    };
    for _ in 0..2 {
        store.seed_post(&fixture_post).await.unwrap();
    }
    record("seed_post", &rec);
    // The backfill's step: (re)index a post at its current title version.
    store.index_post(post.id).await.unwrap();
    record("index_post", &rec);
    // `local_gateway migrate`: the scan, the shard check, and a backfill that finds the post
    // changed since its scan (so its key update fails and it re-reads) and repairs postings.
    store.scan_posts(0, 1, None, 100).await.unwrap();
    record("scan_posts", &rec);
    store.highest_feed_shard_from(60).await.unwrap();
    record("highest_feed_shard_from", &rec);
    let shard = shared::store::shard_of(post.id, store.feed_shards());
    let shared::store::Indexed::Indexed { version } = store.index_post(post.id).await.unwrap()
    else {
        panic!("the post is indexed")
    };
    let title = store.get_post(post.id).await.unwrap().unwrap().title;
    store
        .delete_postings(shard, post.id, version, &title)
        .await
        .unwrap();
    rec.take();
    let stale = shared::store::ScannedPost {
        id: post.id,
        feed_shard: None,
        version: 0,
        deleting: false,
    };
    let done = store.backfill_post(&stale, false).await.unwrap();
    assert!(done.postings_written > 0, "{done:?}");
    record("backfill_post", &rec);
    store
        .seed_posts(std::slice::from_ref(&fixture_post))
        .await
        .unwrap();
    record("seed_posts", &rec);
    // Delete a post with more votes than one transaction takes, and someone else's post.
    for voter in 0..12 {
        store
            .add_vote(post.id, UserId::new(50_000 + voter))
            .await
            .unwrap();
    }
    rec.take();
    let _ = store
        .delete_post(post.id, UserId::new(owner.id.get() + 1))
        .await;
    store.delete_post(post.id, owner.id).await.unwrap();
    record("delete_post", &rec);

    let declared = declared();
    assert_eq!(
        used.keys().collect::<Vec<_>>(),
        declared.keys().collect::<Vec<_>>(),
        "every store method in store-actions.json is exercised here, and no other"
    );
    for (method, actions) in &used {
        // Only the migration scans (`local_gateway migrate`); no function calls it, so no
        // role is granted Scan (tests/template checks each role against what it calls).
        assert!(
            !actions.contains("dynamodb:Scan") || method == "scan_posts",
            "{method} scans the table"
        );
        assert_eq!(
            actions, &declared[method],
            "store method {method}: calls made vs store-actions.json"
        );
    }
}
