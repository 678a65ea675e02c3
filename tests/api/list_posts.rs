//! `GET /posts` → 200 `[PostOut, ...]`: paging, search, order.
//!
//! Every test titles its posts with a unique tag and lists with `search=<tag>`, so other
//! tests' posts never show up in its pages.

use api_tests::*;

use crate::create_post::assert_post_of;

/// Creates `n` posts titled `<tag> #<i>` (oldest first) and returns their ids.
async fn make_posts(api: &Api, user: &User, tag: &str, n: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(id_of(&api.new_post(user, &format!("{tag} #{i}")).await));
    }
    ids
}

/// The post ids of a list answer, in order.
fn ids(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|p| id_of(&p["Post"]))
        .collect()
}

#[tokio::test]
async fn list_answers_post_out_objects_with_a_capital_p_post_and_votes() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("shape");
    let created = api.new_post(&user, &tag).await;
    let list = api.search(&user.token, &tag).await;
    assert_eq!(list.len(), 1, "list: {list:?}");
    let item = &list[0];
    assert_eq!(keys(item), ["Post", "votes"], "not a PostOut: {item}");
    assert_eq!(item["votes"], json!(0));
    assert_post_of(&item["Post"], &user);
    assert_eq!(
        item["Post"], created,
        "the listed Post must equal the created one"
    );
}

#[tokio::test]
async fn list_shows_every_users_posts_published_or_not() {
    let api = api().await;
    let author = api.new_user().await;
    let reader = api.new_user().await;
    let tag = unique("all");
    let draft = api
        .create_post(
            &author.token,
            json!({"title": format!("{tag} draft"), "content": "c", "published": false}),
        )
        .await
        .expect(201);
    let public = api.new_post(&author, &format!("{tag} public")).await;
    let list = api.search(&reader.token, &tag).await;
    let listed: Vec<u64> = list.iter().map(|p| id_of(&p["Post"])).collect();
    assert!(
        listed.contains(&id_of(&draft)),
        "unpublished post missing: {list:?}"
    );
    assert!(
        listed.contains(&id_of(&public)),
        "published post missing: {list:?}"
    );
}

#[tokio::test]
async fn list_is_newest_first() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("order");
    let mut created = make_posts(&api, &user, &tag, 4).await;
    created.reverse();
    let list = api.search(&user.token, &tag).await;
    assert_eq!(ids(&Value::from(list)), created);
}

#[tokio::test]
async fn limit_defaults_to_10_and_skip_to_0() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("default");
    let mut created = make_posts(&api, &user, &tag, 12).await;
    created.reverse();
    let list = api
        .list_posts(&user.token, &[("search", &tag)])
        .await
        .expect(200);
    assert_eq!(ids(&list), created[..10].to_vec());
}

#[tokio::test]
async fn limit_and_skip_page_through_without_overlap_or_gaps() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("pages");
    let mut created = make_posts(&api, &user, &tag, 12).await;
    created.reverse();
    let mut seen = Vec::new();
    for skip in ["0", "5", "10"] {
        let page = api
            .list_posts(
                &user.token,
                &[("search", &tag), ("limit", "5"), ("skip", skip)],
            )
            .await
            .expect(200);
        seen.extend(ids(&page));
    }
    assert_eq!(
        seen, created,
        "pages must be the newest-first list cut in pieces"
    );
    let past_the_end = api
        .list_posts(
            &user.token,
            &[("search", &tag), ("limit", "5"), ("skip", "12")],
        )
        .await
        .expect(200);
    assert_eq!(past_the_end, json!([]));
}

#[tokio::test]
async fn limit_0_and_limit_100_are_accepted() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("limits");
    make_posts(&api, &user, &tag, 1).await;
    let none = api
        .list_posts(&user.token, &[("search", &tag), ("limit", "0")])
        .await
        .expect(200);
    assert_eq!(none, json!([]));
    let all = api
        .list_posts(&user.token, &[("search", &tag), ("limit", "100")])
        .await
        .expect(200);
    assert_eq!(ids(&all).len(), 1);
}

