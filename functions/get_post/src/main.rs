//! Lambda entry point of `get_post`: set up logging, build the long-lived state once per
//! container, and hand the handler to the runtime. The logic is in `lib.rs`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::http::LambdaError> {
    shared::http::init_tracing();
    let state = shared::store::Store::from_env().await?;
    shared::http::serve(state, get_post::handle).await
}
