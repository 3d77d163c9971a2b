//! Teams of an organization: create, rename, delete and their members.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::organizations::{resolve, Organization};
use super::power;
use crate::admin::validate::{long_text, text};
use crate::admin::{resolve_user, snapshot};
use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Tx};
use crate::error::{Error, Result};
use crate::params;

/// A team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Team {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// Members' emails (read apart from the team's row).
    #[serde(default)]
    pub members: Vec<String>,
    pub created_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

pub(super) async fn teams(tx: &mut Tx, org: Uuid) -> Result<Vec<Team>> {
    let mut out: Vec<Team> = tx
        .query_as(r#"SELECT "id", "organization_id", "name", "description", "created_at", "deleted_at" FROM "Team" WHERE "organization_id" = $1 AND "deleted_at" IS NULL ORDER BY "name""#, &params![org])
        .await?;
    for t in &mut out {
        t.members = tx
            .query_as(r#"SELECT u."email" FROM "TeamMember" tm JOIN "User" u ON u."id" = tm."user_id" WHERE tm."team_id" = $1 AND tm."deleted_at" IS NULL ORDER BY u."email""#, &params![t.id])
            .await?;
    }
    Ok(out)
}

/// Resolves a live team of an organization the operator may manage (OWNER, ADMIN or MANAGER).
async fn resolve_team(
    tx: &mut Tx,
    op: &Operator,
    org: &str,
    team: &str,
) -> Result<(Organization, Uuid, String)> {
    let o = resolve(tx, op, org).await?;
    power::require(tx, op, o.id, power::MANAGE).await?;
    let (id, name): (Uuid, String) = match Uuid::parse_str(team.trim()) {
        Ok(id) => tx.query_opt_as(r#"SELECT "id", "name" FROM "Team" WHERE "id" = $1 AND "organization_id" = $2 AND "deleted_at" IS NULL"#, &params![id, o.id]).await?,
        Err(_) => tx.query_opt_as(r#"SELECT "id", "name" FROM "Team" WHERE "name" = $1 AND "organization_id" = $2 AND "deleted_at" IS NULL"#, &params![team.trim(), o.id]).await?,
    }
    .ok_or_else(|| Error::not_found("team", team))?;
    Ok((o, id, name))
}

/// Lists an organization's teams with their members.
pub async fn list_teams(db: &Db, op: &Operator, org: &str) -> Result<Vec<Team>> {
    op.require(perm::TEAMS_READ)?;
    let mut tx = db.begin_read().await?;
    let o = resolve(&mut tx, op, org).await?;
    let t = teams(&mut tx, o.id).await?;
    tx.rollback().await?;
    Ok(t)
}

/// Creates a team (name unique among the organization's live teams).
pub async fn create_team(
    db: &Db,
    op: &Operator,
    org: &str,
    name: &str,
    description: Option<&str>,
) -> Result<Team> {
    op.require(perm::TEAMS_WRITE)?;
    let name = text("name", name, 255)?;
    let description = description
        .map(|d| long_text("description", d, 10_000))
        .transpose()?;
    let mut tx = db.begin().await?;
    let o = resolve(&mut tx, op, org).await?;
    power::require(&mut tx, op, o.id, power::MANAGE).await?;
    if o.deleted_at.is_some() {
        return Err(Error::invalid(
            "organization",
            "is deleted; restore it first",
        ));
    }
    if tx.query_opt(r#"SELECT 1 AS x FROM "Team" WHERE "organization_id" = $1 AND "name" = $2 AND "deleted_at" IS NULL"#, &params![o.id, name.as_str()]).await?.is_some() {
        return Err(Error::conflict("name", format!("the organization already has a team named {name}")));
    }
    let t0 = now();
    let team = Team {
        id: Uuid::new_v4(),
        organization_id: o.id,
        name,
        description,
        members: vec![],
        created_at: t0,
        deleted_at: None,
    };
    tx.execute(
        r#"INSERT INTO "Team" ("id", "organization_id", "name", "description", "created_at", "updated_at") VALUES ($1, $2, $3, $4, $5, $5)"#,
        &params![team.id, o.id, team.name.as_str(), team.description.clone(), t0],
    )
    .await?;
    audit::record(&mut tx, op, Entry { action: "TEAM_CREATE", table: "Team", target_id: Some(team.id), old: None, new: Some(serde_json::json!({ "organization_id": o.id, "name": team.name, "description": team.description })) }).await?;
    tx.commit().await?;
    Ok(team)
}

/// Renames a team.
pub async fn rename_team(db: &Db, op: &Operator, org: &str, team: &str, name: &str) -> Result<()> {
    op.require(perm::TEAMS_WRITE)?;
    let name = text("name", name, 255)?;
    let mut tx = db.begin().await?;
    let (o, tid, old) = resolve_team(&mut tx, op, org, team).await?;
    if old == name {
        return Ok(());
    }
    if tx.query_opt(r#"SELECT 1 AS x FROM "Team" WHERE "organization_id" = $1 AND "name" = $2 AND "deleted_at" IS NULL"#, &params![o.id, name.as_str()]).await?.is_some() {
        return Err(Error::conflict("name", format!("the organization already has a team named {name}")));
    }
    let n = tx
        .execute(
            r#"UPDATE "Team" SET "name" = $2, "updated_at" = $3 WHERE "id" = $1"#,
            &params![tid, name.as_str(), now()],
        )
        .await?;
    power::touched(n, power::MANAGE)?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "TEAM_RENAME",
            table: "Team",
            target_id: Some(tid),
            old: Some(serde_json::json!({ "name": old })),
            new: Some(serde_json::json!({ "name": name })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a team (soft).
pub async fn delete_team(db: &Db, op: &Operator, org: &str, team: &str) -> Result<()> {
    op.require(perm::TEAMS_WRITE)?;
    let mut tx = db.begin().await?;
    let (_, tid, name) = resolve_team(&mut tx, op, org, team).await?;
    let t0 = now();
    let n = tx
        .execute(
            r#"UPDATE "Team" SET "deleted_at" = $2, "updated_at" = $2 WHERE "id" = $1"#,
            &params![tid, t0],
        )
        .await?;
    power::touched(n, power::MANAGE)?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "TEAM_DELETE",
            table: "Team",
            target_id: Some(tid),
            old: Some(serde_json::json!({ "name": name, "deleted_at": null })),
            new: Some(serde_json::json!({ "deleted_at": snapshot(&t0) })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds (`add = true`) or removes a team member. Members must belong to the organization.
pub async fn team_member(
    db: &Db,
    op: &Operator,
    org: &str,
    team: &str,
    user: &str,
    add: bool,
) -> Result<()> {
    op.require(perm::TEAMS_WRITE)?;
    let mut tx = db.begin().await?;
    let (o, tid, _) = resolve_team(&mut tx, op, org, team).await?;
    let uid = resolve_user(&mut tx, user).await?;
    let existing: Option<Option<NaiveDateTime>> = tx
        .query_opt_as(
            r#"SELECT "deleted_at" FROM "TeamMember" WHERE "team_id" = $1 AND "user_id" = $2"#,
            &params![tid, uid],
        )
        .await?;
    let active = matches!(existing, Some(None));
    if add {
        if active {
            return Err(Error::conflict(
                "member",
                format!("{user} is already in the team"),
            ));
        }
        let member = tx
            .query_opt(r#"SELECT 1 AS x FROM "OrganizationMember" WHERE "organization_id" = $1 AND "user_id" = $2 AND "deleted_at" IS NULL"#, &params![o.id, uid])
            .await?;
        if member.is_none() && uid != o.owner_id {
            return Err(Error::invalid(
                "member",
                format!(
                    "{user} is not a member of {}; add them to the organization first",
                    o.slug
                ),
            ));
        }
        if existing.is_some() {
            let n = tx.execute(r#"UPDATE "TeamMember" SET "deleted_at" = NULL, "joined_at" = $3 WHERE "team_id" = $1 AND "user_id" = $2"#, &params![tid, uid, now()]).await?;
            power::touched(n, power::MANAGE)?;
        } else {
            tx.execute(r#"INSERT INTO "TeamMember" ("team_id", "user_id", "joined_at") VALUES ($1, $2, $3)"#, &params![tid, uid, now()]).await?;
        }
    } else {
        if !active {
            return Err(Error::not_found("team member", user));
        }
        let n = tx.execute(
            r#"UPDATE "TeamMember" SET "deleted_at" = $3 WHERE "team_id" = $1 AND "user_id" = $2"#,
            &params![tid, uid, now()],
        )
        .await?;
        power::touched(n, power::MANAGE)?;
    }
    let (action, old, new) = if add {
        (
            "TEAM_MEMBER_ADD",
            None,
            Some(serde_json::json!({ "user_id": uid })),
        )
    } else {
        (
            "TEAM_MEMBER_REMOVE",
            Some(serde_json::json!({ "user_id": uid })),
            None,
        )
    };
    audit::record(
        &mut tx,
        op,
        Entry {
            action,
            table: "TeamMember",
            target_id: Some(tid),
            old,
            new,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
