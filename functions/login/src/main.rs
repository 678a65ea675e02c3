//! Lambda entry point of `login`: set up logging, build the long-lived state once per
//! container, and hand the handler to the runtime. The logic is in `lib.rs`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::http::LambdaError> {
    shared::http::init_tracing();
    let state = login::State::from_env().await?;
    shared::http::serve(state, login::handle).await
}
