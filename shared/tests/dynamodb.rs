//! What only the DynamoDB store can be tested for: its item layout, the development
//! fixtures it seeds, faults of the network, and data changed behind its back. Everything
//! both stores promise is in the suite (`stores.rs`). `make test` sets `DYNAMODB_ENDPOINT`.

#[path = "suite/common.rs"]
mod common;

use common::*;
use shared::auth::unix_now;
use shared::domain::{Post, PostChanges, PostId, StoreError, User, UserId};
use shared::ports::{LoginLimitStore, PostStore, SessionStore, UserStore, VoteStore};
use shared::store::{RefreshError, Seeded, Store};

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