#[tokio::test]
async fn limit_outside_0_to_100_is_422() {
    let api = api().await;
    let user = api.new_user().await;
    for limit in ["101", "-1", "1000000"] {
        api.list_posts(&user.token, &[("limit", limit)])
            .await
            .expect_422(&["query", "limit"]);
    }
}

#[tokio::test]
async fn negative_skip_is_422() {
    let api = api().await;
    let user = api.new_user().await;
    api.list_posts(&user.token, &[("skip", "-1")])
        .await
        .expect_422(&["query", "skip"]);
}

#[tokio::test]
async fn non_integer_limit_or_skip_is_422() {
    let api = api().await;
    let user = api.new_user().await;
    for (name, value) in [
        ("limit", "abc"),
        ("limit", "1.5"),
        ("skip", "x"),
        ("skip", "2.0"),
    ] {
        api.list_posts(&user.token, &[(name, value)])
            .await
            .expect_422(&["query", name]);
    }
}

#[tokio::test]
async fn search_is_a_case_sensitive_substring_of_the_title() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("CaseTag");
    let id = id_of(&api.new_post(&user, &format!("before {tag} after")).await);
    // A substring in the middle of the title matches.
    assert_eq!(ids(&Value::from(api.search(&user.token, &tag).await)), [id]);
    let middle = &tag[2..tag.len() - 2];
    assert!(ids(&Value::from(api.search(&user.token, middle).await)).contains(&id));
    // Another case does not.
    assert_eq!(
        api.search(&user.token, &tag.to_lowercase()).await,
        Vec::<Value>::new()
    );
    assert_eq!(
        api.search(&user.token, &tag.to_uppercase()).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn search_looks_at_the_title_only_not_the_content() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("content");
    api.create_post(&user.token, json!({"title": "plain title", "content": tag}))
        .await
        .expect(201);
    assert_eq!(api.search(&user.token, &tag).await, Vec::<Value>::new());
}

#[tokio::test]
async fn search_takes_percent_and_underscore_literally() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("lit");
    let percent = id_of(&api.new_post(&user, &format!("{tag} 50% off")).await);
    api.new_post(&user, &format!("{tag} 50x off")).await;
    api.new_post(&user, &format!("{tag} 50 off")).await;
    let underscore = id_of(&api.new_post(&user, &format!("{tag} a_b")).await);
    api.new_post(&user, &format!("{tag} axb")).await;
    api.new_post(&user, &format!("{tag} ab")).await;
    let found = api.search(&user.token, &format!("{tag} 50%")).await;
    assert_eq!(
        ids(&Value::from(found)),
        [percent],
        "`%` must be a plain character"
    );
    let found = api.search(&user.token, &format!("{tag} a_b")).await;
    assert_eq!(
        ids(&Value::from(found)),
        [underscore],
        "`_` must be a plain character"
    );
}

#[tokio::test]
async fn search_with_spaces_and_unicode_works() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("uni");
    let id = id_of(
        &api.new_post(&user, &format!("Grüße & co {tag} 🦀 end"))
            .await,
    );
    let found = api.search(&user.token, &format!("& co {tag} 🦀")).await;
    assert_eq!(ids(&Value::from(found)), [id]);
}

#[tokio::test]
async fn list_without_search_answers_a_list_of_post_outs() {
    let api = api().await;
    let user = api.new_user().await;
    api.new_post(&user, &unique("any")).await;
    let list = api.list_posts(&user.token, &[]).await.expect(200);
    let items = list.as_array().expect("a list");
    assert!(
        !items.is_empty() && items.len() <= 10,
        "{} items",
        items.len()
    );
    for item in items {
        assert_eq!(keys(item), ["Post", "votes"], "not a PostOut: {item}");
    }
}

