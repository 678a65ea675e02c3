//! `POST /vote` → 201, and vote counts under concurrency.

use std::sync::Arc;

use api_tests::*;

#[tokio::test]
async fn vote_with_dir_1_answers_201_successfully_added_vote() {
    let api = api().await;
    let author = api.new_user().await;
    let voter = api.new_user().await;
    let id = id_of(&api.new_post(&author, "vote me").await);
    let body = api.vote(&voter.token, id, 1).await.expect(201);
    assert_eq!(body, json!({"message": "successfully added vote"}));
    assert_eq!(api.votes_of(&author.token, id).await, 1);
}

#[tokio::test]
async fn voting_twice_is_409_naming_the_user_and_the_post() {
    let api = api().await;
    let author = api.new_user().await;
    let voter = api.new_user().await;
    let id = id_of(&api.new_post(&author, "vote twice").await);
    api.vote(&voter.token, id, 1).await.expect(201);
    api.vote(&voter.token, id, 1).await.expect_detail(
        409,
        &format!("user {} has already voted on post {id}", voter.id),
    );
    assert_eq!(api.votes_of(&author.token, id).await, 1);
}

#[tokio::test]
async fn vote_with_dir_0_removes_the_vote_with_201_successfully_deleted_vote() {
    let api = api().await;
    let author = api.new_user().await;
    let voter = api.new_user().await;
    let id = id_of(&api.new_post(&author, "unvote").await);
    api.vote(&voter.token, id, 1).await.expect(201);
    let body = api.vote(&voter.token, id, 0).await.expect(201);
    assert_eq!(body, json!({"message": "successfully deleted vote"}));
    assert_eq!(api.votes_of(&author.token, id).await, 0);
    // And the user may vote again afterwards.
    api.vote(&voter.token, id, 1).await.expect(201);
    assert_eq!(api.votes_of(&author.token, id).await, 1);
}

#[tokio::test]
async fn removing_a_vote_that_does_not_exist_is_404() {
    let api = api().await;
    let author = api.new_user().await;
    let voter = api.new_user().await;
    let id = id_of(&api.new_post(&author, "never voted").await);
    api.vote(&voter.token, id, 0)
        .await
        .expect_detail(404, "Vote does not exist");
    api.vote(&voter.token, id, 1).await.expect(201);
    api.vote(&voter.token, id, 0).await.expect(201);
    api.vote(&voter.token, id, 0)
        .await
        .expect_detail(404, "Vote does not exist");
    assert_eq!(api.votes_of(&author.token, id).await, 0);
}

#[tokio::test]
async fn voting_on_an_unknown_post_is_404_in_either_direction() {
    let api = api().await;
    let voter = api.new_user().await;
    let id = missing_id();
    for dir in [1, 0] {
        api.vote(&voter.token, id, dir)
            .await
            .expect_detail(404, &format!("Post with id: {id} does not exist"));
    }
}

#[tokio::test]
async fn dir_outside_0_and_1_is_422() {
    let api = api().await;
    let author = api.new_user().await;
    let id = id_of(&api.new_post(&author, "bad dir").await);
    for dir in [2, -1, 10] {
        api.vote(&author.token, id, dir)
            .await
            .expect_422(&["body", "dir"]);
    }
    assert_eq!(api.votes_of(&author.token, id).await, 0);
}

