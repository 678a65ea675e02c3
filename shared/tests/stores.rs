//! One behavioural suite, two stores: every test in `suite/` runs once against the DynamoDB
//! store (DynamoDB Local over HTTP, through the real SDK; `make test` sets `DYNAMODB_ENDPOINT`)
//! and once against the in-memory store that handler unit tests use, so the two cannot drift.
//!
//! The suite files are `include!`d into one module per store; each module brings its own
//! `store()` (a fresh, empty store per test, so tests run in parallel) and `vote_items()` (the
//! number of vote items of a post, counted the store's own way). Tests only the DynamoDB store
//! can run (item layout, seeding, faults) are in `dynamodb.rs`.

#[path = "suite/common.rs"]
mod common;

/// The suite's imports, the same in both modules.
macro_rules! suite_prelude {
    () => {
        #[allow(unused_imports)]
        use crate::common::*;
        #[allow(unused_imports)]
        use shared::auth::{new_refresh_token, refresh_token_hash, unix_now};
        #[allow(unused_imports)]
        use shared::config::SessionConfig;
        #[allow(unused_imports)]
        use shared::domain::{
            Post, PostChanges, PostId, PostWriteError, SignUpError, UserId, VoteError,
        };
        #[allow(unused_imports)]
        use shared::ports::{LoginLimitStore, PostStore, SessionStore, UserStore, VoteStore};
        #[allow(unused_imports)]
        use shared::store::{KNOWN_SOURCE_SECS, LoginGate, RefreshError};
        include!("suite/users_posts_votes.rs");
        include!("suite/sessions.rs");
        include!("suite/login_limits.rs");
    };
}

mod dynamodb {
    use shared::store::Store;

    async fn store() -> Store {
        crate::common::dynamodb_store("suite").await
    }

    async fn vote_items(store: &Store, post: PostId) -> u64 {
        store.count_vote_items(post).await.unwrap()
    }

    suite_prelude!();
}

mod memory {
    use shared::memory::MemoryStore;

    async fn store() -> MemoryStore {
        MemoryStore::new()
    }

    async fn vote_items(store: &MemoryStore, post: PostId) -> u64 {
        store.count_votes(post) as u64
    }

    suite_prelude!();
}
