//! `PUT /posts/{id}`: full replacement.
//!
//! The tests that send both PUT and PATCH (`put_and_patch_*`) are here too; `patch_post.rs`
//! holds the PATCH-only ones.

use api_tests::*;

use crate::create_post::assert_post_of;

/// A post by `user` with known values, unpublished so that a reset to `true` shows.
pub(crate) async fn draft(api: &Api, user: &User) -> Value {
    api.create_post(
        &user.token,
        json!({"title": "old title", "content": "old content", "published": false}),
    )
    .await
    .expect(201)
}

/// The stored `Post`, read back.
pub(crate) async fn stored(api: &Api, user: &User, id: u64) -> Value {
    api.get_post(&user.token, id).await.expect(200)["Post"].clone()
}

#[tokio::test]
async fn put_replaces_title_and_content_and_resets_published_to_true() {
    let api = api().await;
    let user = api.new_user().await;
    let before = draft(&api, &user).await;
    let id = id_of(&before);
    let after = api
        .update_post(
            &user.token,
            id,
            json!({"title": "new title", "content": "new content"}),
        )
        .await
        .expect(200);
    assert_post_of(&after, &user);
    assert_eq!(after["title"], json!("new title"));
    assert_eq!(after["content"], json!("new content"));
    assert_eq!(after["published"], json!(true), "PUT is a full replacement");
    assert!(
        after.get("votes").is_none(),
        "PUT answers a Post, no votes: {after}"
    );
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
async fn put_with_published_false_keeps_it_false() {
    let api = api().await;
    let user = api.new_user().await;
    let id = id_of(&api.new_post(&user, "published").await);
    let after = api
        .update_post(
            &user.token,
            id,
            json!({"title": "t", "content": "c", "published": false}),
        )
        .await
        .expect(200);
    assert_eq!(after["published"], json!(false));
}

#[tokio::test]
async fn put_ignores_client_set_id_owner_votes_and_created_at() {
    let api = api().await;
    let user = api.new_user().await;
    let other = api.new_user().await;
    let before = draft(&api, &user).await;
    let id = id_of(&before);
    let after = api
        .update_post(
            &user.token,
            id,
            json!({
                "title": "t",
                "content": "c",
                "id": id + 1,
                "owner_id": other.id,
                "owner": other.json,
                "votes": 42,
                "created_at": "2001-01-01T00:00:00+00:00",
            }),
        )
        .await
        .expect(200);
    for unchanged in ["id", "created_at", "owner_id", "owner"] {
        assert_eq!(after[unchanged], before[unchanged], "{unchanged} changed");
    }
    assert_eq!(api.votes_of(&user.token, id).await, 0);
}

#[tokio::test]
async fn put_needs_the_whole_body_as_for_create() {
    let api = api().await;
    let user = api.new_user().await;
    let id = id_of(&draft(&api, &user).await);
    api.update_post(&user.token, id, json!({"title": "only a title"}))
        .await
        .expect_422(&["body", "content"]);
    api.update_post(&user.token, id, json!({"content": "only content"}))
        .await
        .expect_422(&["body", "title"]);
    api.update_post(
        &user.token,
        id,
        json!({"title": "t".repeat(301), "content": "c"}),
    )
    .await
    .expect_422(&["body", "title"]);
    api.update_post(&user.token, id, json!({"title": 1, "content": "c"}))
        .await
        .expect_422(&["body", "title"]);
    api.update_post(
        &user.token,
        id,
        json!({"title": "t", "content": "c", "published": "no"}),
    )
    .await
    .expect_422(&["body", "published"]);
    // Nothing changed.
    assert_eq!(stored(&api, &user, id).await["title"], json!("old title"));
}

#[tokio::test]
async fn put_on_an_unknown_post_is_404_does_not_exist() {
    let api = api().await;
    let user = api.new_user().await;
    let id = missing_id();
    api.update_post(&user.token, id, json!({"title": "t", "content": "c"}))
        .await
        .expect_detail(404, &format!("post with id: {id} does not exist"));
}

#[tokio::test]
async fn put_on_someone_elses_post_is_403() {
    let api = api().await;
    let owner = api.new_user().await;
    let stranger = api.new_user().await;
    let before = draft(&api, &owner).await;
    let id = id_of(&before);
    api.update_post(
        &stranger.token,
        id,
        json!({"title": "hijacked", "content": "c"}),
    )
    .await
    .expect_detail(403, "Not authorized to perform requested action");
    assert_eq!(
        stored(&api, &owner, id).await,
        before,
        "a refused PUT changed the post"
    );
}

#[tokio::test]
async fn put_and_patch_keep_the_vote_count() {
    let api = api().await;
    let owner = api.new_user().await;
    let voter = api.new_user().await;
    let id = id_of(&api.new_post(&owner, "kept votes").await);
    api.vote(&voter.token, id, 1).await.expect(201);
    api.update_post(&owner.token, id, json!({"title": "t", "content": "c"}))
        .await
        .expect(200);
    api.patch_post(&owner.token, id, json!({"title": "t2"}))
        .await
        .expect(200);
    assert_eq!(api.votes_of(&owner.token, id).await, 1);
}

#[tokio::test]
async fn put_and_patch_with_empty_strings_answer_200_and_store_them() {
    let api = api().await;
    let user = api.new_user().await;
    let id = id_of(&draft(&api, &user).await);
    // PUT "" for both
    let put = api
        .update_post(&user.token, id, json!({"title": "", "content": ""}))
        .await
        .expect(200);
    assert_post_of(&put, &user);
    assert_eq!((&put["title"], &put["content"]), (&json!(""), &json!("")));
    assert_eq!(stored(&api, &user, id).await, put);
    // PATCH text back into one, then "" into the other: only the given field changes
    api.patch_post(&user.token, id, json!({"title": "back"}))
        .await
        .expect(200);
    api.patch_post(&user.token, id, json!({"content": "text"}))
        .await
        .expect(200);
    let patched = api
        .patch_post(&user.token, id, json!({"title": ""}))
        .await
        .expect(200);
    assert_eq!(
        (&patched["title"], &patched["content"]),
        (&json!(""), &json!("text"))
    );
    assert_eq!(stored(&api, &user, id).await, patched);
}

#[tokio::test]
async fn put_and_patch_with_empty_strings_on_someone_elses_post_are_still_403() {
    let api = api().await;
    let owner = api.new_user().await;
    let stranger = api.new_user().await;
    let before = draft(&api, &owner).await;
    let id = id_of(&before);
    api.update_post(&stranger.token, id, json!({"title": "", "content": ""}))
        .await
        .expect_detail(403, "Not authorized to perform requested action");
    api.patch_post(&stranger.token, id, json!({"content": ""}))
        .await
        .expect_detail(403, "Not authorized to perform requested action");
    assert_eq!(
        stored(&api, &owner, id).await,
        before,
        "a refused write changed the post"
    );
}

#[tokio::test]
async fn put_and_patch_with_empty_strings_on_a_missing_post_are_still_404() {
    let api = api().await;
    let user = api.new_user().await;
    let id = missing_id();
    let missing = format!("post with id: {id} does not exist");
    api.update_post(&user.token, id, json!({"title": "", "content": ""}))
        .await
        .expect_detail(404, &missing);
    api.patch_post(&user.token, id, json!({"title": ""}))
        .await
        .expect_detail(404, &missing);
}
