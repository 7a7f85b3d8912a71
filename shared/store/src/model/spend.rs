//! An organisation's spend settings: limits in US dollars per calendar day, ISO week and month
//! of its time zone and per request, and the webhook that hears about thresholds and anomalies.
//! Stored inside the organisation's record, so both backends keep them without a schema change.

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};

/// Spend limits in US dollars; a missing limit is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
    /// The most one request may cost in the worst case (its whole prompt plus its maximum
    /// output at the chosen model's prices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_request_usd: Option<f64>,
}

impl SpendLimits {
    pub fn is_empty(&self) -> bool {
        *self == SpendLimits::default()
    }

    fn validate(&self) -> StoreResult<()> {
        let all = [
            ("daily_usd", self.daily_usd),
            ("weekly_usd", self.weekly_usd),
            ("monthly_usd", self.monthly_usd),
            ("per_request_usd", self.per_request_usd),
        ];
        for (name, value) in all {
            if let Some(v) = value
                && !(v.is_finite() && (0.0..=MAX_LIMIT_USD).contains(&v))
            {
                return Err(StoreError::Invalid(format!(
                    "limits.{name} must be a number of dollars from 0 to {MAX_LIMIT_USD}"
                )));
            }
        }
        Ok(())
    }
}

/// Limits above this are typing mistakes; it also keeps micro-dollar counts far from overflow.
pub const MAX_LIMIT_USD: f64 = 1e9;

/// Where threshold and anomaly alerts go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendAlert {
    /// Percent of any limit (daily, weekly, monthly) whose crossing is announced, 1 to 100.
    pub threshold_percent: u8,
    /// `http` or `https` URL that receives the alerts as signed JSON POSTs.
    pub webhook_url: String,
    /// The HMAC-SHA256 key of the `X-LLM-Gateway-Signature` header. Never shown after it is set.
    pub secret: String,
}

impl SpendAlert {
    fn validate(&self) -> StoreResult<()> {
        if !(1..=100).contains(&self.threshold_percent) {
            return Err(StoreError::Invalid(
                "alerts.threshold_percent must be from 1 to 100".to_owned(),
            ));
        }
        let url = self.webhook_url.as_str();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
        if !host_ok || url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(StoreError::Invalid(
                "alerts.webhook_url must be an http(s) URL".to_owned(),
            ));
        }
        if self.secret.len() < 16 {
            return Err(StoreError::Invalid(
                "alerts.secret must have at least 16 characters".to_owned(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendSettings {
    #[serde(default)]
    pub limits: SpendLimits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<SpendAlert>,
}

impl SpendSettings {
    pub fn validate(&self) -> StoreResult<()> {
        self.limits.validate()?;
        self.alerts.as_ref().map_or(Ok(()), SpendAlert::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(threshold: u8, url: &str) -> SpendAlert {
        SpendAlert {
            threshold_percent: threshold,
            webhook_url: url.to_owned(),
            secret: "0123456789abcdef".to_owned(),
        }
    }

    #[test]
    fn limits_and_alerts_are_checked() {
        let mut settings = SpendSettings::default();
        assert!(settings.validate().is_ok());
        settings.limits.daily_usd = Some(-1.0);
        assert!(settings.validate().is_err());
        settings.limits.daily_usd = Some(f64::NAN);
        assert!(settings.validate().is_err());
        settings.limits.daily_usd = Some(10.0);
        settings.alerts = Some(alert(0, "https://example.com/hook"));
        assert!(settings.validate().is_err());
        settings.alerts = Some(alert(80, "ftp://example.com/hook"));
        assert!(settings.validate().is_err());
        settings.alerts = Some(alert(80, "https://example.com/hook"));
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn the_documented_shape_parses() {
        let limits: SpendLimits = serde_json::from_str(
            r#"{"daily_usd": 100, "monthly_usd": 2500, "per_request_usd": 0.50}"#,
        )
        .unwrap();
        assert_eq!(limits.daily_usd, Some(100.0));
        assert_eq!(limits.weekly_usd, None);
        assert!(serde_json::from_str::<SpendLimits>(r#"{"hourly_usd": 1}"#).is_err());
    }
}
