//! JSON routes take JSON: a body whose Content-Type says otherwise is a 422 (FastAPI's answer),
//! so a cross-site "simple request" (`text/plain`, no preflight) cannot sign up or write.

use api_tests::*;

fn signup_json(email: &str) -> String {
    json!({"email": email, "password": "content-type-pw"}).to_string()
}

#[tokio::test]
async fn a_text_plain_json_sign_up_is_422_and_makes_no_account() {
    let api = api().await;
    let email = unique_email();
    for content_type in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let resp = api
            .call(
                "POST",
                "/users",
                None,
                Body::Raw(signup_json(&email), content_type),
            )
            .await;
        let errors = resp.expect_validation_error();
        assert_eq!(errors[0]["loc"], json!(["body"]), "{content_type}");
        assert_eq!(errors[0]["type"], json!("model_attributes_type"));
    }
    // No account was made: the same e-mail signs up (201, not 409) and only now logs in.
    api.login(&email, "content-type-pw").await.expect(403);
    api.signup(&email, "content-type-pw").await.expect(201);
}

#[tokio::test]
async fn json_routes_refuse_other_content_types_before_any_write() {
    let api = api().await;
    let user = api.new_user().await;
    let post = api.new_post(&user, "content types").await;
    let id = id_of(&post);
    let edit = json!({"title": "changed", "content": "changed"}).to_string();
    for (method, path, body) in [
        ("POST", "/posts".to_string(), edit.clone()),
        ("PUT", format!("/posts/{id}"), edit.clone()),
        ("PATCH", format!("/posts/{id}"), edit.clone()),
        (
            "POST",
            "/vote".to_string(),
            json!({"post_id": id, "dir": 1}).to_string(),
        ),
    ] {
        api.call(
            method,
            &path,
            Some(&user.token),
            Body::Raw(body, "text/plain"),
        )
        .await
        .expect_422(&["body"]);
    }
    let after = api.get_post(&user.token, id).await.expect(200);
    assert_eq!(after["Post"], post);
    assert_eq!(after["votes"], json!(0));
}

#[tokio::test]
async fn json_with_parameters_vendor_suffixes_or_no_content_type_is_read() {
    let api = api().await;
    let user = api.new_user().await;
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.posts+json",
    ] {
        let body = json!({"title": content_type, "content": "ok"}).to_string();
        api.call(
            "POST",
            "/posts",
            Some(&user.token),
            Body::Raw(body, content_type),
        )
        .await
        .expect(201);
    }
    // No Content-Type at all: read as JSON, as FastAPI does.
    let request = api
        .request("POST", "/posts")
        .header("authorization", format!("Bearer {}", user.token))
        .body(json!({"title": "no content type", "content": "ok"}).to_string());
    api.send(request).await.expect(201);
}