#[tokio::test]
async fn list_shows_each_posts_vote_count() {
    let api = api().await;
    let author = api.new_user().await;
    let voters = [api.new_user().await, api.new_user().await];
    let tag = unique("counted");
    let two = id_of(&api.new_post(&author, &format!("{tag} two")).await);
    let none = id_of(&api.new_post(&author, &format!("{tag} none")).await);
    for voter in &voters {
        api.vote(&voter.token, two, 1).await.expect(201);
    }
    let list = api.search(&author.token, &tag).await;
    let votes_of = |id: u64| {
        list.iter()
            .find(|p| id_of(&p["Post"]) == id)
            .map(|p| p["votes"].clone())
            .unwrap_or_else(|| panic!("post {id} not listed: {list:?}"))
    };
    assert_eq!(votes_of(two), json!(2));
    assert_eq!(votes_of(none), json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_page_of_the_largest_most_escaped_posts_is_still_a_200() {
    // GIVEN 100 posts at the size limits, made of the characters that cost the most once the
    // page is JSON inside API Gateway's proxy result: quotes and backslashes (4 bytes each),
    // 4-byte characters, tabs and newlines. (Control characters, 7 bytes each, are refused.)
    let api = std::sync::Arc::new(api().await);
    let user = std::sync::Arc::new(api.new_user().await);
    let tag = unique("maxpage");
    let title = format!("{tag}{}", "\"".repeat(300 - tag.chars().count()));
    let content: String = ["\"", "\\", "🦀", "\t", "\n"]
        .iter()
        .cycle()
        .take(10_000)
        .copied()
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (api, user) = (api.clone(), user.clone());
        let body = json!({"title": title, "content": content});
        tasks.spawn(async move { api.create_post(&user.token, body).await.expect(201) });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a post was created");
    }
    // WHEN a client asks for all of them in one page
    let resp = api
        .list_posts(&user.token, &[("search", &tag), ("limit", "100")])
        .await;
    // THEN it gets them (before the content rules, such a page was Lambda's
    // ResponseSizeTooLarge: a 500 for every client of the feed)
    let page = resp.expect(200);
    assert_eq!(page.as_array().map(Vec::len), Some(100));
    assert_eq!(page[0]["Post"]["content"], json!(content));
}

#[tokio::test]
async fn following_x_next_cursor_pages_like_skip_and_the_last_page_has_none() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("cursor");
    let mut created = make_posts(&api, &user, &tag, 7).await;
    created.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("search", tag.as_str()), ("limit", "3")];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let resp = api.list_posts(&user.token, &query).await;
        let page = ids(&resp.expect(200));
        pages += 1;
        seen.extend(page.iter().copied());
        match resp.header("x-next-cursor") {
            Some(next) => {
                assert_eq!(page.len(), 3, "only a full page has a next cursor");
                // A browser page of another origin may read it.
                let exposed = resp
                    .header("access-control-expose-headers")
                    .unwrap_or_default();
                assert!(
                    exposed.to_ascii_lowercase().contains("x-next-cursor"),
                    "{exposed}"
                );
                cursor = Some(next.to_string());
            }
            None => break,
        }
        assert!(pages < 10, "the cursor does not end");
    }
    assert_eq!(seen, created);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn a_malformed_cursor_or_one_of_another_search_is_422() {
    let api = api().await;
    let user = api.new_user().await;
    let tag = unique("badcursor");
    make_posts(&api, &user, &tag, 2).await;
    let resp = api
        .list_posts(&user.token, &[("search", &tag), ("limit", "1")])
        .await;
    resp.expect(200);
    let cursor = resp
        .header("x-next-cursor")
        .expect("a full page")
        .to_string();
    let other = format!("{tag}x");
    for (search, cursor) in [
        (other.as_str(), cursor.as_str()),
        ("", cursor.as_str()),
        (tag.as_str(), "garbage"),
        (tag.as_str(), "0000000000000000ffffffffffffffff"),
    ] {
        api.list_posts(&user.token, &[("search", search), ("cursor", cursor)])
            .await
            .expect_422(&["query", "cursor"]);
    }
}

