//! Classifying Lambda API errors. Decisions use the SDK's typed error variants and the HTTP
//! status, never the message text: throttling, server errors and conflicts (an update still in
//! progress) are retryable; everything else the API refused is final.

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::StepError;

/// `op` names the call, e.g. `CreateFunction`.
pub(crate) fn classify<E>(op: &str, error: &SdkError<E, HttpResponse>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("Unknown");
            let message = format!("{op}: {code}: {}", service.err().message().unwrap_or("no message"));
            let error_type = format!("Lambda.{code}");
            if status == 409 || status == 429 || status >= 500 {
                StepError::retryable(error_type, message)
            } else {
                StepError::fatal(error_type, message)
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StepError::retryable("Lambda.Unreachable", format!("{op}: {}", display_chain(error)))
        }
        other => StepError::fatal("Lambda.Request", format!("{op}: {}", display_chain(other))),
    }
}

fn display_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
