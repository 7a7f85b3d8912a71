//! `llm-gateway spend`: set an organisation's spend limits and alert, and show its spend and
//! savings, on the configured store (headless; the admin API does the same over HTTP).

use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use gateway_server::spend::{report, settings};
use gateway_store::model::spend::SpendLimits;
use gateway_store::{Store, Timestamp};

use crate::admin::find_org;

#[derive(Subcommand)]
pub enum SpendCommand {
    /// Replace the organisation's spend limits (US dollars); a limit not given is removed.
    SetLimits {
        /// The organisation's name or id (`org_configured` for the keys of [[auth.keys]]).
        #[arg(long)]
        org: String,
        #[arg(long)]
        daily_usd: Option<f64>,
        #[arg(long)]
        weekly_usd: Option<f64>,
        #[arg(long)]
        monthly_usd: Option<f64>,
        #[arg(long)]
        per_request_usd: Option<f64>,
    },
    /// Set the webhook that hears about thresholds and anomalies; prints a generated
    /// signing secret once.
    SetAlert {
        #[arg(long)]
        org: String,
        /// Percent of any limit whose crossing is announced (1-100).
        #[arg(long)]
        threshold_percent: u8,
        #[arg(long)]
        webhook_url: String,
        /// The HMAC-SHA256 signing secret (at least 16 characters); generated when omitted.
        #[arg(long, env = "LLM_GATEWAY_WEBHOOK_SECRET")]
        secret: Option<String>,
    },
    /// Remove the organisation's alert.
    ClearAlert {
        #[arg(long)]
        org: String,
    },
    /// Print limits, current periods, and spend and savings by day, model and key (JSON).
    Show {
        #[arg(long)]
        org: String,
        /// Days back from now the breakdowns cover.
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
}

pub async fn spend(store: Arc<dyn Store>, command: SpendCommand) -> anyhow::Result<()> {
    match command {
        SpendCommand::SetLimits {
            org,
            daily_usd,
            weekly_usd,
            monthly_usd,
            per_request_usd,
        } => {
            let org = find_org(store.as_ref(), &org).await?;
            let limits = SpendLimits {
                daily_usd,
                weekly_usd,
                monthly_usd,
                per_request_usd,
            };
            let org = settings::set_limits(store.as_ref(), org, limits, "cli")
                .await
                .context("setting spend limits")?;
            print_json(&settings::SettingsView::from(&org))
        }
        SpendCommand::SetAlert {
            org,
            threshold_percent,
            webhook_url,
            secret,
        } => {
            let org = find_org(store.as_ref(), &org).await?;
            let update = settings::AlertUpdate {
                threshold_percent,
                webhook_url,
                secret,
            };
            let (org, generated) = settings::set_alert(store.as_ref(), org, Some(update), "cli")
                .await
                .context("setting the spend alert")?;
            print_json(&settings::SettingsView::from(&org))?;
            if let Some(secret) = generated {
                println!("webhook secret (shown once): {secret}");
            }
            Ok(())
        }
        SpendCommand::ClearAlert { org } => {
            let org = find_org(store.as_ref(), &org).await?;
            let (org, _) = settings::set_alert(store.as_ref(), org, None, "cli")
                .await
                .context("removing the spend alert")?;
            print_json(&settings::SettingsView::from(&org))
        }
        SpendCommand::Show { org, days } => {
            let org = find_org(store.as_ref(), &org).await?;
            let now = Timestamp::now();
            let from = now.plus_days(-days.clamp(1, 3_650));
            let report = report::report(store.as_ref(), &org, from, now.plus_millis(1), now)
                .await
                .context("reading spend")?;
            print_json(&serde_json::json!({
                "settings": settings::SettingsView::from(&org),
                "report": report,
            }))
        }
    }
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
