//! Conventions that hold for every route: trailing slashes, unknown routes and methods,
//! malformed bodies, path ids, JSON answers.

use api_tests::*;

#[tokio::test]
async fn both_spellings_of_every_path_work_without_a_redirect() {
    let api = api().await;
    let email = unique_email();
    let user = api
        .json(
            "POST",
            "/users/",
            None,
            json!({"email": email, "password": "s3cret-password"}),
        )
        .await
        .expect(201);
    let user_id = id_of(&user);
    api.get(&format!("/users/{user_id}/"), None)
        .await
        .expect(200);
    let token = api
        .call(
            "POST",
            "/login/",
            None,
            Body::Form(vec![
                ("username".into(), email.clone()),
                ("password".into(), "s3cret-password".into()),
            ]),
        )
        .await
        .expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = Some(token.as_str());
    let post = api
        .json(
            "POST",
            "/posts/",
            token,
            json!({"title": "slash", "content": "c"}),
        )
        .await
        .expect(201);
    let id = id_of(&post);
    let list = api.get("/posts/", token).await.expect(200);
    assert!(list.is_array(), "GET /posts/ answered {list}");
    api.get(&format!("/posts/{id}/"), token).await.expect(200);
    api.json(
        "PUT",
        &format!("/posts/{id}/"),
        token,
        json!({"title": "t", "content": "c"}),
    )
    .await
    .expect(200);
    api.json(
        "PATCH",
        &format!("/posts/{id}/"),
        token,
        json!({"title": "t2"}),
    )
    .await
    .expect(200);
    api.json("POST", "/vote/", token, json!({"post_id": id, "dir": 1}))
        .await
        .expect(201);
    api.call("DELETE", &format!("/posts/{id}/"), token, Body::None)
        .await
        .expect(204);
}

#[tokio::test]
async fn the_list_query_works_with_a_trailing_slash_too() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("slashq");
    let id = id_of(&api.new_post(&user, &tag).await);
    let request = api
        .request("GET", "/posts/")
        .query(&[("search", tag.as_str()), ("limit", "5")])
        .header("Authorization", format!("Bearer {}", user.token));
    let list = api.send(request).await.expect(200);
    assert_eq!(list[0]["Post"]["id"], json!(id), "list: {list}");
}

#[tokio::test]
async fn unknown_routes_are_404_not_found() {
    let api = api().await;
    let user = api.new_user().await;
    let paths = [
        "/nothing-here",
        "/posts/1/comments",
        "/users/1/posts",
        "/vote/1",
        "/login/extra",
    ];
    for path in paths {
        api.get(path, None).await.expect_detail(404, "Not Found");
        api.get(path, Some(&user.token))
            .await
            .expect_detail(404, "Not Found");
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_is_404_or_405_with_a_json_detail() {
    let api = api().await;
    let user = api.new_user().await;
    let cases = [
        ("DELETE", "/"),
        ("GET", "/users"),
        ("DELETE", "/users/1"),
        ("PUT", "/users/1"),
        ("GET", "/login"),
        ("GET", "/vote"),
        ("DELETE", "/vote"),
        ("DELETE", "/posts"),
        ("POST", "/posts/1"),
    ];
    for (method, path) in cases {
        let resp = api.call(method, path, Some(&user.token), Body::None).await;
        match resp.status {
            404 => resp.expect_detail(404, "Not Found"),
            405 => resp.expect_detail(405, "Method Not Allowed"),
            other => panic!(
                "{method} {path}: expected 404 or 405, got {other}: {}",
                resp.text
            ),
        }
    }
}

#[tokio::test]
async fn a_malformed_json_body_is_422_not_500() {
    let api = api().await;
    let user = api.new_user().await;
    let id = id_of(&api.new_post(&user, "malformed").await);
    let token = Some(user.token.as_str());
    let routes = [
        ("POST", "/users".to_owned(), None),
        ("POST", "/posts".to_owned(), token),
        ("PUT", format!("/posts/{id}"), token),
        ("PATCH", format!("/posts/{id}"), token),
        ("POST", "/vote".to_owned(), token),
    ];
    for (method, path, token) in routes {
        for bad in ["{not json", "{\"title\": \"t\",}", "", "\u{1}"] {
            let resp = api
                .call(
                    method,
                    &path,
                    token,
                    Body::Raw(bad.into(), "application/json"),
                )
                .await;
            let errors = resp.expect_validation_error();
            assert!(
                errors.iter().all(|e| e["loc"][0] == json!("body")),
                "{method} {path} with {bad:?}: a bad body is a body error: {}",
                resp.text
            );
        }
    }
    // Nothing was changed by the bad bodies.
    assert_eq!(
        api.get_post(&user.token, id).await.expect(200)["Post"]["title"],
        json!("malformed")
    );
}

#[tokio::test]
async fn path_ids_that_are_not_positive_integers_are_422() {
    let api = api().await;
    let user = api.new_user().await;
    let token = Some(user.token.as_str());
    for id in ["abc", "0", "-1", "1.5", "0x10"] {
        let path = format!("/posts/{id}");
        api.get(&path, token).await.expect_422(&["path", "id"]);
        api.json("PUT", &path, token, json!({"title": "t", "content": "c"}))
            .await
            .expect_422(&["path", "id"]);
        api.json("PATCH", &path, token, json!({"title": "t"}))
            .await
            .expect_422(&["path", "id"]);
        api.call("DELETE", &path, token, Body::None)
            .await
            .expect_422(&["path", "id"]);
        api.get(&format!("/users/{id}"), None)
            .await
            .expect_422(&["path", "id"]);
    }
}

#[tokio::test]
async fn every_answer_with_a_body_is_json_with_a_json_content_type() {
    let api = api().await;
    let user = api.new_user().await;
    let answers = [
        api.get("/", None).await,
        api.get("/posts", Some(&user.token)).await,
        api.get("/posts", None).await,
        api.get("/posts", Some("garbage")).await,
        api.get("/nothing-here", None).await,
        api.get(&format!("/users/{}", missing_id()), None).await,
        api.get("/users/abc", None).await,
        api.login(&unique_email(), "whatever-password").await,
    ];
    for resp in answers {
        resp.json();
        let content_type = resp.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{}: Content-Type {content_type:?}",
            resp.request
        );
    }
}

#[tokio::test]
async fn error_answers_carry_only_a_detail() {
    let api = api().await;
    let user = api.new_user().await;
    let answers = [
        api.get(&format!("/posts/{}", missing_id()), Some(&user.token))
            .await,
        api.json("POST", "/posts", Some(&user.token), json!({"title": 1}))
            .await,
        api.get("/posts", Some("garbage")).await,
        api.call(
            "POST",
            "/users",
            None,
            Body::Raw("{oops".into(), "application/json"),
        )
        .await,
    ];
    for resp in answers {
        let body = resp.json();
        assert!(resp.status >= 400, "{}: {}", resp.request, resp.text);
        assert_eq!(keys(&body), ["detail"], "{}: {}", resp.request, resp.text);
    }
}
