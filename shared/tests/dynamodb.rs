//! What only the DynamoDB store can be tested for: its item layout, the development
//! fixtures it seeds, faults of the network, and data changed behind its back. Everything
//! both stores promise is in the suite (`stores.rs`). `make test` sets `DYNAMODB_ENDPOINT`.

#[path = "suite/common.rs"]
mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::*;
use shared::auth::unix_now;
use shared::domain::{Post, PostChanges, PostId, PostWriteError, StoreError, User, UserId};
use shared::ports::{LoginLimitStore, PostStore, SessionStore, UserStore, VoteStore};
use shared::store::{
    Indexed, POSTING_PK_PREFIX, RefreshError, Seeded, Store, feed_pk, posting_pk, posting_sk,
    shard_of, title_grams,
};
use std::collections::{BTreeSet, HashMap};

/// The development fixtures' ids (see `local_gateway seed`).
const U1: UserId = UserId::new(1);
const P1: PostId = PostId::new(1);

async fn store() -> Store {
    crate::common::dynamodb_store("dynamodb-test").await
}

#[tokio::test]
async fn seeding_fixed_fixtures_is_idempotent_and_never_overwrites_other_data() {
    let store = store().await;
    let fixture = User {
        id: U1,
        email: email("seed@example.com"),
        created_at: "2026-11-21T04:19:58.123456+00:00".into(),
    };
    let post = Post {
        id: P1,
        title: "seeded".into(),
        content: String::new(),
        published: true,
        created_at: "2026-11-21T04:20:00.000000+00:00".into(),
        owner: fixture.clone(),
        votes: 0,
    };
    // GIVEN an empty table: the user, its login and the post are written
    assert_eq!(
        store.seed_user(&fixture, &hash("h")).await.unwrap(),
        Seeded::Created
    );
    assert_eq!(store.seed_post(&post).await.unwrap(), Seeded::Created);
    assert_eq!(store.get_user(U1).await.unwrap(), Some(fixture.clone()));
    assert_eq!(
        store
            .get_credential(&email("seed@example.com"))
            .await
            .unwrap()
            .unwrap()
            .user_id,
        U1
    );
    assert_eq!(store.get_post(P1).await.unwrap(), Some(post.clone()));

    // WHEN seeding again after a vote and an edit, THEN nothing is overwritten
    store.add_vote(P1, U1).await.unwrap();
    let edited = PostChanges {
        title: Some("edited".into()),
        ..Default::default()
    };
    store.update_post(P1, U1, edited).await.unwrap();
    assert_eq!(
        store.seed_user(&fixture, &hash("other")).await.unwrap(),
        Seeded::AlreadyThere
    );
    assert_eq!(store.seed_post(&post).await.unwrap(), Seeded::AlreadyThere);
    let kept = store.get_post(P1).await.unwrap().unwrap();
    assert_eq!((kept.title.as_str(), kept.votes), ("edited", 1));
    assert_eq!(kept.votes, store.count_vote_items(P1).await.unwrap());
    assert_eq!(
        store
            .get_credential(&email("seed@example.com"))
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        hash("h")
    );

    // AND a fixture whose id or e-mail belongs to someone else is refused, not written
    let taken = user(&store, "taken@example.com").await;
    let clash = User {
        email: taken.email.clone(),
        id: UserId::new(2),
        ..fixture.clone()
    };
    assert!(store.seed_user(&clash, &hash("h")).await.is_err());
    assert_eq!(store.get_user(UserId::new(2)).await.unwrap(), None);
    let other_owner = Post {
        owner: taken,
        ..post.clone()
    };
    assert!(store.seed_post(&other_owner).await.is_err());

    // AND a deleted fixture post comes back with the next seed
    store.delete_post(P1, U1).await.unwrap();
    assert_eq!(store.seed_post(&post).await.unwrap(), Seeded::Created);
    assert_eq!(store.get_post(P1).await.unwrap().unwrap().votes, 0);
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_unavailable_not_an_internal_error() {
    // Fault injection: nothing listens on this port, which a running DynamoDB cannot simulate.
    let client = local_gateway::dynamodb::client_for_endpoint("http://127.0.0.1:9");
    let store = Store::new(client, "t");
    match store.get_user(U1).await {
        Err(e @ StoreError::Unavailable(_)) => {
            let api: shared::ApiError = e.into();
            assert_eq!(api.status(), 503);
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_session_of_a_user_that_no_longer_exists_does_not_refresh() {
    let store = store().await;
    // GIVEN a session whose user is then deleted (no route deletes users; an operator might)
    let (token, grant) = login(&store, 11).await;
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").unwrap();
    let key = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.into());
    local_gateway::dynamodb::client_for_endpoint(&endpoint)
        .delete_item()
        .table_name(store.table())
        .key("pk", key(&format!("USER#{}", grant.user_id)))
        .key("sk", key("PROFILE"))
        .send()
        .await
        .unwrap();
    // WHEN its refresh token is presented THEN it is refused, and the session is over
    assert!(matches!(
        refresh(&store, &token).await,
        Err(RefreshError::Revoked)
    ));
    assert!(
        !store
            .session_is_active(&grant.session_id, unix_now())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn every_item_the_limits_write_is_in_a_login_partition_with_an_expiry() {
    // The login function's IAM policy lets it write only partition keys `LOGIN#...`
    // (template.yaml, dynamodb:LeadingKeys); this is what makes that enough.
    let store = store().await;
    let limits = limits(2, 3, 4);
    let known = at("ann@example.com", "203.0.113.1", T0);
    gate(&store, &limits, &known).await;
    store.record_login_success(&limits, &known).await.unwrap();
    for bot in 1..=4 {
        for _ in 0..3 {
            let a = at("ann@example.com", &format!("198.51.100.{bot}"), T0);
            gate(&store, &limits, &a).await;
        }
    }
    gate(&store, &limits, &at(&"x".repeat(5_000), "2001:db8::1", T0)).await;
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").unwrap();
    let client = local_gateway::dynamodb::client_for_endpoint(&endpoint);
    let items = client
        .scan()
        .table_name(store.table())
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert!(items.len() >= 8, "{items:?}");
    for item in items {
        let pk = item["pk"].as_s().unwrap();
        assert!(pk.starts_with("LOGIN#"), "{pk}");
        let expires_at: u64 = item["expires_at"].as_n().unwrap().parse().unwrap();
        assert!(expires_at > T0, "{pk}: expires_at {expires_at}");
    }
}

/// Every search posting of post `id` in the table, as (pk, sk), read with a Scan (tests
/// only: the table is this test's own).
async fn postings_of(store: &Store, id: PostId) -> BTreeSet<(String, String)> {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").unwrap();
    let client = local_gateway::dynamodb::client_for_endpoint(&endpoint);
    let prefix = format!("{:016}#", id.get());
    let mut found = BTreeSet::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in out.items.unwrap_or_default() {
            let pk = item["pk"].as_s().unwrap();
            let sk = item["sk"].as_s().unwrap();
            if pk.starts_with(POSTING_PK_PREFIX) && sk.starts_with(&prefix) {
                found.insert((pk.clone(), sk.clone()));
            }
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return found,
        }
    }
}

/// The postings a post with `title` at title `version` must have, and no others.
fn expected_postings(id: PostId, version: u64, title: &str) -> BTreeSet<(String, String)> {
    let shard = shard_of(id, TEST_FEED_SHARDS);
    title_grams(title)
        .into_iter()
        .map(|g| (posting_pk(shard, &g), posting_sk(id, version)))
        .collect()
}

/// The raw post item.
async fn post_item(store: &Store, id: PostId) -> Option<HashMap<String, AttributeValue>> {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").unwrap();
    local_gateway::dynamodb::client_for_endpoint(&endpoint)
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("POST#{id}")))
        .key("sk", AttributeValue::S("POST".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

#[tokio::test]
async fn a_post_is_written_to_its_shard_at_version_1_with_one_posting_per_gram() {
    let store = store().await;
    let owner = user(&store, "layout@example.com").await;
    let post = store
        .create_post(&owner, draft("héllo wörld".into(), "c".into(), true))
        .await
        .unwrap();
    let item = post_item(&store, post.id).await.unwrap();
    let shard = shard_of(post.id, TEST_FEED_SHARDS);
    assert_eq!(item["gsi1pk"].as_s().unwrap(), &feed_pk(shard));
    assert_eq!(item["version"].as_n().unwrap(), "1");
    assert_eq!(
        postings_of(&store, post.id).await,
        expected_postings(post.id, 1, "héllo wörld")
    );
    // A PUT of the same title and a change of content leave version and postings alone
    let same = PostChanges {
        title: Some("héllo wörld".into()),
        content: Some("other".into()),
        published: Some(false),
    };
    store.update_post(post.id, owner.id, same).await.unwrap();
    assert_eq!(
        post_item(&store, post.id).await.unwrap()["version"]
            .as_n()
            .unwrap(),
        "1"
    );
    assert_eq!(
        postings_of(&store, post.id).await,
        expected_postings(post.id, 1, "héllo wörld")
    );
    // A new title: version 2, the old postings gone
    let retitle = PostChanges {
        title: Some("bye".into()),
        ..Default::default()
    };
    let changed = store.update_post(post.id, owner.id, retitle).await.unwrap();
    assert_eq!(
        (changed.content.as_str(), changed.published),
        ("other", false)
    );
    assert_eq!(
        post_item(&store, post.id).await.unwrap()["version"]
            .as_n()
            .unwrap(),
        "2"
    );
    assert_eq!(
        postings_of(&store, post.id).await,
        expected_postings(post.id, 2, "bye")
    );
}

#[tokio::test]
async fn after_concurrent_title_changes_the_postings_are_exactly_the_final_titles() {
    let store = store().await;
    let owner = user(&store, "race-titles@example.com").await;
    let post = store
        .create_post(&owner, draft("first title".into(), "c".into(), true))
        .await
        .unwrap();
    // GIVEN 8 writers changing the title 4 times each, all at once
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for round in 0..4 {
                    let change = PostChanges {
                        title: Some(format!("writer {w} round {round} {}", "x".repeat(w))),
                        ..Default::default()
                    };
                    store.update_post(post.id, owner.id, change).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    // THEN the postings are the grams of the final title at the final version, no more
    let item = post_item(&store, post.id).await.unwrap();
    let version: u64 = item["version"].as_n().unwrap().parse().unwrap();
    let title = item["title"].as_s().unwrap();
    assert_eq!(version, 33);
    assert_eq!(
        postings_of(&store, post.id).await,
        expected_postings(post.id, version, title)
    );
    // AND search finds it by the final title only
    let found = store.list_posts(10, 0, title, None).await.unwrap();
    assert_eq!(found.iter().map(|p| p.id).collect::<Vec<_>>(), [post.id]);
    assert!(
        store
            .list_posts(10, 0, "first title", None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_delete_racing_title_changes_leaves_no_posting() {
    let store = store().await;
    let owner = user(&store, "race-delete@example.com").await;
    for attempt in 0..3 {
        let post = store
            .create_post(&owner, draft(format!("doomed {attempt}"), "c".into(), true))
            .await
            .unwrap();
        // GIVEN writers changing the title while the owner deletes the post
        let writers: Vec<_> = (0..6)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    for round in 0..3 {
                        let change = PostChanges {
                            title: Some(format!("w{w} r{round} doomed")),
                            ..Default::default()
                        };
                        match store.update_post(post.id, owner.id, change).await {
                            Ok(_) | Err(PostWriteError::NotFound(_)) => {}
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                })
            })
            .collect();
        let deleter = {
            let store = store.clone();
            tokio::spawn(async move { store.delete_post(post.id, owner.id).await })
        };
        for w in writers {
            w.await.unwrap();
        }
        deleter.await.unwrap().unwrap();
        // THEN the post and every posting of it are gone
        assert!(post_item(&store, post.id).await.is_none());
        assert_eq!(postings_of(&store, post.id).await, BTreeSet::new());
        assert!(
            store
                .list_posts(10, 0, "doomed", None)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_stale_posting_is_never_a_search_result_and_index_post_repairs_a_missing_one() {
    let store = store().await;
    let owner = user(&store, "stale@example.com").await;
    let post = store
        .create_post(&owner, draft("kept title".into(), "c".into(), true))
        .await
        .unwrap();
    let shard = shard_of(post.id, TEST_FEED_SHARDS);
    // GIVEN postings of a version the post never had (a writer that died half-way)
    store
        .put_postings(shard, post.id, 7, "ghost title")
        .await
        .unwrap();
    // THEN they match nothing, and the real ones still work
    assert!(
        store
            .list_posts(10, 0, "ghost", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_posts(10, 0, "t", None).await.unwrap().len() == 1);
    // GIVEN the real postings lost (a crash between the title's write and its postings)
    store
        .delete_postings(shard, post.id, 1, "kept title")
        .await
        .unwrap();
    assert!(
        store
            .list_posts(10, 0, "kept", None)
            .await
            .unwrap()
            .is_empty()
    );
    // WHEN the backfill's step runs, THEN the post is found again
    assert_eq!(
        store.index_post(post.id).await.unwrap(),
        Indexed::Indexed { version: 1 }
    );
    assert_eq!(
        store.list_posts(10, 0, "kept", None).await.unwrap().len(),
        1
    );
}
