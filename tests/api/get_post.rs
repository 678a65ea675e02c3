//! `GET /posts/{id}` → 200 `PostOut` / 404.

use api_tests::*;

#[tokio::test]
async fn get_post_answers_200_with_post_out_of_the_created_post() {
    let api = api().await;
    let user = api.new_user().await;
    let created = api.new_post(&user, "to read").await;
    let body = api.get_post(&user.token, id_of(&created)).await.expect(200);
    assert_eq!(keys(&body), ["Post", "votes"], "not a PostOut: {body}");
    assert_eq!(body["Post"], created);
    assert_eq!(body["votes"], json!(0));
}

#[tokio::test]
async fn anyone_signed_in_can_read_someone_elses_post() {
    let api = api().await;
    let author = api.new_user().await;
    let reader = api.new_user().await;
    let created = api.new_post(&author, "shared").await;
    let body = api
        .get_post(&reader.token, id_of(&created))
        .await
        .expect(200);
    assert_eq!(body["Post"], created);
}

#[tokio::test]
async fn unpublished_posts_are_readable_too() {
    let api = api().await;
    let author = api.new_user().await;
    let reader = api.new_user().await;
    let draft = api
        .create_post(
            &author.token,
            json!({"title": "draft", "content": "c", "published": false}),
        )
        .await
        .expect(201);
    api.get_post(&reader.token, id_of(&draft)).await.expect(200);
}

#[tokio::test]
async fn get_unknown_post_is_404_was_not_found() {
    let api = api().await;
    let user = api.new_user().await;
    let id = missing_id();
    api.get_post(&user.token, id)
        .await
        .expect_detail(404, &format!("post with id: {id} was not found"));
}

#[tokio::test]
async fn get_post_shows_the_vote_count() {
    let api = api().await;
    let author = api.new_user().await;
    let voter = api.new_user().await;
    let id = id_of(&api.new_post(&author, "voted").await);
    api.vote(&voter.token, id, 1).await.expect(201);
    api.vote(&author.token, id, 1).await.expect(201);
    assert_eq!(api.votes_of(&author.token, id).await, 2);
}
