//! Changing an organisation's spend settings, the same way from the CLI and the admin API:
//! validated, stored, audited, and the webhook secret shown once (never read back).

use gateway_store::model::audit::{AuditEvent, AuditOutcome};
use gateway_store::model::org::Organization;
use gateway_store::model::spend::{SpendAlert, SpendLimits};
use gateway_store::{Store, StoreResult, Timestamp};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// An alert as it is set: the secret is generated when not given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertUpdate {
    pub threshold_percent: u8,
    pub webhook_url: String,
    #[serde(default)]
    pub secret: Option<String>,
}

/// An alert as it is shown: everything but the secret.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub threshold_percent: u8,
    pub webhook_url: String,
}

impl From<&SpendAlert> for AlertView {
    fn from(alert: &SpendAlert) -> Self {
        AlertView {
            threshold_percent: alert.threshold_percent,
            webhook_url: alert.webhook_url.clone(),
        }
    }
}

/// The settings as shown.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsView {
    pub limits: SpendLimits,
    pub alerts: Option<AlertView>,
}

impl From<&Organization> for SettingsView {
    fn from(org: &Organization) -> Self {
        SettingsView {
            limits: org.spend.limits,
            alerts: org.spend.alerts.as_ref().map(AlertView::from),
        }
    }
}

/// `whsec_` and 64 hex digits (256 random bits).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Replaces the limits of `org` (stored and audited as `actor`).
pub async fn set_limits(
    store: &dyn Store,
    mut org: Organization,
    limits: SpendLimits,
    actor: &str,
) -> StoreResult<Organization> {
    org.spend.limits = limits;
    store.update_org(&org).await?;
    audit(
        store,
        &org,
        actor,
        "spend.limits_set",
        serde_json::json!(limits),
    )
    .await;
    Ok(org)
}

/// Sets (or with `None` removes) the alert of `org`; returns the organisation and the
/// secret when it was generated here, to show once.
pub async fn set_alert(
    store: &dyn Store,
    mut org: Organization,
    update: Option<AlertUpdate>,
    actor: &str,
) -> StoreResult<(Organization, Option<String>)> {
    let mut generated = None;
    org.spend.alerts = update.map(|u| {
        let secret = u.secret.unwrap_or_else(|| {
            let secret = new_secret();
            generated = Some(secret.clone());
            secret
        });
        SpendAlert {
            threshold_percent: u.threshold_percent,
            webhook_url: u.webhook_url,
            secret,
        }
    });
    store.update_org(&org).await?;
    let details = serde_json::json!(org.spend.alerts.as_ref().map(AlertView::from));
    audit(store, &org, actor, "spend.alert_set", details).await;
    Ok((org, generated))
}

async fn audit(
    store: &dyn Store,
    org: &Organization,
    actor: &str,
    action: &str,
    details: serde_json::Value,
) {
    let mut event = AuditEvent::new(
        org,
        actor,
        action,
        &org.id,
        AuditOutcome::Success,
        Timestamp::now(),
    );
    event.details = details;
    if let Err(error) = store.append_audit(&event).await {
        tracing::error!(%error, action, "writing an audit event failed");
    }
}
