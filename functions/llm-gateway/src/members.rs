//! Members on the configured store, for headless bootstrap: create one (its admin token printed
//! once), list, change a role, remove. The rules (one owner at least, tokens revoked with their
//! member) are the admin API's, from `gateway_server::admin::membership`.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::Subcommand;
use gateway_server::admin::membership;
use gateway_store::model::audit::{AuditEvent, AuditOutcome};
use gateway_store::model::member::{Member, Role};
use gateway_store::model::org::Organization;
use gateway_store::{Store, Timestamp};
use secrecy::ExposeSecret;

use crate::admin::find_org;

#[derive(Subcommand)]
pub enum MemberCommand {
    /// Add a member and print its admin token (shown once).
    Create {
        /// The organisation's name or id.
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// owner, admin, developer or viewer.
        #[arg(long)]
        role: String,
        /// The member's id (default: a new `usr_…` id).
        #[arg(long)]
        user_id: Option<String>,
    },
    /// List an organisation's members.
    List {
        #[arg(long)]
        org: String,
    },
    /// Change a member's role (the last owner stays owner).
    SetRole {
        #[arg(long)]
        org: String,
        /// The member's user id or email.
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: String,
    },
    /// Remove a member and revoke its admin tokens (never the last owner).
    Remove {
        #[arg(long)]
        org: String,
        /// The member's user id or email.
        #[arg(long)]
        user: String,
    },
}

fn parse_role(text: &str) -> anyhow::Result<Role> {
    Role::parse(text)
        .ok_or_else(|| anyhow!("unknown role {text:?}: owner, admin, developer or viewer"))
}

async fn find_member(store: &dyn Store, org: &Organization, user: &str) -> anyhow::Result<Member> {
    store
        .list_members(&org.id)
        .await?
        .into_iter()
        .find(|m| m.user_id == user || m.email.eq_ignore_ascii_case(user))
        .with_context(|| format!("{} has no member {user:?}", org.name))
}

async fn audit(
    store: &dyn Store,
    org: &Organization,
    action: &str,
    target: &str,
    details: serde_json::Value,
) {
    let mut event = AuditEvent::new(
        org,
        "cli",
        action,
        target,
        AuditOutcome::Success,
        Timestamp::now(),
    );
    event.details = details;
    if let Err(error) = store.append_audit(&event).await {
        eprintln!("warning: the audit event {action} could not be written: {error}");
    }
}

pub async fn member(store: Arc<dyn Store>, command: MemberCommand) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let store = store.as_ref();
    match command {
        MemberCommand::Create {
            org,
            email,
            role,
            user_id,
        } => {
            let org = find_org(store, &org).await?;
            let role = parse_role(&role)?;
            let (member, issued) =
                membership::add_member(store, &org.id, &email, role, user_id, now)
                    .await
                    .map_err(|e| anyhow!(e.message))?;
            audit(
                store,
                &org,
                "member.add",
                &member.user_id,
                serde_json::json!({ "role": role.as_str(), "email": member.email }),
            )
            .await;
            println!(
                "member {} ({}) added to {} as {}",
                member.user_id,
                member.email,
                org.name,
                role.as_str()
            );
            println!("organisation id: {}", org.id);
            println!("admin token: {}", issued.secret.expose_secret());
            println!("The token is shown once; only its SHA-256 is stored.");
        }
        MemberCommand::List { org } => {
            let org = find_org(store, &org).await?;
            for m in store.list_members(&org.id).await? {
                println!("{}  {}  {}", m.user_id, m.email, m.role.as_str());
            }
        }
        MemberCommand::SetRole { org, user, role } => {
            let org = find_org(store, &org).await?;
            let role = parse_role(&role)?;
            let member = find_member(store, &org, &user).await?;
            membership::set_role(store, &org.id, &member.user_id, role)
                .await
                .map_err(|e| anyhow!(e.message))?;
            audit(
                store,
                &org,
                "member.role_change",
                &member.user_id,
                serde_json::json!({ "from": member.role.as_str(), "to": role.as_str() }),
            )
            .await;
            println!("{} is now {}", member.user_id, role.as_str());
        }
        MemberCommand::Remove { org, user } => {
            let org = find_org(store, &org).await?;
            let member = find_member(store, &org, &user).await?;
            membership::remove_member(store, &org.id, &member.user_id, now)
                .await
                .map_err(|e| anyhow!(e.message))?;
            audit(
                store,
                &org,
                "member.remove",
                &member.user_id,
                serde_json::json!({ "role": member.role.as_str() }),
            )
            .await;
            println!("{} removed; its admin tokens are revoked", member.user_id);
        }
    }
    Ok(())
}
