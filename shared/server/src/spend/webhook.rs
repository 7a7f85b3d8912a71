//! Delivering an alert: one signed JSON POST to the organisation's webhook, retried with
//! exponential backoff, every attempt written to the organisation's audit log.
//!
//! Headers: `Content-Type: application/json`, `X-LLM-Gateway-Event` (the event type),
//! `X-LLM-Gateway-Delivery` (the event id, the same on every retry, so a receiver can drop a
//! duplicate), `X-LLM-Gateway-Timestamp` (Unix seconds of the attempt) and
//! `X-LLM-Gateway-Signature: sha256=<hex HMAC-SHA256 of the body with the alert's secret>`.
//! Any 2xx is a delivery; anything else, or no answer within `[spend] webhook_timeout_ms`, is
//! retried after `webhook_backoff_ms`, doubling, up to `webhook_attempts` in all.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway_core::config::SpendConfig;
use gateway_providers::http::HttpClient;
use gateway_store::model::audit::{AuditEvent, AuditOutcome};
use gateway_store::model::org::Organization;
use gateway_store::model::spend::SpendAlert;
use gateway_store::{AuditLog, Timestamp};
use hmac::{Hmac, Mac};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-llm-gateway-signature";
pub const TIMESTAMP_HEADER: &str = "x-llm-gateway-timestamp";
pub const EVENT_HEADER: &str = "x-llm-gateway-event";
pub const DELIVERY_HEADER: &str = "x-llm-gateway-delivery";

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends alerts; built once per process.
pub struct Webhooks {
    client: HttpClient,
    audit: Arc<dyn AuditLog>,
    attempts: u32,
    backoff: Duration,
    timeout: Duration,
}

impl Webhooks {
    pub fn new(client: HttpClient, audit: Arc<dyn AuditLog>, config: &SpendConfig) -> Self {
        Webhooks {
            client,
            audit,
            attempts: config.webhook_attempts.max(1),
            backoff: Duration::from_millis(config.webhook_backoff_ms),
            timeout: Duration::from_millis(config.webhook_timeout_ms.max(1)),
        }
    }

    /// Delivers `body` (a serialised alert with id `event_id` of type `event_type`); whether a
    /// receiver accepted it.
    pub async fn deliver(
        &self,
        org: &Organization,
        alert: &SpendAlert,
        event_type: &str,
        event_id: &str,
        body: Bytes,
    ) -> bool {
        let Ok(url) = alert.webhook_url.parse::<http::Uri>() else {
            self.record(org, event_type, event_id, 0, "invalid webhook URL", false)
                .await;
            return false;
        };
        let signature = signature(&alert.secret, &body);
        let mut wait = self.backoff;
        for attempt in 1..=self.attempts {
            let headers = headers(event_type, event_id, &signature);
            let sent = tokio::time::timeout(
                self.timeout,
                self.client.post("webhook", &url, headers, body.clone()),
            )
            .await;
            let (delivered, detail) = match sent {
                Ok(Ok(response)) => {
                    let status = response.status();
                    // The body is not read: a receiver's answer carries nothing for us.
                    drop(response);
                    (status.is_success(), format!("HTTP {}", status.as_u16()))
                }
                Ok(Err(error)) => (false, error.message),
                Err(_) => (false, "timed out".to_owned()),
            };
            self.record(org, event_type, event_id, attempt, &detail, delivered)
                .await;
            if delivered {
                return true;
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        tracing::warn!(org = %org.id, event = event_id, "a spend alert could not be delivered");
        false
    }

    async fn record(
        &self,
        org: &Organization,
        event_type: &str,
        event_id: &str,
        attempt: u32,
        detail: &str,
        delivered: bool,
    ) {
        let outcome = if delivered {
            AuditOutcome::Success
        } else {
            AuditOutcome::Failure
        };
        let mut event = AuditEvent::new(
            org,
            "system",
            "spend.webhook_delivery",
            event_id,
            outcome,
            Timestamp::now(),
        );
        event.details = serde_json::json!({
            "event_type": event_type,
            "attempt": attempt,
            "result": detail,
            "delivered": delivered,
        });
        if let Err(error) = self.audit.append_audit(&event).await {
            tracing::error!(%error, "writing a webhook delivery to the audit log failed");
        }
    }
}

fn headers(event_type: &str, event_id: &str, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(5);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let now = Timestamp::now().millis() / 1000;
    let pairs = [
        (EVENT_HEADER, event_type.to_owned()),
        (DELIVERY_HEADER, event_id.to_owned()),
        (TIMESTAMP_HEADER, now.to_string()),
        (SIGNATURE_HEADER, signature.to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_rfc_4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
