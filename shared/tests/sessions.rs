//! Sessions in the store (refresh-token rotation, reuse detection, logout) against a real
//! DynamoDB Local, through the real SDK. Each test makes its own table from `template.yaml`.

use shared::auth::{new_refresh_token, refresh_token_hash, unix_now};
use shared::config::SessionConfig;
use shared::store::{RefreshError, RefreshGrant, Store, User};

async fn store() -> Store {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT")
        .expect("DYNAMODB_ENDPOINT must point at DynamoDB Local (`make test` sets it)");
    let client = local_gateway::dynamodb::client_for_endpoint(&endpoint);
    let table = format!(
        "sessions-test-{}-{}",
        std::process::id(),
        shared::auth::random_hex(4)
    );
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    local_gateway::dynamodb::ensure_table(&client, template, &table)
        .await
        .expect("create the test table");
    Store::new(client, table)
}

const CONFIG: SessionConfig = SessionConfig {
    refresh_expire_minutes: 60,
    session_max_minutes: 24 * 60,
};
const REFRESH_SECS: u64 = 3600;

/// A login: a session for `user_id` (made if missing) and its first token (the token, as the
/// client gets it).
async fn login(store: &Store, user_id: u64) -> (String, RefreshGrant) {
    let user = User {
        id: user_id,
        email: format!("user-{user_id}@example.com"),
        created_at: "2026-11-22T00:00:00.000000+00:00".into(),
    };
    store
        .seed_user(&user, "$2b$04$not.a.real.hash")
        .await
        .unwrap();
    let token = new_refresh_token();
    let grant = store
        .create_session(user_id, &refresh_token_hash(&token), unix_now(), &CONFIG)
        .await
        .unwrap();
    (token, grant)
}

async fn refresh(store: &Store, token: &str) -> Result<(String, RefreshGrant), RefreshError> {
    let next = new_refresh_token();
    store
        .rotate_refresh_token(
            &refresh_token_hash(token),
            &refresh_token_hash(&next),
            unix_now(),
            REFRESH_SECS,
        )
        .await
        .map(|grant| (next, grant))
}

#[tokio::test]
async fn each_refresh_token_works_once_and_a_reused_one_ends_the_session() {
    let store = store().await;
    // GIVEN a login and three rotations
    let (first, grant) = login(&store, 7).await;
    assert_eq!(grant.user_id, 7);
    let now = unix_now();
    assert!(grant.expires_at > now + REFRESH_SECS - 5 && grant.expires_at <= now + REFRESH_SECS);
    let mut current = first.clone();
    let mut seen = vec![first.clone()];
    for _ in 0..3 {
        let (next, g) = refresh(&store, &current).await.unwrap();
        assert_eq!((g.user_id, &g.session_id), (7, &grant.session_id));
        current = next;
        seen.push(current.clone());
    }
    assert!(
        store
            .session_is_active(&grant.session_id, unix_now())
            .await
            .unwrap()
    );
    // WHEN the first token is presented again
    let reused = refresh(&store, &first).await;
    // THEN it is refused, the session is revoked, and no token of the family works any more,
    // not even the current one
    assert!(matches!(reused, Err(RefreshError::Reused)), "{reused:?}");
    assert!(
        !store
            .session_is_active(&grant.session_id, unix_now())
            .await
            .unwrap()
    );
    let latest = refresh(&store, &current).await;
    assert!(matches!(latest, Err(RefreshError::Revoked)), "{latest:?}");
    for old in &seen[..3] {
        assert!(refresh(&store, old).await.is_err());
    }
}

#[tokio::test]
async fn when_20_refreshes_race_with_one_token_exactly_one_wins() {
    let store = store().await;
    let (token, grant) = login(&store, 8).await;
    let racers = (0..20).map(|_| {
        let (store, token) = (store.clone(), token.clone());
        tokio::spawn(async move { refresh(&store, &token).await })
    });
    let mut won = Vec::new();
    let mut refused = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok((next, _)) => won.push(next),
            Err(RefreshError::Reused | RefreshError::Revoked) => refused += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one refresh commits");
    assert_eq!(refused, 19);
    // The losers presented a token that was used by then: that is reuse, so the session is
    // revoked and even the winner's new token is refused (RFC 9700 §4.14).
    assert!(
        !store
            .session_is_active(&grant.session_id, unix_now())
            .await
            .unwrap()
    );
    assert!(refresh(&store, &won[0]).await.is_err());
}

#[tokio::test]
async fn logout_revokes_the_session_of_any_of_its_tokens_and_is_idempotent() {
    let store = store().await;
    let (first, grant) = login(&store, 9).await;
    let (second, _) = refresh(&store, &first).await.unwrap();
    // Logout with the used first token still ends the session; again changes nothing.
    for _ in 0..2 {
        assert!(
            store
                .revoke_session(&refresh_token_hash(&first), unix_now())
                .await
                .unwrap()
        );
    }
    assert!(
        !store
            .session_is_active(&grant.session_id, unix_now())
            .await
            .unwrap()
    );
    assert!(matches!(
        refresh(&store, &second).await,
        Err(RefreshError::Revoked)
    ));
    // An unknown token: nothing to revoke, no error.
    assert!(
        !store
            .revoke_session(&refresh_token_hash("never-issued"), unix_now())
            .await
            .unwrap()
    );
    // Another session of the same user is untouched.
    let (other, _) = login(&store, 9).await;
    assert!(refresh(&store, &other).await.is_ok());
}

#[tokio::test]
async fn unknown_and_expired_tokens_are_refused_without_revoking_anything() {
    let store = store().await;
    assert!(matches!(
        refresh(&store, "not-a-token").await,
        Err(RefreshError::Invalid)
    ));
    // GIVEN a token issued long ago: its session started 2 hours ago and it expired an hour
    // later (60-minute refresh tokens)
    let token = new_refresh_token();
    let two_hours_ago = unix_now() - 7200;
    let grant = store
        .create_session(10, &refresh_token_hash(&token), two_hours_ago, &CONFIG)
        .await
        .unwrap();
    // THEN it is refused, and its session stays as it was (an expired token is no replay)
    assert!(matches!(
        refresh(&store, &token).await,
        Err(RefreshError::Invalid)
    ));
    assert!(
        store
            .session_is_active(&grant.session_id, unix_now())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn no_token_outlives_its_session() {
    let store = store().await;
    // GIVEN a session that ends in 10 minutes (it started almost a day ago)
    login(&store, 12).await;
    let token = new_refresh_token();
    let started = unix_now() - (24 * 60 - 10) * 60;
    let config = SessionConfig {
        refresh_expire_minutes: 24 * 60,
        ..CONFIG
    };
    let grant = store
        .create_session(12, &refresh_token_hash(&token), started, &config)
        .await
        .unwrap();
    // WHEN it is refreshed, the new token ends with the session, not an hour later
    let (_, next) = refresh(&store, &token).await.unwrap();
    assert_eq!(next.expires_at, grant.expires_at);
    assert!(next.expires_at <= unix_now() + 600);
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
        .key("pk", key("USER#11"))
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
