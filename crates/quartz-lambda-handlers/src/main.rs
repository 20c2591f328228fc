//! `bootstrap` of the control-plane functions: logs as JSON lines (CloudWatch), then
//! [`quartz_lambda_handlers::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
    quartz_lambda_handlers::run().await
}
