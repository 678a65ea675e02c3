// Sessions: refresh-token rotation, reuse detection and logout, as every `SessionStore`
// promises. Included by `stores.rs` once per implementation (see there).

#[tokio::test]
async fn each_refresh_token_works_once_and_a_reused_one_ends_the_session() {
    let store = store().await;
    // GIVEN a login and three rotations
    let (first, grant) = login(&store, 7).await;
    let me = grant.user_id;
    let now = unix_now();
    assert!(grant.expires_at > now + REFRESH_SECS - 5 && grant.expires_at <= now + REFRESH_SECS);
    let mut current = first.clone();
    let mut seen = vec![first.clone()];
    for _ in 0..3 {
        let (next, g) = refresh(&store, &current).await.unwrap();
        assert_eq!((g.user_id, &g.session_id), (me, &grant.session_id));
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
        .create_session(UserId::new(10), &refresh_token_hash(&token), two_hours_ago, &CONFIG)
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
    let (_, first) = login(&store, 12).await;
    let token = new_refresh_token();
    let started = unix_now() - (24 * 60 - 10) * 60;
    let config = SessionConfig {
        refresh_expire_minutes: 24 * 60,
        ..CONFIG
    };
    let grant = store
        .create_session(first.user_id, &refresh_token_hash(&token), started, &config)
        .await
        .unwrap();
    // WHEN it is refreshed, the new token ends with the session, not an hour later
    let (_, next) = refresh(&store, &token).await.unwrap();
    assert_eq!(next.expires_at, grant.expires_at);
    assert!(next.expires_at <= unix_now() + 600);
}
