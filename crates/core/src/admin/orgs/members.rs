//! Organization members: list, add or change role, remove.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::organizations::resolve;
use super::power;
use crate::admin::resolve_user;
use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Tx};
use crate::error::{Error, Result};
use crate::model::OrgRole;
use crate::params;

/// A member of an organization.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Member {
    pub id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub role: OrgRole,
    pub joined_at: NaiveDateTime,
}

pub(super) async fn members(tx: &mut Tx, org: Uuid) -> Result<Vec<Member>> {
    tx.query_as(
        r#"SELECT m."id", m."user_id", u."email", m."role"::text AS role, m."joined_at" FROM "OrganizationMember" m
           JOIN "User" u ON u."id" = m."user_id" WHERE m."organization_id" = $1 AND m."deleted_at" IS NULL ORDER BY m."joined_at", m."id""#,
        &params![org],
    )
    .await
}

pub(super) async fn active_user(tx: &mut Tx, id_or_email: &str) -> Result<Uuid> {
    let id = resolve_user(tx, id_or_email).await?;
    let deleted_at: Option<NaiveDateTime> = tx
        .query_one_as(
            r#"SELECT "deleted_at" FROM "User" WHERE "id" = $1"#,
            &params![id],
        )
        .await?;
    if deleted_at.is_some() {
        return Err(Error::invalid(
            "user",
            format!("{id_or_email} is deleted; restore the user first"),
        ));
    }
    Ok(id)
}

pub(super) async fn upsert_member(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    role: OrgRole,
) -> Result<Option<(Option<OrgRole>, Uuid)>> {
    let existing: Option<(Uuid, OrgRole, Option<NaiveDateTime>)> = tx
        .query_opt_as(r#"SELECT "id", "role"::text AS role, "deleted_at" FROM "OrganizationMember" WHERE "organization_id" = $1 AND "user_id" = $2"#, &params![org, user])
        .await?;
    match existing {
        Some((id, old_role, deleted_at)) => {
            let was_removed = deleted_at.is_some();
            if !was_removed && old_role == role {
                return Ok(None);
            }
            let n = tx.execute(r#"UPDATE "OrganizationMember" SET "role" = $2::"OrgRole", "deleted_at" = NULL WHERE "id" = $1"#, &params![id, role]).await?;
            power::touched(n, power::EDIT)?;
            Ok(Some((if was_removed { None } else { Some(old_role) }, id)))
        }
        None => {
            let id = Uuid::new_v4();
            tx.execute(
                r#"INSERT INTO "OrganizationMember" ("id", "organization_id", "user_id", "role", "joined_at") VALUES ($1, $2, $3, $4::"OrgRole", $5)"#,
                &params![id, org, user, role, now()],
            )
            .await?;
            Ok(Some((None, id)))
        }
    }
}

/// Lists an organization's members.
pub async fn list_members(db: &Db, op: &Operator, id_or_slug: &str) -> Result<Vec<Member>> {
    op.require(perm::ORGS_READ)?;
    let mut tx = db.begin_read().await?;
    let org = resolve(&mut tx, op, id_or_slug).await?;
    let m = members(&mut tx, org.id).await?;
    tx.rollback().await?;
    Ok(m)
}

/// Adds a member, or changes the role of an existing one (`OWNER` only through transfer).
pub async fn set_member(
    db: &Db,
    op: &Operator,
    id_or_slug: &str,
    user: &str,
    role: OrgRole,
) -> Result<()> {
    op.require(perm::ORGS_WRITE)?;
    if role == OrgRole::OWNER {
        return Err(Error::invalid(
            "role",
            "an organization has one owner: use `orgs transfer` to change it",
        ));
    }
    let mut tx = db.begin().await?;
    let org = resolve(&mut tx, op, id_or_slug).await?;
    power::require(&mut tx, op, org.id, power::EDIT).await?;
    let uid = active_user(&mut tx, user).await?;
    if uid == org.owner_id {
        return Err(Error::invalid(
            "role",
            "the owner's role cannot change: transfer ownership first",
        ));
    }
    let Some((old_role, member_id)) = upsert_member(&mut tx, org.id, uid, role).await? else {
        return Err(Error::conflict(
            "member",
            format!("{user} is already a member with role {role}"),
        ));
    };
    let action = if old_role.is_some() {
        "ORG_MEMBER_ROLE"
    } else {
        "ORG_MEMBER_ADD"
    };
    audit::record(
        &mut tx,
        op,
        Entry {
            action,
            table: "OrganizationMember",
            target_id: Some(member_id),
            old: old_role.map(|r| serde_json::json!({ "role": r })),
            new: Some(
                serde_json::json!({ "organization_id": org.id, "user_id": uid, "role": role }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a member (soft: the membership row keeps its history). The owner cannot be removed.
pub async fn remove_member(db: &Db, op: &Operator, id_or_slug: &str, user: &str) -> Result<()> {
    op.require(perm::ORGS_WRITE)?;
    let mut tx = db.begin().await?;
    let org = resolve(&mut tx, op, id_or_slug).await?;
    power::require(&mut tx, op, org.id, power::EDIT).await?;
    let uid = resolve_user(&mut tx, user).await?;
    if uid == org.owner_id {
        return Err(Error::invalid(
            "member",
            "the owner cannot be removed: transfer ownership first",
        ));
    }
    let (mid, role): (Uuid, OrgRole) = tx
        .query_opt_as(r#"SELECT "id", "role"::text AS role FROM "OrganizationMember" WHERE "organization_id" = $1 AND "user_id" = $2 AND "deleted_at" IS NULL"#, &params![org.id, uid])
        .await?
        .ok_or_else(|| Error::not_found("member", user))?;
    let n = tx
        .execute(
            r#"UPDATE "OrganizationMember" SET "deleted_at" = $2 WHERE "id" = $1"#,
            &params![mid, now()],
        )
        .await?;
    power::touched(n, power::EDIT)?;
    tx.execute(
        r#"UPDATE "TeamMember" SET "deleted_at" = $3 WHERE "user_id" = $1 AND "deleted_at" IS NULL AND "team_id" IN (SELECT "id" FROM "Team" WHERE "organization_id" = $2)"#,
        &params![uid, org.id, now()],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "ORG_MEMBER_REMOVE",
            table: "OrganizationMember",
            target_id: Some(mid),
            old: Some(serde_json::json!({ "user_id": uid, "role": role })),
            new: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
