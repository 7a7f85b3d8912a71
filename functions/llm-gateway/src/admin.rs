//! Headless bootstrap on the configured store: create an organisation, and create, list,
//! revoke and rotate its API keys. Secrets are printed once and never stored; every change is
//! written to the organisation's audit log with the actor `cli`.

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use gateway_core::keys::KeyEnvironment;
use gateway_store::model::api_key::{ApiKey, KeySpec, KeyStatus};
use gateway_store::model::audit::{AuditEvent, AuditOutcome};
use gateway_store::model::org::{Organization, Plan, PlanLimits};
use gateway_store::{Store, StoreError, Timestamp};
use ipnet::IpNet;
use secrecy::ExposeSecret;

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Create an organisation on a plan.
    Create {
        #[arg(long)]
        name: String,
        /// free, starter, pro or enterprise (enterprise needs the three limits).
        #[arg(long, default_value = "free")]
        plan: String,
        #[arg(long)]
        rpm: Option<u64>,
        #[arg(long)]
        tpm: Option<u64>,
        #[arg(long)]
        daily: Option<u64>,
    },
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key and print its secret (shown once).
    Create {
        /// The organisation's name or id.
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// prod (`llm_gw_prod_`) or dev (`llm_gw_dev_`).
        #[arg(long, default_value = "dev")]
        env: String,
        /// Days until the key expires (default: never).
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Requests per minute for this key (overrides nothing above the organisation's).
        #[arg(long)]
        rpm: Option<u64>,
        /// Tokens per minute for this key.
        #[arg(long)]
        tpm: Option<u64>,
        /// Networks the key may be used from (CIDR, IPv4 or IPv6; repeat or comma-separate).
        #[arg(long, value_delimiter = ',')]
        allow_ip: Vec<IpNet>,
    },
    /// List an organisation's keys (never a secret).
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a key at once.
    Revoke {
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: String,
    },
    /// Replace a key by a new one (printed once); the old one works for the grace period.
    Rotate {
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: String,
        #[arg(long, default_value_t = 86_400)]
        grace_secs: i64,
    },
}

pub async fn find_org(store: &dyn Store, name_or_id: &str) -> anyhow::Result<Organization> {
    match store.get_org(name_or_id).await {
        Ok(org) => Ok(org),
        Err(StoreError::NotFound(_)) => store
            .find_org_by_name(name_or_id)
            .await
            .with_context(|| format!("no organisation is named or has the id {name_or_id:?}")),
        Err(error) => Err(error.into()),
    }
}

async fn audit(store: &dyn Store, org: &Organization, action: &str, target: &str) {
    let event = AuditEvent::new(
        org,
        "cli",
        action,
        target,
        AuditOutcome::Success,
        Timestamp::now(),
    );
    if let Err(error) = store.append_audit(&event).await {
        eprintln!("warning: the audit event {action} could not be written: {error}");
    }
}

pub async fn org(store: Arc<dyn Store>, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create {
            name,
            plan,
            rpm,
            tpm,
            daily,
        } => {
            let plan = match plan.as_str() {
                "free" => Plan::Free,
                "starter" => Plan::Starter,
                "pro" => Plan::Pro,
                "enterprise" => Plan::Enterprise,
                other => bail!("unknown plan {other:?}: free, starter, pro or enterprise"),
            };
            let mut org = Organization::new(&name, plan, Timestamp::now());
            if plan == Plan::Enterprise {
                match (rpm, tpm, daily) {
                    (Some(rpm), Some(tpm), Some(daily)) => {
                        org.custom_limits = Some(PlanLimits {
                            requests_per_minute: rpm,
                            tokens_per_minute: tpm,
                            requests_per_day: daily,
                        });
                    }
                    _ => bail!("the enterprise plan needs --rpm, --tpm and --daily"),
                }
            }
            store.create_org(&org).await?;
            audit(store.as_ref(), &org, "org.create", &org.id).await;
            println!("organisation {} created: id {}", org.name, org.id);
            Ok(())
        }
    }
}

pub async fn key(store: Arc<dyn Store>, command: KeyCommand) -> anyhow::Result<()> {
    let now = Timestamp::now();
    match command {
        KeyCommand::Create {
            org,
            name,
            env,
            expires_in_days,
            rpm,
            tpm,
            allow_ip,
        } => {
            let org = find_org(store.as_ref(), &org).await?;
            let environment = match env.as_str() {
                "prod" => KeyEnvironment::Production,
                "dev" => KeyEnvironment::Development,
                other => bail!("unknown environment {other:?}: prod or dev"),
            };
            let issued = ApiKey::issue(
                KeySpec {
                    org_id: org.id.clone(),
                    name,
                    environment,
                    expires_at: expires_in_days.map(|d| now.plus_days(d)),
                    rpm_limit: rpm,
                    tpm_limit: tpm,
                    ip_allowlist: allow_ip,
                },
                now,
            );
            store.insert_key(&issued.key).await?;
            audit(store.as_ref(), &org, "key.create", &issued.key.id).await;
            println!("key id: {}", issued.key.id);
            println!("secret: {}", issued.secret.expose_secret());
            println!("The secret is shown once; only its SHA-256 is stored.");
            Ok(())
        }
        KeyCommand::List { org } => {
            let org = find_org(store.as_ref(), &org).await?;
            for key in store.list_keys(&org.id).await? {
                let status = match key.status(now) {
                    KeyStatus::Active => "active",
                    KeyStatus::ActiveUntilReplaced => "rotated (in grace period)",
                    KeyStatus::Revoked => "revoked",
                    KeyStatus::Expired => "expired",
                    KeyStatus::Replaced => "replaced",
                };
                let last_used = key
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), Timestamp::to_rfc3339);
                println!(
                    "{}  {}  {}…  {status}  last used {last_used}",
                    key.id, key.name, key.display_prefix
                );
            }
            Ok(())
        }
        KeyCommand::Revoke { org, id } => {
            let org = find_org(store.as_ref(), &org).await?;
            store.revoke_key(&org.id, &id, now).await?;
            audit(store.as_ref(), &org, "key.revoke", &id).await;
            println!("key {id} revoked");
            Ok(())
        }
        KeyCommand::Rotate {
            org,
            id,
            grace_secs,
        } => {
            let org = find_org(store.as_ref(), &org).await?;
            let old = store.get_key(&org.id, &id).await?;
            let issued = old.successor(now);
            store
                .rotate_key(&org.id, &id, &issued.key, now.plus_secs(grace_secs.max(0)))
                .await?;
            audit(store.as_ref(), &org, "key.rotate", &id).await;
            println!("key {id} rotated; it stays valid for {grace_secs} s");
            println!("new key id: {}", issued.key.id);
            println!("secret: {}", issued.secret.expose_secret());
            Ok(())
        }
    }
}
