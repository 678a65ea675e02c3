//! `DELETE /posts/{id}`.

use shared::ApiError;
use shared::domain::PostId;
use shared::http::{Body, Request, Response, caller, no_content, path_id};
use shared::openapi::{
    NoSuchPost, NotYours, TAG_POSTS, Unauthorized, Unavailable, ValidationFailed,
};
use shared::ports::PostStore;

/// 204 with an empty body; the post's votes go with it. 404 (checked first) or 403.
#[utoipa::path(
    delete,
    path = "/posts/{id}",
    operation_id = "delete_post",
    tag = TAG_POSTS,
    summary = "Delete Post",
    description = "Deletes one of the caller's posts, and its votes with it.",
    params(("id" = u64, Path, description = "The post's id", minimum = 1, maximum = 9007199254740991_u64)),
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 204, description = "Deleted; no body"),
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
    store.delete_post(id, me.id).await?;
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::answers::{NOT_AUTHENTICATED, NOT_YOURS};
    use shared::memory::MemoryStore;
    use shared::ports::VoteStore;
    use shared::testing::{
        TestRequest, add_post, add_user, detail, error_locations, header, request, respond,
    };

    fn delete(id: impl std::fmt::Display) -> TestRequest {
        request("DELETE", &format!("/posts/{id}")).path_param("id", id)
    }

    #[tokio::test]
    async fn the_owner_deletes_the_post_and_its_votes_with_204() {
        // GIVEN ann's post with bob's vote
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let bob = add_user(&store, "bob@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        store.add_vote(post.id, bob.id).await.unwrap();
        // WHEN ann deletes it
        let answer = respond(handle(&store, delete(post.id).as_caller(&ann).build()).await);
        // THEN 204 with no body; the post and its vote are gone
        assert_eq!(answer.status(), 204);
        assert!(answer.body().is_empty());
        assert!(store.get_post(post.id).await.unwrap().is_none());
        assert_eq!(store.count_votes(post.id), 0);
    }

    #[tokio::test]
    async fn delete_without_a_caller_is_401_and_keeps_the_post() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        let answer = respond(handle(&store, delete(post.id).build()).await);
        assert_eq!(answer.status(), 401);
        assert_eq!(detail(&answer), NOT_AUTHENTICATED);
        assert!(store.get_post(post.id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn delete_of_someone_elses_post_is_403_and_keeps_it() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let bob = add_user(&store, "bob@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        let answer = respond(handle(&store, delete(post.id).as_caller(&bob).build()).await);
        assert_eq!(answer.status(), 403);
        assert_eq!(detail(&answer), NOT_YOURS);
        assert!(store.get_post(post.id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn delete_of_an_unknown_post_is_404_does_not_exist() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let answer = respond(handle(&store, delete(5).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 404);
        assert_eq!(detail(&answer), "post with id: 5 does not exist");
    }

    #[tokio::test]
    async fn a_second_delete_of_the_same_post_is_404() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        let first = respond(handle(&store, delete(post.id).as_caller(&ann).build()).await);
        let second = respond(handle(&store, delete(post.id).as_caller(&ann).build()).await);
        assert_eq!(
            (first.status().as_u16(), second.status().as_u16()),
            (204, 404)
        );
    }

    #[tokio::test]
    async fn delete_of_an_id_that_is_not_a_positive_integer_is_422_at_path_id() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let answer = respond(handle(&store, delete("-3").as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 422);
        assert_eq!(error_locations(&answer), ["path.id"]);
    }

    #[tokio::test]
    async fn delete_is_503_with_retry_after_when_the_store_is_unavailable() {
        let store = MemoryStore::new();
        let ann = add_user(&store, "ann@example.com").await;
        let post = add_post(&store, &ann, "hello").await;
        store.set_unavailable(true);
        let answer = respond(handle(&store, delete(post.id).as_caller(&ann).build()).await);
        assert_eq!(answer.status(), 503);
        assert_eq!(header(&answer, "retry-after"), Some("1"));
        store.set_unavailable(false);
        assert!(store.get_post(post.id).await.unwrap().is_some());
    }
}
