//! One rule for a key given twice, in a query string or a form: the last value wins, as in
//! FastAPI. (JSON bodies follow it too: serde_json keeps the last of duplicate keys.)

use api_tests::*;

#[tokio::test]
async fn a_repeated_query_parameter_takes_its_last_value() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("repeated");
    for i in 0..3 {
        api.new_post(&user, &format!("{tag} {i}")).await;
    }
    let page = api
        .list_posts(
            &user.token,
            &[
                ("search", "no such title"),
                ("limit", "0"),
                ("search", &tag),
                ("limit", "2"),
            ],
        )
        .await
        .expect(200);
    assert_eq!(page.as_array().map(Vec::len), Some(2), "{page}");
    // The first value being valid does not save an invalid last one.
    api.list_posts(&user.token, &[("limit", "2"), ("limit", "-1")])
        .await
        .expect_422(&["query", "limit"]);
}

#[tokio::test]
async fn a_repeated_login_field_takes_its_last_value() {
    let api = api().await;
    let user = api.new_user().await;
    api.login_form(&[
        ("username", &user.email),
        ("password", "not-the-password"),
        ("password", &user.password),
    ])
    .await
    .expect(200);
    api.login_form(&[
        ("username", &user.email),
        ("password", &user.password),
        ("password", "not-the-password"),
    ])
    .await
    .expect_detail(403, "Invalid Credentials");
}

#[tokio::test]
async fn a_repeated_json_key_takes_its_last_value() {
    let api = api().await;
    let user = api.new_user().await;
    let body = r#"{"title": "first", "title": "last", "content": "c"}"#.to_string();
    let post = api
        .call(
            "POST",
            "/posts",
            Some(&user.token),
            Body::Raw(body, "application/json"),
        )
        .await
        .expect(201);
    assert_eq!(post["title"], json!("last"));
}
