//! The floor under every DynamoDB function: CPU time of one warm read through the store
//! (aws-sdk-dynamodb's `GetItem` of the fixture user, and its `serde_dynamo` decoding) in a
//! loop, with no Lambda runtime around it. `make bench` runs it next to the functions, so the
//! table shows how much of a function's CPU per call is the SDK's and how much is ours.
//!
//! Environment: what a function gets (`TABLE_NAME`, `AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL_DYNAMODB`), a table seeded by `local_gateway seed`, and `N` (default
//! 2000). Prints one JSON object.

use shared::domain::UserId;
use shared::ports::UserStore;
use shared::store::Store;

/// CPU time of every thread of this process so far, in ns (schedstat, ns precision).
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let store = Store::from_env()
        .await
        .expect("store config from the environment");
    let user = UserId::new(1);
    // Warm: the connection, the credentials cache, the allocator.
    for _ in 0..100 {
        let found = store.get_user(user).await.expect("read the fixture user");
        assert!(
            found.is_some(),
            "no fixture user 1: run `local_gateway seed` first"
        );
    }
    let before = cpu_ns();
    for _ in 0..n {
        store.get_user(user).await.expect("read the fixture user");
    }
    let per_call_ms = (cpu_ns() - before) as f64 / f64::from(n) / 1e6;
    println!("{{\"n\": {n}, \"store_read_cpu_ms\": {per_call_ms:.4}}}");
}
