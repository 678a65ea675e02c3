//! `PATCH /posts/{id}`: partial update of a post of the caller's.

use shared::ApiError;
use shared::domain::{PostChanges, PostId};
use shared::http::{Body, Request, Response, StatusCode, caller, json, json_body, path_id};
use shared::models::{PostJson, PostPatch};
use shared::openapi::{
    NoSuchPost, NotYours, TAG_POSTS, Unauthorized, Unavailable, ValidationFailed,
};
use shared::ports::PostStore;

/// Changes any subset of title, content and published; the rest stays. Errors as for PUT.
#[utoipa::path(
    patch,
    path = "/posts/{id}",
    operation_id = "patch_post",
    tag = TAG_POSTS,
    summary = "Patch Post",
    description = "Changes any subset of title, content and published of one of the caller's posts; the rest stays.",
    params(("id" = u64, Path, description = "The post's id", minimum = 1, maximum = 9007199254740991_u64)),
    request_body = PostPatch,
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
    let patch = PostPatch::from_json(json_body(&req)?)?;
    let changes = PostChanges {
        title: patch.title,
        content: patch.content,
        published: patch.published,
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

    fn patch(id: impl std::fmt::Display, body: serde_json::Value) -> TestRequest {
        request("PATCH", &format!("/posts/{id}"))
            .path_param("id", id)
            .json(body)
    }

    #[tokio::test]
    async fn the_owner_changes_only_the_fields_sent() {
        // GIVEN ann's published post "old"
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        // WHEN she patches only its title
        let answer = respond(
            handle(
                &store,
                patch(post.id, json!({"title": "new"}))
                    .as_caller(&ann)
                    .build(),
            )
            .await,
        );
        // THEN 200: the title changed, content and published stayed
        assert_eq!(answer.status(), 200);
        let body = body_json(&answer);
        assert_eq!(body["title"], "new");
        assert_eq!(body["content"], "content of old");
        assert_eq!(body["published"], true);
        let stored = store.get_post(post.id).await.unwrap().unwrap();
        assert_eq!(stored.title, "new");
        assert_eq!(stored.content, "content of old");
        assert!(stored.published);
    }

    #[tokio::test]
    async fn an_empty_patch_answers_the_post_unchanged() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        let answer =
            respond(handle(&store, patch(post.id, json!({})).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 200);
        assert_eq!(body_json(&answer)["title"], "old");
    }

    #[tokio::test]
    async fn patch_without_a_caller_is_401() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        let answer = respond(handle(&store, patch(post.id, json!({"title": "x"})).build()).await);
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), NOT_AUTHENTICATED);
        assert_eq!(store.get_post(post.id).await.unwrap().unwrap().title, "old");
    }

    #[tokio::test]
    async fn patch_on_someone_elses_post_is_403_and_changes_nothing() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let bob = add_user(&store, "bob@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        let answer = respond(
            handle(
                &store,
                patch(post.id, json!({"title": "x"}))
                    .as_caller(&bob)
                    .build(),
            )
            .await,
        );
        assert_eq!(answer.status(), 403);
        assert_eq!(detail(&answer), NOT_YOURS);
        assert_eq!(store.get_post(post.id).await.unwrap().unwrap().title, "old");
    }

    #[tokio::test]
    async fn patch_on_an_unknown_post_is_404_does_not_exist() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let answer = respond(
            handle(
                &store,
                patch(5, json!({"title": "x"})).as_caller(&ann).build(),
            )
            .await,
        );
        assert_eq!(answer.status(), 404);
        assert_eq!(detail(&answer), "post with id: 5 does not exist");
    }

    #[tokio::test]
    async fn a_patch_with_a_field_of_the_wrong_type_is_422_and_changes_nothing() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        // `null` is not a value: leave the key out to keep a field.
        let body = json!({"title": null, "published": "maybe"});
        let answer = respond(handle(&store, patch(post.id, body).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["body.title", "body.published"]);
        assert_eq!(store.get_post(post.id).await.unwrap().unwrap().title, "old");
    }

    #[tokio::test]
    async fn patch_on_an_id_that_is_not_a_positive_integer_is_422_at_path_id() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let answer = respond(
            handle(
                &store,
                patch(0, json!({"title": "x"})).as_caller(&ann).build(),
            )
            .await,
        );
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["path.id"]);
    }

    #[tokio::test]
    async fn patch_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "old").await;
        store.set_unavailable(true);
        let answer = respond(
            handle(
                &store,
                patch(post.id, json!({"title": "x"}))
                    .as_caller(&ann)
                    .build(),
            )
            .await,
        );
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
    }
}
