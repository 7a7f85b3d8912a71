//! `OrgStore` on SQLite: organisations as JSON with a unique name column; members by row.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use crate::error::{StoreError, StoreResult};
use crate::model::member::{Member, Role};
use crate::model::org::Organization;
use crate::ports::OrgStore;
use crate::sqlite::{SqliteStore, conflict_or_backend, sqlite_error};
use crate::time::Timestamp;

fn org_from_body(body: Option<String>, what: &str) -> StoreResult<Organization> {
    let body = body.ok_or_else(|| StoreError::NotFound(what.to_owned()))?;
    Ok(serde_json::from_str(&body)?)
}

fn member_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Member, String)> {
    let role: String = row.get(3)?;
    Ok((
        Member {
            org_id: row.get(0)?,
            user_id: row.get(1)?,
            email: row.get(2)?,
            role: Role::Viewer,
            added_at: Timestamp(row.get(4)?),
        },
        role,
    ))
}

fn with_role((mut member, role): (Member, String)) -> StoreResult<Member> {
    member.role =
        Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?;
    Ok(member)
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        org.validate()?;
        let (id, name, body) = (
            org.id.clone(),
            org.name.clone(),
            serde_json::to_string(org)?,
        );
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO orgs (id, name, body) VALUES (?1, ?2, ?3)",
                params![id, name, body],
            )
            .map_err(|e| {
                conflict_or_backend(e, &format!("organisation {id} or name {name:?} exists"))
            })?;
            Ok(())
        })
        .await
    }

    async fn get_org(&self, org_id: &str) -> StoreResult<Organization> {
        let id = org_id.to_owned();
        self.call(move |conn| {
            let body = conn
                .query_row("SELECT body FROM orgs WHERE id = ?1", [&id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(sqlite_error)?;
            org_from_body(body, &format!("organisation {id}"))
        })
        .await
    }

    async fn find_org_by_name(&self, name: &str) -> StoreResult<Organization> {
        let name = name.to_owned();
        self.call(move |conn| {
            let body = conn
                .query_row("SELECT body FROM orgs WHERE name = ?1", [&name], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(sqlite_error)?;
            org_from_body(body, &format!("organisation named {name:?}"))
        })
        .await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        self.call(|conn| {
            let mut statement = conn
                .prepare("SELECT body FROM orgs ORDER BY id")
                .map_err(sqlite_error)?;
            let bodies = statement
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(sqlite_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(sqlite_error)?;
            bodies
                .iter()
                .map(|body| Ok(serde_json::from_str(body)?))
                .collect()
        })
        .await
    }

    async fn update_org(&self, org: &Organization) -> StoreResult<()> {
        org.validate()?;
        let (id, name, body) = (
            org.id.clone(),
            org.name.clone(),
            serde_json::to_string(org)?,
        );
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE orgs SET name = ?2, body = ?3 WHERE id = ?1",
                    params![id, name, body],
                )
                .map_err(|e| {
                    conflict_or_backend(e, &format!("organisation name {name:?} exists"))
                })?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("organisation {id}")));
            }
            Ok(())
        })
        .await
    }

    async fn add_member(&self, member: &Member) -> StoreResult<()> {
        let m = member.clone();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(sqlite_error)?;
            let org_exists = tx
                .query_row("SELECT 1 FROM orgs WHERE id = ?1", [&m.org_id], |_| Ok(()))
                .optional()
                .map_err(sqlite_error)?
                .is_some();
            if !org_exists {
                return Err(StoreError::NotFound(format!("organisation {}", m.org_id)));
            }
            tx.execute(
                "INSERT INTO members (org_id, user_id, email, role, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![m.org_id, m.user_id, m.email, m.role.as_str(), m.added_at.millis()],
            )
            .map_err(|e| conflict_or_backend(e, &format!("{} is already a member of {}", m.user_id, m.org_id)))?;
            tx.commit().map_err(sqlite_error)
        })
        .await
    }

    async fn get_member(&self, org_id: &str, user_id: &str) -> StoreResult<Member> {
        let (org_id, user_id) = (org_id.to_owned(), user_id.to_owned());
        self.call(move |conn| {
            let row = conn
                .query_row(
                    "SELECT org_id, user_id, email, role, added_at FROM members WHERE org_id = ?1 AND user_id = ?2",
                    [&org_id, &user_id],
                    member_from_row,
                )
                .optional()
                .map_err(sqlite_error)?
                .ok_or_else(|| StoreError::NotFound(format!("member {user_id} of {org_id}")))?;
            with_role(row)
        })
        .await
    }

    async fn list_members(&self, org_id: &str) -> StoreResult<Vec<Member>> {
        let org_id = org_id.to_owned();
        self.call(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT org_id, user_id, email, role, added_at FROM members WHERE org_id = ?1 ORDER BY user_id",
                )
                .map_err(sqlite_error)?;
            let rows = stmt
                .query_map([&org_id], member_from_row)
                .map_err(sqlite_error)?;
            rows.map(|row| row.map_err(sqlite_error).and_then(with_role))
                .collect()
        })
        .await
    }

    async fn set_member_role(&self, org_id: &str, user_id: &str, role: Role) -> StoreResult<()> {
        let (org_id, user_id) = (org_id.to_owned(), user_id.to_owned());
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE members SET role = ?3 WHERE org_id = ?1 AND user_id = ?2",
                    params![org_id, user_id, role.as_str()],
                )
                .map_err(sqlite_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!(
                    "member {user_id} of {org_id}"
                )));
            }
            Ok(())
        })
        .await
    }

    async fn remove_member(&self, org_id: &str, user_id: &str) -> StoreResult<()> {
        let (org_id, user_id) = (org_id.to_owned(), user_id.to_owned());
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM members WHERE org_id = ?1 AND user_id = ?2",
                    [&org_id, &user_id],
                )
                .map_err(sqlite_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!(
                    "member {user_id} of {org_id}"
                )));
            }
            Ok(())
        })
        .await
    }
}
