//! smoke-check: the new version starts and answers before any traffic moves to it.
//!
//! The event is `{"type":"quartz.healthcheck"}`. The deployment fails when the version cannot
//! initialise, crashes or times out: Lambda reports those with error types in its own
//! namespaces (`Runtime.*`, `Sandbox.*`, `Function.*`), and an init error the function reported
//! itself through `/runtime/init/error` shows as an `INIT_REPORT … Status: error` line in the
//! log tail. Any other function error is an error the performer's code handled and returned
//! (e.g. "unknown event type"): the code is up and answering, so the check passes.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::LogType;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::{StepEnv, needed};
use crate::context::Context;
use crate::error::StepError;
use crate::lambda::classify;

pub const HEALTHCHECK_EVENT: &str = r#"{"type":"quartz.healthcheck"}"#;
const PLATFORM_ERROR_PREFIXES: [&str; 3] = ["Runtime.", "Sandbox.", "Function."];

pub(super) async fn run(ctx: &mut Context, env: &StepEnv) -> Result<(), StepError> {
    let version = needed(&ctx.version, "the published version")?;
    let output = env
        .lambda
        .invoke()
        .function_name(ctx.function_name.as_str())
        .qualifier(version)
        .log_type(LogType::Tail)
        .payload(Blob::new(HEALTHCHECK_EVENT))
        .send()
        .await
        .map_err(|e| classify("Invoke", &e))?;
    let Some(function_error) = output.function_error() else {
        return Ok(());
    };
    let body: Value = output
        .payload()
        .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
        .unwrap_or(Value::Null);
    let error_type = body.get("errorType").and_then(Value::as_str).unwrap_or(function_error);
    let message = body.get("errorMessage").and_then(Value::as_str).unwrap_or("");
    let log = output
        .log_result()
        .and_then(|l| STANDARD.decode(l).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    if let Some(error) = verdict(version, error_type, message, &log) {
        return Err(error);
    }
    tracing::info!(
        target: "quartz::factory",
        function = %ctx.function_name.as_str(), %version, error_type,
        "the health check returned a handled error; the version is up"
    );
    Ok(())
}

/// `None` when a function error is one the performer's code handled (the check passes).
fn verdict(version: &str, error_type: &str, message: &str, log: &str) -> Option<StepError> {
    let init_failed = log
        .lines()
        .any(|line| line.starts_with("INIT_REPORT") && line.contains("Status: error"));
    if !init_failed && !PLATFORM_ERROR_PREFIXES.iter().any(|p| error_type.starts_with(p)) {
        return None;
    }
    let phase = if init_failed {
        "initialisation"
    } else {
        "the health check"
    };
    Some(StepError::fatal(
        format!("Smoke.{error_type}"),
        format!("version {version} failed {phase}: {error_type}: {message}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crashes_timeouts_and_init_failures_fail_handled_errors_pass() {
        let fails = |t: &str, log: &str| verdict("3", t, "m", log).map(|e| e.error_type);
        assert_eq!(fails("Runtime.ExitError", ""), Some("Smoke.Runtime.ExitError".into()));
        assert_eq!(fails("Sandbox.Timedout", ""), Some("Smoke.Sandbox.Timedout".into()));
        assert_eq!(
            fails("Runtime.InitTimeout", ""),
            Some("Smoke.Runtime.InitTimeout".into())
        );
        assert_eq!(
            fails("Function.ResponseSizeTooLarge", ""),
            Some("Smoke.Function.ResponseSizeTooLarge".into())
        );
        // An init error the function reported itself carries its own type; the log tells.
        let init = "INIT_REPORT RequestId: x\tPhase: init\tStatus: error\tError Type: Runtime.InitError\n";
        assert_eq!(
            fails("Performer.InitFailed", init),
            Some("Smoke.Performer.InitFailed".into())
        );
        // The performer's code answered with an error of its own: it is up.
        assert_eq!(
            fails("UnknownEventType", "START RequestId: x\nEND RequestId: x\n"),
            None
        );
        assert_eq!(fails("Unhandled", ""), None);
    }
}
