//! The rules of membership, shared by the admin API and the CLI: adding a member issues its
//! admin token (the secret returned once); an organisation always keeps at least one owner;
//! removing a member revokes its tokens; rotating a token revokes the member's others.
//!
//! The last-owner check reads the member list, then writes: two owners demoting each other at
//! the same instant could both pass it. Owners are few and such changes rare, so the check is
//! not made atomic in the store.

use gateway_core::{ApiError, ErrorKind};
use gateway_store::model::admin_token::{AdminToken, IssuedAdminToken};
use gateway_store::model::id::new_id;
use gateway_store::model::member::{Member, Role};
use gateway_store::{Store, Timestamp};

use crate::admin::errors::from_store;

/// Adds a member with `role` and issues its first admin token. `user_id` defaults to a new
/// `usr_…` id.
pub async fn add_member(
    store: &dyn Store,
    org_id: &str,
    email: &str,
    role: Role,
    user_id: Option<String>,
    now: Timestamp,
) -> Result<(Member, IssuedAdminToken), ApiError> {
    let email = email.trim();
    if email.is_empty() || !email.contains('@') || email.len() > 320 {
        return Err(ApiError::invalid_param(
            "email",
            "`email` must be an email address.",
        ));
    }
    let user_id = user_id.unwrap_or_else(|| new_id("usr"));
    check_user_id(&user_id)?;
    let member = Member {
        org_id: org_id.to_owned(),
        user_id,
        email: email.to_owned(),
        role,
        added_at: now,
    };
    if store
        .list_members(org_id)
        .await
        .map_err(from_store)?
        .iter()
        .any(|m| m.email.eq_ignore_ascii_case(&member.email))
    {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!("{} is already a member.", member.email),
        )
        .with_param("email")
        .with_code("member_exists"));
    }
    store.add_member(&member).await.map_err(from_store)?;
    let issued = AdminToken::issue(org_id, &member.user_id, now);
    store
        .insert_admin_token(&issued.token)
        .await
        .map_err(from_store)?;
    Ok((member, issued))
}

/// User ids appear in paths and in the DynamoDB sort keys: letters, digits and `._@-` only.
fn check_user_id(user_id: &str) -> Result<(), ApiError> {
    let valid = !user_id.is_empty()
        && user_id.len() <= 128
        && user_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_param(
            "user_id",
            "`user_id` must be 1 to 128 letters, digits, `.`, `_`, `@` or `-`.",
        ))
    }
}

/// Changes a member's role; refuses to demote the last owner.
pub async fn set_role(
    store: &dyn Store,
    org_id: &str,
    user_id: &str,
    role: Role,
) -> Result<Member, ApiError> {
    let mut member = store
        .get_member(org_id, user_id)
        .await
        .map_err(from_store)?;
    if member.role == Role::Owner && role != Role::Owner {
        ensure_another_owner(store, org_id, user_id).await?;
    }
    store
        .set_member_role(org_id, user_id, role)
        .await
        .map_err(from_store)?;
    member.role = role;
    Ok(member)
}

/// Removes a member and revokes its admin tokens; refuses to remove the last owner.
pub async fn remove_member(
    store: &dyn Store,
    org_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<Member, ApiError> {
    let member = store
        .get_member(org_id, user_id)
        .await
        .map_err(from_store)?;
    if member.role == Role::Owner {
        ensure_another_owner(store, org_id, user_id).await?;
    }
    revoke_tokens(store, org_id, user_id, None, now).await?;
    store
        .remove_member(org_id, user_id)
        .await
        .map_err(from_store)?;
    Ok(member)
}

/// Issues a new admin token for a member and revokes the member's other tokens.
pub async fn rotate_token(
    store: &dyn Store,
    org_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<IssuedAdminToken, ApiError> {
    store
        .get_member(org_id, user_id)
        .await
        .map_err(from_store)?;
    let issued = AdminToken::issue(org_id, user_id, now);
    store
        .insert_admin_token(&issued.token)
        .await
        .map_err(from_store)?;
    revoke_tokens(store, org_id, user_id, Some(&issued.token.id), now).await?;
    Ok(issued)
}

async fn revoke_tokens(
    store: &dyn Store,
    org_id: &str,
    user_id: &str,
    keep: Option<&str>,
    now: Timestamp,
) -> Result<(), ApiError> {
    let tokens = store
        .list_admin_tokens(org_id, user_id)
        .await
        .map_err(from_store)?;
    for token in tokens {
        if !token.is_revoked() && Some(token.id.as_str()) != keep {
            store
                .revoke_admin_token(org_id, user_id, &token.id, now)
                .await
                .map_err(from_store)?;
        }
    }
    Ok(())
}

async fn ensure_another_owner(
    store: &dyn Store,
    org_id: &str,
    user_id: &str,
) -> Result<(), ApiError> {
    let members = store.list_members(org_id).await.map_err(from_store)?;
    if members
        .iter()
        .any(|m| m.role == Role::Owner && m.user_id != user_id)
    {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::Conflict,
            "An organisation keeps at least one owner: make another member owner first.",
        )
        .with_code("last_owner"))
    }
}