#[tokio::test]
async fn a_dir_of_1_point_0_is_the_integer_1_as_json_schema_says() {
    let api = api().await;
    let author = api.new_user().await;
    let id = id_of(&api.new_post(&author, "vote 1.0").await);
    api.json(
        "POST",
        "/vote",
        Some(&author.token),
        json!({"post_id": id as f64, "dir": 1.0}),
    )
    .await
    .expect(201);
    assert_eq!(api.votes_of(&author.token, id).await, 1);
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_422() {
    let api = api().await;
    let author = api.new_user().await;
    let id = id_of(&api.new_post(&author, "vote types").await);
    let cases = [
        (json!({"post_id": id.to_string(), "dir": 1}), "post_id"),
        (json!({"post_id": id, "dir": "1"}), "dir"),
        (json!({"post_id": id, "dir": true}), "dir"),
        (json!({"post_id": id, "dir": 0.5}), "dir"),
        (json!({"post_id": null, "dir": 1}), "post_id"),
        (json!({"dir": 1}), "post_id"),
        (json!({"post_id": id}), "dir"),
    ];
    for (body, field) in cases {
        api.json("POST", "/vote", Some(&author.token), body)
            .await
            .expect_422(&["body", field]);
    }
    assert_eq!(api.votes_of(&author.token, id).await, 0);
}

#[tokio::test]
async fn a_user_may_vote_on_their_own_post() {
    let api = api().await;
    let author = api.new_user().await;
    let id = id_of(&api.new_post(&author, "self vote").await);
    api.vote(&author.token, id, 1).await.expect(201);
    assert_eq!(api.votes_of(&author.token, id).await, 1);
}

#[tokio::test]
async fn votes_are_counted_per_user_in_get_and_list() {
    let api = api().await;
    let author = api.new_user().await;
    let tag = unique("count");
    let id = id_of(&api.new_post(&author, &tag).await);
    let mut voters = Vec::new();
    for _ in 0..3 {
        let voter = api.new_user().await;
        api.vote(&voter.token, id, 1).await.expect(201);
        voters.push(voter);
    }
    assert_eq!(api.votes_of(&author.token, id).await, 3);
    api.vote(&voters[0].token, id, 0).await.expect(201);
    assert_eq!(api.votes_of(&author.token, id).await, 2);
    let list = api.search(&author.token, &tag).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["votes"], json!(2));
}

async fn make_users(api: &Arc<Api>, n: usize) -> Vec<User> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let api = api.clone();
        tasks.spawn(async move { api.new_user().await });
    }
    tasks.join_all().await
}

/// 25 users each vote and take the vote back, all at once (50 requests in flight together),
/// and every third user then votes again. Each user's own requests are in order, so every one
/// must succeed, and the final count must be the number of users whose last request was a vote.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_votes_and_unvotes_leave_an_exact_count() {
    let api = Arc::new(api().await);
    let author = api.new_user().await;
    let tag = unique("contended");
    let id = id_of(&api.new_post(&author, &tag).await);
    let users = make_users(&api, 25).await;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, user) in users.into_iter().enumerate() {
        let api = api.clone();
        let votes_last = i % 3 == 0;
        tasks.spawn(async move {
            let mut dirs = vec![1, 0];
            if votes_last {
                dirs.push(1);
            }
            for dir in dirs {
                let resp = api.vote(&user.token, id, dir).await;
                assert_eq!(
                    resp.status, 201,
                    "user {} dir {dir}: {}",
                    user.id, resp.text
                );
            }
            votes_last
        });
    }
    let expected = tasks.join_all().await.into_iter().filter(|v| *v).count();
    assert_eq!(expected, 9);
    assert_eq!(api.votes_of(&author.token, id).await, expected as i64);
    let list = api.search(&author.token, &tag).await;
    assert_eq!(list[0]["votes"], json!(expected), "list: {list:?}");
}

/// One vote per (user, post), under any concurrency: each user sends two votes at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_votes_count_once_per_user() {
    let api = Arc::new(api().await);
    let author = api.new_user().await;
    let id = id_of(&api.new_post(&author, "double votes").await);
    let users = make_users(&api, 12).await;
    let mut tasks = tokio::task::JoinSet::new();
    for user in &users {
        for _ in 0..2 {
            let (api, token) = (api.clone(), user.token.clone());
            tasks.spawn(async move { api.vote(&token, id, 1).await });
        }
    }
    let mut created = 0;
    for resp in tasks.join_all().await {
        match resp.status {
            201 => created += 1,
            409 => {}
            other => panic!("concurrent vote answered {other}: {}", resp.text),
        }
    }
    assert_eq!(created, users.len(), "exactly one 201 per user");
    assert_eq!(api.votes_of(&author.token, id).await, users.len() as i64);

    // And the same for taking the votes back: one 201 and one 404 per user.
    let mut tasks = tokio::task::JoinSet::new();
    for user in &users {
        for _ in 0..2 {
            let (api, token) = (api.clone(), user.token.clone());
            tasks.spawn(async move { api.vote(&token, id, 0).await });
        }
    }
    let mut deleted = 0;
    for resp in tasks.join_all().await {
        match resp.status {
            201 => deleted += 1,
            404 => assert_eq!(resp.json(), json!({"detail": "Vote does not exist"})),
            other => panic!("concurrent unvote answered {other}: {}", resp.text),
        }
    }
    assert_eq!(deleted, users.len(), "exactly one 201 per user");
    assert_eq!(api.votes_of(&author.token, id).await, 0);
}
