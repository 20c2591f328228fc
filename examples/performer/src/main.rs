//! Example AVS performer: a Lambda function built on `lambda_runtime`.
//!
//! It takes Quartz's task event (`{"avsAddress","operatorSetId","taskId","payload","payloadEncoding"?}`)
//! and answers by `payload.operation`: `compute` (sum and product of `a` and `b`), `transform`
//! (uppercase, length and reverse of `text`), `async` (waits about a second), anything else
//! echoes. A base64 payload is answered as `{"resultBase64"}` with the exact bytes.
//!
//! With `PERFORMER_TEST_HOOKS=1` it also fails on request, so one image serves every runtime test
//! (see [`hooks`]); `PERFORMER_FAIL_INIT` makes initialisation fail.

mod hooks;
mod ops;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    hooks::init_failure_if_requested();
    let state = ops::State::new();
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        state.handle(event.payload, event.context.request_id).await
    }))
    .await
}
