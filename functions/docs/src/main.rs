//! Lambda entry point of `docs`: set up logging, build the long-lived state once per
//! container (the OpenAPI document, generated once), and hand the handler to the runtime.
//! The logic is in `lib.rs`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::http::LambdaError> {
    shared::http::init_tracing();
    let state = docs::State::new();
    shared::http::serve(state, docs::handle).await
}
