//! `GET /users/{id}`: a user's public profile.

use api_tests::*;

#[tokio::test]
async fn get_user_answers_200_with_the_same_user_as_sign_up() {
    let api = api().await;
    let user = api.new_user().await;
    let body = api
        .get(&format!("/users/{}", user.id), None)
        .await
        .expect(200);
    assert_eq!(body, user.json);
}

#[tokio::test]
async fn get_user_is_public_and_ignores_a_bad_token() {
    let api = api().await;
    let user = api.new_user().await;
    api.get(&format!("/users/{}", user.id), Some("garbage"))
        .await
        .expect(200);
}

#[tokio::test]
async fn get_unknown_user_is_404_with_the_exact_detail() {
    let api = api().await;
    let id = missing_id();
    api.get(&format!("/users/{id}"), None)
        .await
        .expect_detail(404, &format!("User with id: {id} does not exist"));
}

#[tokio::test]
async fn get_user_with_an_id_that_is_not_a_positive_integer_is_422() {
    let api = api().await;
    for id in ["abc", "0", "-1", "1.5", "1e3"] {
        api.get(&format!("/users/{id}"), None)
            .await
            .expect_422(&["path", "id"]);
    }
}
