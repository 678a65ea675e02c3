//! Lambda entry point of the authorizer: set up logging, build the state once per container,
//! and hand the decision function to the runtime. The logic is in `lib.rs`.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::http::init_tracing();
    let state: &'static authorizer::State =
        Box::leak(Box::new(authorizer::State::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        authorizer::authorize(state, event.payload)
    }))
    .await
}
