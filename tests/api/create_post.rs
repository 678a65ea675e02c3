//! `POST /posts` → 201 `Post`.

use api_tests::*;

use crate::create_user::{assert_created_at, assert_id};

/// The keys of a `Post` (no `votes`).
pub const POST_KEYS: [&str; 7] = [
    "content",
    "created_at",
    "id",
    "owner",
    "owner_id",
    "published",
    "title",
];

/// Asserts `post` is a `Post` owned by `user`.
#[track_caller]
pub fn assert_post_of(post: &Value, user: &User) {
    assert_eq!(keys(post), POST_KEYS, "not a Post: {post}");
    assert_id(post);
    assert_created_at(post);
    assert_eq!(post["owner_id"], json!(user.id), "owner_id: {post}");
    assert_eq!(
        post["owner"], user.json,
        "owner must be the owner's User: {post}"
    );
    assert!(post["published"].is_boolean(), "published: {post}");
    assert!(
        post["title"].is_string() && post["content"].is_string(),
        "{post}"
    );
}

#[tokio::test]
async fn create_post_answers_201_with_the_post_and_its_owner_and_no_votes_key() {
    let api = api().await;
    let user = api.new_user().await;
    let body = api
        .create_post(
            &user.token,
            json!({"title": "A title", "content": "Some content"}),
        )
        .await
        .expect(201);
    assert_post_of(&body, &user);
    assert_eq!(body["title"], json!("A title"));
    assert_eq!(body["content"], json!("Some content"));
    assert!(
        body.get("votes").is_none(),
        "a created Post has no votes key: {body}"
    );
}

#[tokio::test]
async fn published_defaults_to_true() {
    let api = api().await;
    let user = api.new_user().await;
    let body = api.new_post(&user, "default published").await;
    assert_eq!(body["published"], json!(true));
}

#[tokio::test]
async fn published_false_is_kept() {
    let api = api().await;
    let user = api.new_user().await;
    let body = api
        .create_post(
            &user.token,
            json!({"title": "draft", "content": "c", "published": false}),
        )
        .await
        .expect(201);
    assert_eq!(body["published"], json!(false));
    let stored = api.get_post(&user.token, id_of(&body)).await.expect(200);
    assert_eq!(stored["Post"]["published"], json!(false));
}

#[tokio::test]
async fn the_owner_is_the_caller_whatever_the_body_says() {
    let api = api().await;
    let user = api.new_user().await;
    let other = api.new_user().await;
    let body = api
        .create_post(
            &user.token,
            json!({
                "title": "ignored fields",
                "content": "c",
                "id": 1,
                "owner_id": other.id,
                "owner": other.json,
                "votes": 99,
                "created_at": "2001-01-01T00:00:00+00:00",
            }),
        )
        .await
        .expect(201);
    assert_post_of(&body, &user);
    assert_ne!(body["id"], json!(1), "client-set id took effect: {body}");
    assert_ne!(body["created_at"], json!("2001-01-01T00:00:00+00:00"));
    assert!(body.get("votes").is_none());
    let stored = api.get_post(&user.token, id_of(&body)).await.expect(200);
    assert_eq!(
        stored["votes"],
        json!(0),
        "client-set votes took effect: {stored}"
    );
    assert_eq!(stored["Post"]["owner_id"], json!(user.id));
}

#[tokio::test]
async fn newer_posts_get_larger_ids() {
    let api = api().await;
    let user = api.new_user().await;
    let first = id_of(&api.new_post(&user, "first").await);
    let second = id_of(&api.new_post(&user, "second").await);
    assert!(
        second > first,
        "ids must be time-ordered: {first} then {second}"
    );
}

#[tokio::test]
async fn missing_title_or_content_is_422() {
    let api = api().await;
    let user = api.new_user().await;
    api.create_post(&user.token, json!({"content": "c"}))
        .await
        .expect_422(&["body", "title"]);
    api.create_post(&user.token, json!({"title": "t"}))
        .await
        .expect_422(&["body", "content"]);
    let both = api
        .create_post(&user.token, json!({"published": true}))
        .await;
    both.expect_422(&["body", "title"]);
    both.expect_422(&["body", "content"]);
}

