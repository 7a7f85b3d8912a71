//! Telling the gateway's own limits apart from a provider that cannot be reached.
//!
//! A connection the gateway cannot open because it is out of file descriptors, local ports or
//! memory says nothing about the provider. Counted as the provider's failure, a burst of
//! traffic would open its circuit breaker and keep it out of service for a whole cooldown after
//! the burst has passed; another provider would meet the same limit, so it is not retried
//! either. The client is told the gateway is overloaded (503), not that the provider is down.

use std::error::Error;
use std::io;
use std::time::Duration;

use gateway_core::upstream::{ProviderError, ProviderErrorKind};

/// Long enough for in-flight requests to finish and give their descriptors back.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The error to answer with when `err` (or an error it wraps) says the gateway ran out of a
/// resource on its way to `provider`.
pub(crate) fn exhausted(provider: &str, err: &(dyn Error + 'static)) -> Option<ProviderError> {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(resource) = e.downcast_ref::<io::Error>().and_then(resource_of) {
            tracing::warn!(provider, resource, "the gateway is out of a resource");
            let mut error = ProviderError::new(ProviderErrorKind::GatewayResources, resource);
            error.retry_after = Some(RETRY_AFTER);
            return Some(error);
        }
        source = e.source();
    }
    None
}

/// An I/O error wrapped in another (`io::Error::other`) is not its wrapper's `source`.
fn resource_of(error: &io::Error) -> Option<&'static str> {
    resource(error).or_else(|| {
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<io::Error>())
            .and_then(resource)
    })
}

fn resource(error: &io::Error) -> Option<&'static str> {
    match error.kind() {
        io::ErrorKind::OutOfMemory => return Some("memory"),
        io::ErrorKind::AddrNotAvailable => return Some("local ports"),
        _ => {}
    }
    match error.raw_os_error()? {
        libc::EMFILE | libc::ENFILE => Some("open files"),
        libc::ENOBUFS | libc::ENOMEM => Some("memory"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhausted_descriptors_ports_and_memory_are_the_gateways() {
        for (errno, resource) in [
            (libc::EMFILE, "open files"),
            (libc::ENFILE, "open files"),
            (libc::EADDRNOTAVAIL, "local ports"),
            (libc::ENOBUFS, "memory"),
        ] {
            // As the HTTP client reports it: the OS error wrapped in its own.
            let wrapped = io::Error::other(io::Error::from_raw_os_error(errno));
            let error = exhausted("openai", &wrapped).unwrap();
            assert_eq!(error.kind, ProviderErrorKind::GatewayResources);
            assert_eq!(error.message, resource);
            assert!(!error.is_retryable());
            let api = error.to_api_error("openai");
            assert_eq!(api.status().as_u16(), 503);
            assert_eq!(api.code.as_deref(), Some("gateway_overloaded"));
            assert_eq!(api.retry_after_secs(), Some(1));
        }
    }

    #[test]
    fn a_provider_refusing_the_connection_is_the_providers() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(exhausted("openai", &refused).is_none());
        assert!(exhausted("openai", &io::Error::from_raw_os_error(libc::ECONNRESET)).is_none());
    }
}
