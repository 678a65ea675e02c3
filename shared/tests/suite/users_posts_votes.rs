// Accounts, posts and votes: what every `UserStore`, `PostStore` and `VoteStore` promises.
// Included by `stores.rs` once per implementation (see there).

#[tokio::test]
async fn a_new_user_can_be_read_by_id_and_its_credential_by_email() {
    let store = store().await;
    let u = user(&store, "ann@example.com").await;
    assert_eq!(store.get_user(u.id).await.unwrap(), Some(u.clone()));
    let c = store
        .get_credential(&email("ann@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.user_id, u.id);
    assert_eq!(c.password_hash, hash("$2b$04$hash"));
    assert_eq!(store.get_user(UserId::new(u.id.get() + 1)).await.unwrap(), None);
    assert_eq!(
        store.get_credential(&email("nobody@example.com")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn when_20_sign_ups_race_for_one_email_exactly_one_account_exists() {
    let store = store().await;
    let attempts = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.create_user(&email("race@example.com"), &hash("h")).await })
    });
    let mut created = Vec::new();
    let mut taken = 0;
    for a in attempts {
        match a.await.unwrap() {
            Ok(u) => created.push(u),
            Err(SignUpError::EmailTaken(_)) => taken += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(created.len(), 1);
    assert_eq!(taken, 19);
    let c = store
        .get_credential(&email("race@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.user_id, created[0].id);
}

#[tokio::test]
async fn posts_are_listed_newest_first_with_skip_limit_and_literal_search() {
    let store = store().await;
    let owner = user(&store, "lister@example.com").await;
    let mut ids = Vec::new();
    for title in ["a 100%", "b_x", "c bx", "d 100", "e"] {
        ids.push(
            store
                .create_post(&owner, draft(title.into(), "c".into(), true))
                .await
                .unwrap()
                .id,
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let all = store.list_posts(10, 0, "", None).await.unwrap();
    let listed: Vec<PostId> = all.iter().map(|p| p.id).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    assert_eq!(all[0].owner, owner);

    let page1: Vec<PostId> = store
        .list_posts(2, 0, "", None)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let page2: Vec<PostId> = store
        .list_posts(2, 2, "", None)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(page1, newest_first[0..2]);
    assert_eq!(page2, newest_first[2..4]);
    assert!(store.list_posts(0, 0, "", None).await.unwrap().is_empty());
    assert!(store.list_posts(10, 5, "", None).await.unwrap().is_empty());

    let titles = |v: Vec<Post>| v.into_iter().map(|p| p.title).collect::<Vec<_>>();
    assert_eq!(
        titles(store.list_posts(10, 0, "%", None).await.unwrap()),
        vec!["a 100%"]
    );
    assert_eq!(
        titles(store.list_posts(10, 0, "_", None).await.unwrap()),
        vec!["b_x"]
    );
    assert_eq!(
        titles(store.list_posts(10, 0, "100", None).await.unwrap()),
        vec!["d 100", "a 100%"]
    );
    assert!(
        store.list_posts(10, 0, "E", None).await.unwrap().is_empty(),
        "search is case-sensitive"
    );
    assert_eq!(
        titles(store.list_posts(1, 1, "100", None).await.unwrap()),
        vec!["a 100%"]
    );
}

#[tokio::test]
async fn only_the_owner_can_change_a_post_and_missing_is_reported_before_forbidden() {
    let store = store().await;
    let owner = user(&store, "owner@example.com").await;
    let other = user(&store, "other@example.com").await;
    let post = store
        .create_post(&owner, draft("t".into(), "c".into(), true))
        .await
        .unwrap();

    let patch = PostChanges {
        title: Some("new".into()),
        ..Default::default()
    };
    let updated = store
        .update_post(post.id, owner.id, patch.clone())
        .await
        .unwrap();
    assert_eq!(updated.title, "new");
    assert_eq!(updated.content, "c");
    assert_eq!(updated.created_at, post.created_at);

    assert!(matches!(
        store.update_post(post.id, other.id, patch.clone()).await,
        Err(PostWriteError::Forbidden(_))
    ));
    assert!(matches!(
        store.update_post(next(post.id), owner.id, patch).await,
        Err(PostWriteError::NotFound(_))
    ));
    assert!(matches!(
        store
            .update_post(post.id, other.id, PostChanges::default())
            .await,
        Err(PostWriteError::Forbidden(_))
    ));
    assert_eq!(store.get_post(post.id).await.unwrap().unwrap().title, "new");
}

#[tokio::test]
async fn empty_titles_and_contents_are_stored_and_read_back_as_empty_strings() {
    // GIVEN a post created with an empty title and content (DynamoDB Local refuses `""` in any
    // attribute; real DynamoDB takes it: the store must answer the same on both)
    let store = store().await;
    let owner = user(&store, "empty@example.com").await;
    let other = user(&store, "empty2@example.com").await;
    let post = store
        .create_post(&owner, draft(String::new(), String::new(), true))
        .await
        .unwrap();
    assert_eq!((post.title.as_str(), post.content.as_str()), ("", ""));

    // THEN get and list read it back with "" (and a search never matches the missing title)
    let got = store.get_post(post.id).await.unwrap().unwrap();
    assert_eq!(got, post);
    let listed = store.list_posts(100, 0, "", None).await.unwrap();
    assert_eq!(listed.iter().find(|p| p.id == post.id), Some(&post));
    assert!(store.list_posts(100, 0, "x", None).await.unwrap().is_empty());

    // WHEN a PUT-style update sets text, then another empties both again
    let put = |title: &str, content: &str| PostChanges {
        title: Some(title.into()),
        content: Some(content.into()),
        published: Some(false),
    };
    let filled = store
        .update_post(post.id, owner.id, put("t", "c"))
        .await
        .unwrap();
    assert_eq!((filled.title.as_str(), filled.content.as_str()), ("t", "c"));
    let emptied = store
        .update_post(post.id, owner.id, put("", ""))
        .await
        .unwrap();
    assert_eq!((emptied.title.as_str(), emptied.content.as_str()), ("", ""));
    assert!(!emptied.published);
    assert_eq!(emptied.created_at, post.created_at);
    assert_eq!(store.get_post(post.id).await.unwrap().unwrap(), emptied);

    // AND a PATCH-style update empties one field and keeps the other
    store
        .update_post(post.id, owner.id, put("t2", "c2"))
        .await
        .unwrap();
    let patch = PostChanges {
        title: Some(String::new()),
        ..Default::default()
    };
    let patched = store
        .update_post(post.id, owner.id, patch.clone())
        .await
        .unwrap();
    assert_eq!(
        (patched.title.as_str(), patched.content.as_str()),
        ("", "c2")
    );
    let listed = store.list_posts(100, 0, "", None).await.unwrap();
    assert_eq!(listed.iter().find(|p| p.id == post.id), Some(&patched));

    // AND "" still gets the write's real answer: forbidden for someone else, missing for no post
    assert!(matches!(
        store.update_post(post.id, other.id, put("", "")).await,
        Err(PostWriteError::Forbidden(_))
    ));
    assert!(matches!(
        store.update_post(post.id, other.id, patch.clone()).await,
        Err(PostWriteError::Forbidden(_))
    ));
    assert!(matches!(
        store.update_post(next(post.id), owner.id, put("", "")).await,
        Err(PostWriteError::NotFound(_))
    ));
    assert!(matches!(
        store.update_post(next(post.id), owner.id, patch).await,
        Err(PostWriteError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_vote_is_counted_once_and_removed_once() {
    let store = store().await;
    let owner = user(&store, "v@example.com").await;
    let post = store
        .create_post(&owner, draft("t".into(), "c".into(), true))
        .await
        .unwrap();
    store.add_vote(post.id, owner.id).await.unwrap();
    assert!(matches!(
        store.add_vote(post.id, owner.id).await,
        Err(VoteError::AlreadyVoted { .. })
    ));
    assert_eq!(store.get_post(post.id).await.unwrap().unwrap().votes, 1);
    store.remove_vote(post.id, owner.id).await.unwrap();
    assert!(matches!(
        store.remove_vote(post.id, owner.id).await,
        Err(VoteError::VoteNotFound)
    ));
    assert_eq!(store.get_post(post.id).await.unwrap().unwrap().votes, 0);
    assert!(matches!(
        store.add_vote(next(post.id), owner.id).await,
        Err(VoteError::PostNotFound(_))
    ));
    assert!(matches!(
        store.remove_vote(next(post.id), owner.id).await,
        Err(VoteError::PostNotFound(_))
    ));
}

#[tokio::test]
async fn under_50_concurrent_votes_and_unvotes_the_count_equals_the_vote_items() {
    let store = store().await;
    let owner = user(&store, "c@example.com").await;
    let post = store
        .create_post(&owner, draft("t".into(), "c".into(), true))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..50u64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                // 25 voters; odd tasks try to take back the vote of the one before them.
                let voter = UserId::new(1_000 + i / 2);
                if i % 2 == 0 {
                    store.add_vote(post.id, voter).await.is_ok()
                } else {
                    store.remove_vote(post.id, voter).await.is_ok()
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let votes = store.get_post(post.id).await.unwrap().unwrap().votes;
    assert_eq!(votes, vote_items(&store, post.id).await);
}

#[tokio::test]
async fn deleting_a_post_removes_it_and_all_its_votes_even_past_one_transaction() {
    let store = store().await;
    let owner = user(&store, "d@example.com").await;
    let other = user(&store, "d2@example.com").await;
    let post = store
        .create_post(&owner, draft("t".into(), "c".into(), true))
        .await
        .unwrap();
    // More votes than fit in one transaction with the post.
    for voter in 0..130u64 {
        store.add_vote(post.id, UserId::new(10_000 + voter)).await.unwrap();
    }
    assert!(matches!(
        store.delete_post(post.id, other.id).await,
        Err(PostWriteError::Forbidden(_))
    ));
    assert_eq!(store.get_post(post.id).await.unwrap().unwrap().votes, 130);

    store.delete_post(post.id, owner.id).await.unwrap();
    assert_eq!(store.get_post(post.id).await.unwrap(), None);
    assert_eq!(vote_items(&store, post.id).await, 0);
    assert!(matches!(
        store.delete_post(post.id, owner.id).await,
        Err(PostWriteError::NotFound(_))
    ));
    assert!(matches!(
        store.add_vote(post.id, owner.id).await,
        Err(VoteError::PostNotFound(_))
    ));
}

/// Creates one post per title (oldest first, a few milliseconds apart so ids order them) and
/// returns their ids.
async fn posts_titled(store: &(impl PostStore + UserStore), address: &str, titles: &[&str]) -> Vec<PostId> {
    let owner = user(store, address).await;
    let mut ids = Vec::new();
    for title in titles {
        let post = store
            .create_post(&owner, draft(title.to_string(), "c".into(), true))
            .await
            .unwrap();
        ids.push(post.id);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    ids
}

async fn search_titles(store: &impl PostStore, search: &str) -> Vec<String> {
    store
        .list_posts(100, 0, search, None)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.title)
        .collect()
}

#[tokio::test]
async fn search_finds_1_2_3_and_longer_substrings_case_sensitively_newest_first() {
    let store = store().await;
    posts_titled(
        &store,
        "search@example.com",
        &["Rust is fast", "rust never sleeps", "trusty", "Rusty nail", "r", "", "fast rust"],
    )
    .await;
    // 1 character
    assert_eq!(search_titles(&store, "y").await, ["Rusty nail", "trusty"]);
    assert_eq!(search_titles(&store, "R").await, ["Rusty nail", "Rust is fast"]);
    // 2 and 3 characters (a space is a character like any other)
    assert_eq!(
        search_titles(&store, "t ").await,
        ["fast rust", "rust never sleeps", "Rust is fast"]
    );
    assert_eq!(search_titles(&store, "s f").await, ["Rust is fast"]);
    assert_eq!(
        search_titles(&store, "ust").await,
        ["fast rust", "Rusty nail", "trusty", "rust never sleeps", "Rust is fast"]
    );
    // 4 and more: every trigram must be there, and in this order
    assert_eq!(search_titles(&store, "rust").await, ["fast rust", "trusty", "rust never sleeps"]);
    assert_eq!(search_titles(&store, "Rust").await, ["Rusty nail", "Rust is fast"]);
    assert_eq!(search_titles(&store, "rust never sleeps").await, ["rust never sleeps"]);
    assert!(search_titles(&store, "rust never sleeps!").await.is_empty());
    // Trigrams present, but not adjacent in that order: verified away
    assert!(search_titles(&store, "fastrust").await.is_empty());
    assert!(search_titles(&store, "ust is f").await == ["Rust is fast"]);
    assert!(search_titles(&store, "RUST").await.is_empty(), "case-sensitive");
    assert!(search_titles(&store, "q").await.is_empty());
    // Longer than any title can be
    assert!(search_titles(&store, &"Rust ".repeat(61)).await.is_empty());
}

#[tokio::test]
async fn search_matches_unicode_characters_not_bytes() {
    let store = store().await;
    posts_titled(&store, "unicode@example.com", &["日本語のテキスト", "naïve café", "emoji 🦀🦀 crab", "ï"]).await;
    assert_eq!(search_titles(&store, "本").await, ["日本語のテキスト"]);
    assert_eq!(search_titles(&store, "語のテ").await, ["日本語のテキスト"]);
    assert_eq!(search_titles(&store, "日本語のテキスト").await, ["日本語のテキスト"]);
    assert_eq!(search_titles(&store, "ï").await, ["ï", "naïve café"]);
    assert_eq!(search_titles(&store, "é").await, ["naïve café"]);
    assert_eq!(search_titles(&store, "🦀").await, ["emoji 🦀🦀 crab"]);
    assert_eq!(search_titles(&store, "🦀🦀 c").await, ["emoji 🦀🦀 crab"]);
    assert!(search_titles(&store, "🦀🦀🦀").await.is_empty());
}

#[tokio::test]
async fn skip_and_limit_are_exact_across_shards_for_the_feed_and_for_search() {
    let store = store().await;
    let titles: Vec<String> = (0..23).map(|i| format!("{} item {i}", if i % 3 == 0 { "odd" } else { "even" })).collect();
    let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
    let mut ids = posts_titled(&store, "exact@example.com", &refs).await;
    ids.reverse();
    let matching: Vec<PostId> = ids
        .iter()
        .zip(titles.iter().rev())
        .filter(|(_, t)| t.starts_with("odd"))
        .map(|(id, _)| *id)
        .collect();
    for (search, expected) in [("", &ids), ("odd", &matching), ("d", &matching)] {
        for (limit, skip) in [(1, 0), (3, 2), (5, 5), (7, 1), (100, 0), (4, 20), (2, 100)] {
            let got: Vec<PostId> = store
                .list_posts(limit, skip, search, None)
                .await
                .unwrap()
                .iter()
                .map(|p| p.id)
                .collect();
            let want: Vec<PostId> = expected.iter().skip(skip).take(limit).copied().collect();
            assert_eq!(got, want, "search {search:?} limit {limit} skip {skip}");
        }
    }
}

#[tokio::test]
async fn paging_with_the_last_post_as_cursor_gives_the_same_pages_as_skip() {
    let store = store().await;
    let titles: Vec<String> = (0..17).map(|i| format!("page {i} {}", if i % 2 == 0 { "ab" } else { "cd" })).collect();
    let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
    posts_titled(&store, "cursor@example.com", &refs).await;
    for search in ["", "ab", "page", "page 1"] {
        let mut by_skip = Vec::new();
        for page in 0.. {
            let posts = store.list_posts(4, page * 4, search, None).await.unwrap();
            if posts.is_empty() {
                break;
            }
            by_skip.push(posts.iter().map(|p| p.id).collect::<Vec<_>>());
        }
        let mut by_cursor = Vec::new();
        let mut before = None;
        loop {
            let posts = store.list_posts(4, 0, search, before).await.unwrap();
            let Some(last) = posts.last() else { break };
            before = Some(last.id);
            by_cursor.push(posts.iter().map(|p| p.id).collect::<Vec<_>>());
        }
        assert_eq!(by_cursor, by_skip, "search {search:?}");
        assert!(!by_skip.is_empty());
    }
    // skip counts from the cursor's position
    let all = store.list_posts(100, 0, "", None).await.unwrap();
    let after = store.list_posts(2, 1, "", Some(all[3].id)).await.unwrap();
    assert_eq!(after, all[5..7].to_vec());
}

#[tokio::test]
async fn a_title_change_moves_the_post_between_search_results_and_a_delete_removes_it() {
    let store = store().await;
    let owner = user(&store, "moves@example.com").await;
    let post = store
        .create_post(&owner, draft("alpha centauri".into(), "c".into(), true))
        .await
        .unwrap();
    assert_eq!(search_titles(&store, "alpha").await, ["alpha centauri"]);
    let retitle = |t: &str| PostChanges {
        title: Some(t.into()),
        ..Default::default()
    };
    store.update_post(post.id, owner.id, retitle("beta pictoris")).await.unwrap();
    assert!(search_titles(&store, "alpha").await.is_empty());
    assert!(search_titles(&store, "a c").await.is_empty());
    assert_eq!(search_titles(&store, "beta").await, ["beta pictoris"]);
    assert_eq!(search_titles(&store, "a p").await, ["beta pictoris"]);
    // The same title again, and a change of content only: still found, same post
    store.update_post(post.id, owner.id, retitle("beta pictoris")).await.unwrap();
    let content = PostChanges {
        content: Some("new".into()),
        published: Some(false),
        ..Default::default()
    };
    let changed = store.update_post(post.id, owner.id, content).await.unwrap();
    assert_eq!((changed.title.as_str(), changed.content.as_str()), ("beta pictoris", "new"));
    let found = store.list_posts(10, 0, "pictoris", None).await.unwrap();
    assert_eq!(found, [changed]);
    // Emptied, then back
    store.update_post(post.id, owner.id, retitle("")).await.unwrap();
    assert!(search_titles(&store, "b").await.is_empty());
    let back = PostChanges {
        title: Some("gamma".into()),
        content: Some("x".into()),
        published: Some(true),
    };
    let back = store.update_post(post.id, owner.id, back).await.unwrap();
    assert_eq!((back.title.as_str(), back.content.as_str(), back.published), ("gamma", "x", true));
    assert_eq!(store.list_posts(10, 0, "gamm", None).await.unwrap(), [back]);
    store.delete_post(post.id, owner.id).await.unwrap();
    assert!(search_titles(&store, "gamma").await.is_empty());
    assert!(search_titles(&store, "g").await.is_empty());
}