#[tokio::test]
async fn a_title_of_300_characters_is_accepted() {
    let api = api().await;
    let user = api.new_user().await;
    let title = "t".repeat(300);
    let body = api
        .create_post(&user.token, json!({"title": title, "content": "c"}))
        .await
        .expect(201);
    assert_eq!(body["title"], json!(title));
    // Characters, not bytes: 300 two-byte characters fit too.
    api.create_post(
        &user.token,
        json!({"title": "é".repeat(300), "content": "c"}),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn a_title_over_300_characters_is_422() {
    let api = api().await;
    let user = api.new_user().await;
    api.create_post(
        &user.token,
        json!({"title": "t".repeat(301), "content": "c"}),
    )
    .await
    .expect_422(&["body", "title"]);
}

#[tokio::test]
async fn content_of_10_000_characters_is_accepted_and_one_more_is_422() {
    let api = api().await;
    let user = api.new_user().await;
    // Characters, not bytes: 10,000 four-byte characters are fine.
    let content = "🦀".repeat(10_000);
    let body = api
        .create_post(&user.token, json!({"title": "big", "content": content}))
        .await
        .expect(201);
    assert_eq!(body["content"], json!(content));
    api.create_post(
        &user.token,
        json!({"title": "too big", "content": "c".repeat(10_001)}),
    )
    .await
    .expect_422(&["body", "content"]);
}

#[tokio::test]
async fn control_characters_other_than_tab_and_newlines_are_422() {
    let api = api().await;
    let user = api.new_user().await;
    for bad in [
        "\u{0}",
        "a\u{1}b",
        "\u{8}",
        "\u{b}",
        "\u{c}",
        "\u{1b}[31m",
        "\u{1f}",
    ] {
        for field in ["title", "content"] {
            let mut body = json!({"title": "t", "content": "c"});
            body[field] = json!(bad);
            api.create_post(&user.token, body)
                .await
                .expect_422(&["body", field]);
        }
    }
    let text = "line one\r\n\tline two\n";
    let body = api
        .create_post(&user.token, json!({"title": text, "content": text}))
        .await
        .expect(201);
    assert_eq!(
        (&body["title"], &body["content"]),
        (&json!(text), &json!(text))
    );
}

#[tokio::test]
async fn wrong_types_are_422_not_coerced() {
    let api = api().await;
    let user = api.new_user().await;
    let cases = [
        (json!({"title": 123, "content": "c"}), "title"),
        (json!({"title": "t", "content": ["c"]}), "content"),
        (
            json!({"title": "t", "content": "c", "published": "true"}),
            "published",
        ),
        (
            json!({"title": "t", "content": "c", "published": 1}),
            "published",
        ),
        (json!({"title": null, "content": "c"}), "title"),
    ];
    for (body, field) in cases {
        api.create_post(&user.token, body)
            .await
            .expect_422(&["body", field]);
    }
}

#[tokio::test]
async fn unicode_title_and_content_round_trip() {
    let api = api().await;
    let user = api.new_user().await;
    let title = "Ünïcødé ✓ 日本語 🦀";
    let content = "line one\nline two \"quoted\" \\ backslash";
    let body = api
        .create_post(&user.token, json!({"title": title, "content": content}))
        .await
        .expect(201);
    let stored = api.get_post(&user.token, id_of(&body)).await.expect(200);
    assert_eq!(stored["Post"]["title"], json!(title));
    assert_eq!(stored["Post"]["content"], json!(content));
}

#[tokio::test]
async fn an_empty_title_and_content_are_valid_and_read_back_as_empty_strings() {
    // GIVEN a user; WHEN they create a post with "" for title and content (the original
    // accepts it; DynamoDB Local refuses "" in any attribute, so this was once a 500 locally)
    let api = api().await;
    let user = api.new_user().await;
    let body = api
        .create_post(&user.token, json!({"title": "", "content": ""}))
        .await
        .expect(201);
    // THEN the answer, the stored post and its list entry all say ""
    assert_post_of(&body, &user);
    assert_eq!((&body["title"], &body["content"]), (&json!(""), &json!("")));
    let id = id_of(&body);
    let stored = api.get_post(&user.token, id).await.expect(200);
    assert_eq!(stored["Post"], body);
    // Other tests add posts meanwhile: page (newest first) until ours or an older one shows.
    let mut skip = 0;
    let entry = loop {
        let page = api
            .list_posts(
                &user.token,
                &[("limit", "100"), ("skip", &skip.to_string())],
            )
            .await
            .expect(200);
        let page = page.as_array().cloned().unwrap_or_default();
        if let Some(entry) = page.iter().find(|p| p["Post"]["id"] == json!(id)) {
            break entry.clone();
        }
        let past_it = page.iter().any(|p| id_of(&p["Post"]) < id);
        assert!(!page.is_empty() && !past_it, "post {id} is not listed");
        skip += 100;
    };
    assert_eq!(entry["Post"], body);
}
