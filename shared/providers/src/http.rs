//! The HTTP client every adapter borrows, and the reading of failures that happen before a
//! provider says anything.

use std::time::Duration;

use gateway_core::config::UpstreamConfig;
use gateway_core::upstream::{ProviderError, ProviderErrorKind};

/// One client for the whole process: connection pools are per client, so sharing it keeps
/// connections to each provider warm.
pub fn client(config: &UpstreamConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        // Provider APIs answer where they are asked; a redirect is a misconfiguration to
        // report, not to follow with the gateway's credentials.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("llm-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A failure to get any answer: no connection, a reset, or a time-out.
pub fn transport_error(provider: &str, err: &reqwest::Error) -> ProviderError {
    let kind = if err.is_timeout() {
        ProviderErrorKind::Timeout
    } else if err.is_connect() {
        ProviderErrorKind::Connect
    } else if err.is_body() || err.is_decode() {
        ProviderErrorKind::StreamInterrupted
    } else {
        ProviderErrorKind::Connect
    };
    // reqwest's message names the URL, never a header, so no credential can leak through it.
    tracing::warn!(provider, error = %err, "upstream transport failure");
    ProviderError::new(kind, format!("{provider}: {}", without_url(err)))
}

/// The error text without the URL (which may carry a self-hosted server's internal address).
fn without_url(err: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    last.unwrap_or_else(|| {
        if err.is_timeout() {
            "timed out".to_owned()
        } else {
            "connection failed".to_owned()
        }
    })
}