#[tokio::test]
async fn an_edited_title_is_found_by_its_new_words_only_and_a_deleted_post_not_at_all() {
    let api = api().await;
    let user = api.new_user().await;
    let (old, new) = (unique("oldword"), unique("newword"));
    let post = api.new_post(&user, &format!("{old} title")).await;
    let id = id_of(&post);
    assert_eq!(ids(&Value::from(api.search(&user.token, &old).await)), [id]);
    api.patch_post(&user.token, id, json!({"title": format!("{new} title")}))
        .await
        .expect(200);
    assert_eq!(api.search(&user.token, &old).await, Vec::<Value>::new());
    assert_eq!(ids(&Value::from(api.search(&user.token, &new).await)), [id]);
    api.delete_post(&user.token, id).await.expect(204);
    assert_eq!(api.search(&user.token, &new).await, Vec::<Value>::new());
}

/// Writes a post as the code before the sharded feed and the search index did (`gsi1pk =
/// POSTS`, no `version`, no search postings) straight into the local table; returns its id.
async fn legacy_post(endpoint: &str, table: &str, owner: &User, title: &str) -> u64 {
    use aws_sdk_dynamodb::types::AttributeValue::{Bool, N, S};
    let id = shared::ids::new_id();
    let client = local_gateway::dynamodb::client_for_endpoint(endpoint);
    client
        .put_item()
        .table_name(table)
        .item("pk", S(format!("POST#{id}")))
        .item("sk", S("POST".into()))
        .item("gsi1pk", S("POSTS".into()))
        .item("gsi1sk", N(id.to_string()))
        .item("id", N(id.to_string()))
        .item("title", S(title.into()))
        .item("content", S("written before the search index".into()))
        .item("published", Bool(true))
        .item("created_at", S("2025-06-01T12:00:00+00:00".into()))
        .item("owner_id", N(owner.id.to_string()))
        .item("owner_email", S(owner.email.clone()))
        .item(
            "owner_created_at",
            S(owner.json["created_at"].as_str().unwrap().into()),
        )
        .item("votes", N("0".into()))
        .send()
        .await
        .expect("write a post of the old layout");
    id
}

#[tokio::test]
async fn posts_of_the_layout_before_the_index_are_listed_and_found_after_local_gateway_migrate() {
    let api = api().await;
    let (Some(endpoint), Some(table)) = (dynamodb_endpoint(), table_name()) else {
        println!("SKIPPED: it writes into the local table");
        return;
    };
    // GIVEN two posts of the old layout, one with a vote (the vote route takes it as it is)
    let user = api.new_user().await;
    let tag = unique("legacy");
    let old = legacy_post(endpoint, table, &user, &format!("{tag} first")).await;
    let new = legacy_post(endpoint, table, &user, &format!("{tag} second")).await;
    api.vote(&user.token, old, 1).await.expect(201);
    assert!(
        api.search(&user.token, &tag).await.is_empty(),
        "not found before"
    );
    // WHEN the migration runs on the table the gateway serves, while other tests use it
    let store = shared::store::Store::new(
        local_gateway::dynamodb::client_for_endpoint(endpoint),
        table,
    )
    .with_feed_shards(shared::config::DEFAULT_FEED_SHARDS);
    let options = local_gateway::migrate::Options {
        checkpoint: None,
        ..Default::default()
    };
    let report = local_gateway::migrate::run(&store, &options)
        .await
        .expect("migrate runs");
    assert!(report.ok(), "{}", report.summary(false));
    // THEN both are found, newest first, by their tag and by a word of one title
    let found = api.search(&user.token, &tag).await;
    assert_eq!(ids(&Value::Array(found)), vec![new, old]);
    let second = api.search(&user.token, &format!("{tag} second")).await;
    assert_eq!(ids(&Value::Array(second)), vec![new]);
    // and the vote is still counted
    assert_eq!(api.votes_of(&user.token, old).await, 1);
    // and they page through the feed like any post (with the cursor of a full page)
    let page = api
        .list_posts(&user.token, &[("search", tag.as_str()), ("limit", "1")])
        .await;
    let cursor = page
        .header("x-next-cursor")
        .expect("a full page has a cursor")
        .to_owned();
    let rest = api
        .list_posts(
            &user.token,
            &[
                ("search", tag.as_str()),
                ("limit", "1"),
                ("cursor", cursor.as_str()),
            ],
        )
        .await
        .expect(200);
    assert_eq!(ids(&rest), vec![old]);
}
