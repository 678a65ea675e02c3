//! `POST /logout`: ends the session of a refresh token.

use api_tests::*;

use crate::refresh_token::{REFUSED, logged_in, pair, refresh};

/// `POST /logout` with this refresh token.
async fn logout(api: &Api, token: &str) -> Resp {
    api.json("POST", "/logout", None, json!({ "refresh_token": token }))
        .await
}

#[tokio::test]
async fn logout_ends_the_session_and_is_idempotent() {
    let api = api().await;
    let (_, body) = logged_in(&api).await;
    let (access, first) = pair(&body);
    let (_, second) = pair(&refresh(&api, &first).await.expect(200));
    // Logging out with the current token: 204, and its session is over.
    assert_eq!(logout(&api, &second).await.expect(204), Value::Null);
    refresh(&api, &second).await.expect_401(REFUSED);
    // Again, with the same or an older token of the session: still 204.
    logout(&api, &second).await.expect(204);
    logout(&api, &first).await.expect(204);
    // The access token already issued lives until it expires (no revocation check).
    api.get("/posts", Some(&access)).await.expect(200);
}

#[tokio::test]
async fn logout_with_an_unknown_token_is_204_and_tells_nothing() {
    let api = api().await;
    for token in ["", "never-issued", &"f".repeat(64)] {
        logout(&api, token).await.expect(204);
    }
}
