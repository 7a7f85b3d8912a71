//! Logging for the functions. In Lambda every line is JSON with the invocation's `requestId`
//! (the runtime's span), unless `AWS_LAMBDA_LOG_FORMAT` is `Text`; `AWS_LAMBDA_LOG_LEVEL`, then
//! `RUST_LOG`, then `[telemetry] filter` choose the level. Outside Lambda the configured format
//! applies, as for the local server.

use gateway_core::config::TelemetryConfig;
use tracing_subscriber::EnvFilter;

pub fn init(config: &TelemetryConfig) {
    if !crate::in_lambda() {
        gateway_server::telemetry::init(config);
        return;
    }
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .and_then(|level| EnvFilter::try_new(level.to_lowercase()).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .or_else(|| EnvFilter::try_new(&config.filter).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        // Lambda adds its own timestamp to every line.
        .without_time()
        .with_target(false);
    let _ = if text {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
}
