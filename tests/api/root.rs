//! `GET /` → 200 `{"message": "..."}`.

use api_tests::*;

#[tokio::test]
async fn root_answers_200_with_a_message() {
    let api = api().await;
    let body = api.get("/", None).await.expect(200);
    assert_eq!(keys(&body), ["message"], "GET / answered {body}");
    assert!(
        body["message"].is_string(),
        "message must be a string: {body}"
    );
}

#[tokio::test]
async fn root_is_public_and_ignores_a_bad_token() {
    let api = api().await;
    let body = api.get("/", Some("not-a-jwt")).await.expect(200);
    assert!(body["message"].is_string(), "GET / answered {body}");
}

#[tokio::test]
async fn root_answers_json_with_a_json_content_type() {
    let api = api().await;
    let resp = api.get("/", None).await;
    resp.expect(200);
    let content_type = resp.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "GET / Content-Type is {content_type:?}"
    );
}
