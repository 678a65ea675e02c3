//! `DELETE /posts/{id}` → 204.

use api_tests::*;

#[tokio::test]
async fn delete_answers_204_with_an_empty_body() {
    let api = api().await;
    let user = api.new_user().await;
    let id = id_of(&api.new_post(&user, "to delete").await);
    let resp = api.delete_post(&user.token, id).await;
    resp.expect(204);
    assert_eq!(resp.text, "", "a 204 has no body");
}

#[tokio::test]
async fn a_deleted_post_is_gone_for_every_route() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("deleted");
    let id = id_of(&api.new_post(&user, &tag).await);
    api.delete_post(&user.token, id).await.expect(204);
    api.get_post(&user.token, id)
        .await
        .expect_detail(404, &format!("post with id: {id} was not found"));
    api.delete_post(&user.token, id)
        .await
        .expect_detail(404, &format!("post with id: {id} does not exist"));
    api.update_post(&user.token, id, json!({"title": "t", "content": "c"}))
        .await
        .expect_detail(404, &format!("post with id: {id} does not exist"));
    api.patch_post(&user.token, id, json!({"title": "t"}))
        .await
        .expect_detail(404, &format!("post with id: {id} does not exist"));
    assert_eq!(api.search(&user.token, &tag).await, Vec::<Value>::new());
}

#[tokio::test]
async fn delete_of_an_unknown_post_is_404_does_not_exist() {
    let api = api().await;
    let user = api.new_user().await;
    let id = missing_id();
    api.delete_post(&user.token, id)
        .await
        .expect_detail(404, &format!("post with id: {id} does not exist"));
}

#[tokio::test]
async fn delete_of_someone_elses_post_is_403_and_keeps_it() {
    let api = api().await;
    let owner = api.new_user().await;
    let stranger = api.new_user().await;
    let id = id_of(&api.new_post(&owner, "not yours").await);
    api.delete_post(&stranger.token, id)
        .await
        .expect_detail(403, "Not authorized to perform requested action");
    api.get_post(&owner.token, id).await.expect(200);
}

#[tokio::test]
async fn deleting_a_post_deletes_its_votes() {
    let api = api().await;
    let owner = api.new_user().await;
    let voter = api.new_user().await;
    let id = id_of(&api.new_post(&owner, "voted then deleted").await);
    api.vote(&voter.token, id, 1).await.expect(201);
    api.vote(&owner.token, id, 1).await.expect(201);
    api.delete_post(&owner.token, id).await.expect(204);
    // The post is gone, so both directions answer that the post does not exist.
    let detail = format!("Post with id: {id} does not exist");
    api.vote(&voter.token, id, 0)
        .await
        .expect_detail(404, &detail);
    api.vote(&voter.token, id, 1)
        .await
        .expect_detail(404, &detail);
    api.vote(&owner.token, id, 0)
        .await
        .expect_detail(404, &detail);
}
