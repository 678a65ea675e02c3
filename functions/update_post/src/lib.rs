//! `PUT /posts/{id}`: full replacement of a post of the caller's.

use shared::ApiError;
use shared::domain::{PostChanges, PostId};
use shared::http::{Body, Request, Response, StatusCode, caller, json, json_body, path_id};
use shared::models::{NewPost, PostJson};
use shared::openapi::{
    NoSuchPost, NotYours, TAG_POSTS, Unauthorized, Unavailable, ValidationFailed,
};
use shared::ports::PostStore;

/// Replaces title, content and published (default true); id, created_at and owner stay.
/// 404 (checked first) or 403 when it is not the caller's.
#[utoipa::path(
    put,
    path = "/posts/{id}",
    operation_id = "update_post",
    tag = TAG_POSTS,
    summary = "Update Post",
    description = "Replaces title, content and published (`published` defaults to true) of one of the caller's posts.",
    params(("id" = u64, Path, description = "The post's id", minimum = 1, maximum = 9007199254740991_u64)),
    request_body = NewPost,
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "The post as it is now", body = PostJson),
        (status = 401, response = Unauthorized),
        (status = 403, response = NotYours),
        (status = 404, response = NoSuchPost),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn handle(store: &impl PostStore, req: Request) -> Result<Response<Body>, ApiError> {
    let me = caller(&req)?;
    let id = PostId::new(path_id(&req, "id")?);
    let new = NewPost::from_json(json_body(&req)?)?;
    let changes = PostChanges {
        title: Some(new.title),
        content: Some(new.content),
        published: Some(new.published),
    };
    let post = store.update_post(id, me.id, changes).await?;
    json(StatusCode::OK, &PostJson::from(&post))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::answers::{NOT_AUTHENTICATED, NOT_YOURS};
    use shared::memory::MemoryStore;
    use shared::testing::{
        TestRequest, add_post, add_user, body_json, detail, error_locations, header, request,
        respond,
    };

    fn put(id: impl std::fmt::Display, body: serde_json::Value) -> TestRequest {
        request("PUT", &format!("/posts/{id}"))
            .path_param("id", id)
            .json(body)
    }

    #[tokio::test]
    async fn the_owner_replaces_title_content_and_published() {
        // GIVEN ann's published post
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        // WHEN she replaces it
        let body = json!({"title": "new", "content": "new content", "published": false});
        let answer = respond(handle(&store, put(post.id, body).as_caller(&ann).build()).await);
        // THEN 200 with the post as it is now; id, created_at and owner stay
        assert_eq!(answer.status(), 200);
        let body = body_json(&answer);
        assert_eq!(body["id"], post.id.get());
        assert_eq!(body["title"], "new");
        assert_eq!(body["content"], "new content");
        assert_eq!(body["published"], false);
        assert_eq!(body["created_at"], post.created_at);
        assert_eq!(body["owner_id"], ann.id.get());
        // AND the store has the new version
        let stored = store.get_post(post.id).await.unwrap().unwrap();
        assert_eq!(
            (
                stored.title.as_str(),
                stored.content.as_str(),
                stored.published
            ),
            ("new", "new content", false)
        );
    }

    #[tokio::test]
    async fn a_replacement_without_published_publishes_the_post() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        store
            .update_post(
                post.id,
                ann.id,
                PostChanges {
                    published: Some(false),
                    ..PostChanges::default()
                },
            )
            .await
            .unwrap();
        let body = json!({"title": "t", "content": "c"});
        let answer = respond(handle(&store, put(post.id, body).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 200);
        assert!(store.get_post(post.id).await.unwrap().unwrap().published);
    }

    #[tokio::test]
    async fn put_without_a_caller_is_401() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        let answer = respond(
            handle(
                &store,
                put(post.id, json!({"title": "t", "content": "c"})).build(),
            )
            .await,
        );
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), NOT_AUTHENTICATED);
        assert_eq!(store.get_post(post.id).await.unwrap().unwrap().title, "old");
    }

    #[tokio::test]
    async fn put_on_someone_elses_post_is_403_and_changes_nothing() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let bob = add_user(&store, "bob@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        let body = json!({"title": "bob was here", "content": "c"});
        let answer = respond(handle(&store, put(post.id, body).as_caller(&bob).build()).await);
        assert_eq!(answer.status(), 403);
        assert_eq!(detail(&answer), NOT_YOURS);
        assert_eq!(store.get_post(post.id).await.unwrap().unwrap().title, "old");
    }

    #[tokio::test]
    async fn put_on_an_unknown_post_is_404_does_not_exist() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let body = json!({"title": "t", "content": "c"});
        let answer = respond(handle(&store, put(5, body).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 404);
        assert_eq!(detail(&answer), "post with id: 5 does not exist");
    }

    #[tokio::test]
    async fn put_of_an_incomplete_post_is_422_and_changes_nothing() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        let body = json!({"title": "only a title"});
        let answer = respond(handle(&store, put(post.id, body).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["body.content"]);
        assert_eq!(store.get_post(post.id).await.unwrap().unwrap().title, "old");
    }

    #[tokio::test]
    async fn put_on_an_id_that_is_not_a_positive_integer_is_422_at_path_id() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let body = json!({"title": "t", "content": "c"});
        let answer = respond(handle(&store, put("abc", body).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["path.id"]);
    }

    #[tokio::test]
    async fn put_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        store.set_unavailable(true);
        let body = json!({"title": "t", "content": "c"});
        let answer = respond(handle(&store, put(post.id, body).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
