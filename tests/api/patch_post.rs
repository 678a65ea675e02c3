//! `PATCH /posts/{id}`: partial update. The tests that send both PUT and PATCH are in
//! `update_post.rs` (`put_and_patch_*`).

use api_tests::*;

use crate::create_post::assert_post_of;
use crate::update_post::{draft, stored};

#[tokio::test]
async fn patch_changes_only_the_given_fields() {
    let api = api().await;
    let user = api.new_user().await;
    let before = draft(&api, &user).await;
    let id = id_of(&before);

    let after = api
        .patch_post(&user.token, id, json!({"title": "patched title"}))
        .await
        .expect(200);
    assert_post_of(&after, &user);
    assert!(
        after.get("votes").is_none(),
        "PATCH answers a Post, no votes: {after}"
    );
    assert_eq!(after["title"], json!("patched title"));
    assert_eq!(after["content"], json!("old content"));
    assert_eq!(
        after["published"],
        json!(false),
        "PATCH must not reset published"
    );

    let after = api
        .patch_post(&user.token, id, json!({"published": true}))
        .await
        .expect(200);
    assert_eq!(after["title"], json!("patched title"));
    assert_eq!(after["published"], json!(true));

    let after = api
        .patch_post(&user.token, id, json!({"content": "patched content"}))
        .await
        .expect(200);
    assert_eq!(after["title"], json!("patched title"));
    assert_eq!(after["content"], json!("patched content"));
    assert_eq!(after["published"], json!(true));

    for unchanged in ["id", "created_at", "owner_id", "owner"] {
        assert_eq!(after[unchanged], before[unchanged], "{unchanged} changed");
    }
    assert_eq!(
        stored(&api, &user, id).await,
        after,
        "the answer must be what is stored"
    );
}

#[tokio::test]
async fn patch_with_an_empty_body_changes_nothing() {
    let api = api().await;
    let user = api.new_user().await;
    let before = draft(&api, &user).await;
    let after = api
        .patch_post(&user.token, id_of(&before), json!({}))
        .await
        .expect(200);
    assert_eq!(after, before);
}

#[tokio::test]
async fn patch_ignores_client_set_id_owner_votes_and_created_at() {
    let api = api().await;
    let user = api.new_user().await;
    let other = api.new_user().await;
    let before = draft(&api, &user).await;
    let id = id_of(&before);
    let after = api
        .patch_post(
            &user.token,
            id,
            json!({
                "id": id + 1,
                "owner_id": other.id,
                "owner": other.json,
                "votes": 42,
                "created_at": "2001-01-01T00:00:00+00:00",
            }),
        )
        .await
        .expect(200);
    assert_eq!(after, before);
    assert_eq!(api.votes_of(&user.token, id).await, 0);
}

#[tokio::test]
async fn patch_validates_types_and_limits() {
    let api = api().await;
    let user = api.new_user().await;
    let id = id_of(&draft(&api, &user).await);
    let cases = [
        (json!({"title": 5}), "title"),
        (json!({"content": false}), "content"),
        (json!({"published": "yes"}), "published"),
        (json!({"title": "t".repeat(301)}), "title"),
        (json!({"content": "c".repeat(10_001)}), "content"),
        (json!({"content": "bell \u{7}"}), "content"),
        (json!({"title": "escape \u{1b}"}), "title"),
    ];
    for (body, field) in cases {
        api.patch_post(&user.token, id, body)
            .await
            .expect_422(&["body", field]);
    }
    assert_eq!(stored(&api, &user, id).await["title"], json!("old title"));
}

#[tokio::test]
async fn patch_on_an_unknown_post_is_404_does_not_exist() {
    let api = api().await;
    let user = api.new_user().await;
    let id = missing_id();
    api.patch_post(&user.token, id, json!({"title": "t"}))
        .await
        .expect_detail(404, &format!("post with id: {id} does not exist"));
}

#[tokio::test]
async fn patch_on_someone_elses_post_is_403() {
    let api = api().await;
    let owner = api.new_user().await;
    let stranger = api.new_user().await;
    let before = draft(&api, &owner).await;
    let id = id_of(&before);
    api.patch_post(&stranger.token, id, json!({"published": true}))
        .await
        .expect_detail(403, "Not authorized to perform requested action");
    assert_eq!(
        stored(&api, &owner, id).await,
        before,
        "a refused PATCH changed the post"
    );
}
