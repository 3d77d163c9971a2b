//! Organizations, their members and teams: create (validated unique slug), rename, settings,
//! ownership transfer, soft delete/restore; members add/role/remove; teams create/rename/
//! delete and their members. Every change audited in its transaction.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::validate::{check_object, long_text, slug as valid_slug, text};
use super::{limit, page_of as page, resolve_user, snapshot, Cursor, Page, Where};
use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Row, Tx};
use crate::error::{Error, Result};
use crate::model::OrgRole;
use crate::params;

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub owner_id: Uuid,
    pub settings: serde_json::Value,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

const COLS: &str = r#"o."id", o."name", o."slug", o."owner_id", o."settings", o."created_at", o."updated_at", o."deleted_at""#;

impl Organization {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(Organization {
            id: r.uuid("id")?,
            name: r.text("name")?,
            slug: r.text("slug")?,
            owner_id: r.uuid("owner_id")?,
            settings: r
                .opt_json("settings")?
                .unwrap_or_else(|| serde_json::json!({})),
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
            deleted_at: r.opt_ts("deleted_at")?,
        })
    }

    fn audit_view(&self) -> serde_json::Value {
        let mut v = snapshot(self);
        if let Some(m) = v.as_object_mut() {
            m.remove("updated_at");
        }
        v
    }
}

/// Resolves an organization given as id or slug (deleted ones included).
pub async fn resolve(tx: &mut Tx, id_or_slug: &str) -> Result<Organization> {
    let s = id_or_slug.trim();
    let row = match Uuid::parse_str(s) {
        Ok(id) => {
            tx.query_opt(
                &format!(r#"SELECT {COLS} FROM "Organization" o WHERE o."id" = $1"#),
                &params![id],
            )
            .await?
        }
        Err(_) => {
            tx.query_opt(
                &format!(r#"SELECT {COLS} FROM "Organization" o WHERE o."slug" = $1"#),
                &params![s],
            )
            .await?
        }
    };
    Organization::from_row(&row.ok_or_else(|| Error::not_found("organization", s))?)
}

/// Lists organizations, newest first.
pub async fn list(
    db: &Db,
    op: &Operator,
    search: Option<&str>,
    include_deleted: bool,
    lim: u32,
    after: Option<&str>,
) -> Result<Page<Organization>> {
    op.require(perm::ORGS_READ)?;
    let lim = limit(lim)?;
    let mut w = Where::default();
    if !include_deleted {
        w.clauses.push(r#"o."deleted_at" IS NULL"#.into());
    }
    if let Some(s) = search.filter(|s| !s.trim().is_empty()) {
        let pat = super::like_pattern(s.trim());
        let a = w.param(pat.clone());
        let b = w.param(pat);
        w.clauses.push(format!(
            r#"(o."name" ILIKE {a} ESCAPE '\' OR o."slug" ILIKE {b} ESCAPE '\')"#
        ));
    }
    if let Some(c) = after {
        w.before(r#"o."created_at""#, r#"o."id""#, &Cursor::decode(c)?);
    }
    let sql = format!(
        r#"SELECT {COLS} FROM "Organization" o {} ORDER BY o."created_at" DESC, o."id" DESC LIMIT {}"#,
        w.sql(),
        lim + 1
    );
    let mut tx = db.begin().await?;
    let rows = tx.query(&sql, &w.params).await?;
    tx.rollback().await?;
    let items = rows
        .iter()
        .map(Organization::from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page(items, lim, |o| Cursor {
        ts: o.created_at,
        id: o.id,
    }))
}

/// An organization with its members and teams.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct OrgDetail {
    pub organization: Organization,
    pub owner_email: String,
    pub members: Vec<Member>,
    pub teams: Vec<Team>,
    pub projects: i64,
}

/// A member of an organization.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Member {
    pub id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub role: OrgRole,
    pub joined_at: NaiveDateTime,
}

/// A team.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Team {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub members: Vec<String>,
    pub created_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

async fn members(tx: &mut Tx, org: Uuid) -> Result<Vec<Member>> {
    tx.query(
        r#"SELECT m."id", m."user_id", u."email", m."role"::text AS role, m."joined_at" FROM "OrganizationMember" m
           JOIN "User" u ON u."id" = m."user_id" WHERE m."organization_id" = $1 AND m."deleted_at" IS NULL ORDER BY m."joined_at", m."id""#,
        &params![org],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Member { id: r.uuid("id")?, user_id: r.uuid("user_id")?, email: r.text("email")?, role: OrgRole::parse(&r.text("role")?)?, joined_at: r.ts("joined_at")? })
    })
    .collect()
}

async fn teams(tx: &mut Tx, org: Uuid) -> Result<Vec<Team>> {
    let rows = tx
        .query(r#"SELECT "id", "organization_id", "name", "description", "created_at", "deleted_at" FROM "Team" WHERE "organization_id" = $1 AND "deleted_at" IS NULL ORDER BY "name""#, &params![org])
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let id = r.uuid("id")?;
        let members = tx
            .query(r#"SELECT u."email" FROM "TeamMember" tm JOIN "User" u ON u."id" = tm."user_id" WHERE tm."team_id" = $1 AND tm."deleted_at" IS NULL ORDER BY u."email""#, &params![id])
            .await?
            .iter()
            .map(|m| m.text("email"))
            .collect::<Result<Vec<_>>>()?;
        out.push(Team {
            id,
            organization_id: r.uuid("organization_id")?,
            name: r.text("name")?,
            description: r.opt_text("description")?,
            members,
            created_at: r.ts("created_at")?,
            deleted_at: r.opt_ts("deleted_at")?,
        });
    }
    Ok(out)
}

/// Shows one organization (by id or slug).
pub async fn get(db: &Db, op: &Operator, id_or_slug: &str) -> Result<OrgDetail> {
    op.require(perm::ORGS_READ)?;
    let mut tx = db.begin().await?;
    let organization = resolve(&mut tx, id_or_slug).await?;
    let owner_email = tx
        .query_one(
            r#"SELECT "email" FROM "User" WHERE "id" = $1"#,
            &params![organization.owner_id],
        )
        .await?
        .text("email")?;
    let members = members(&mut tx, organization.id).await?;
    let teams = teams(&mut tx, organization.id).await?;
    let projects = tx
        .query_one(r#"SELECT count(*) AS n FROM "Project" WHERE "organization_id" = $1 AND "deleted_at" IS NULL"#, &params![organization.id])
        .await?
        .int("n")?;
    tx.rollback().await?;
    Ok(OrgDetail {
        organization,
        owner_email,
        members,
        teams,
        projects,
    })
}

async fn active_user(tx: &mut Tx, id_or_email: &str) -> Result<Uuid> {
    let id = resolve_user(tx, id_or_email).await?;
    let r = tx
        .query_one(
            r#"SELECT "deleted_at" FROM "User" WHERE "id" = $1"#,
            &params![id],
        )
        .await?;
    if r.opt_ts("deleted_at")?.is_some() {
        return Err(Error::invalid(
            "user",
            format!("{id_or_email} is deleted; restore the user first"),
        ));
    }
    Ok(id)
}

async fn upsert_member(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    role: OrgRole,
) -> Result<Option<(Option<OrgRole>, Uuid)>> {
    let existing = tx
        .query_opt(r#"SELECT "id", "role"::text AS role, "deleted_at" FROM "OrganizationMember" WHERE "organization_id" = $1 AND "user_id" = $2"#, &params![org, user])
        .await?;
    match existing {
        Some(r) => {
            let id = r.uuid("id")?;
            let old_role = OrgRole::parse(&r.text("role")?)?;
            let was_removed = r.opt_ts("deleted_at")?.is_some();
            if !was_removed && old_role == role {
                return Ok(None);
            }
            tx.execute(r#"UPDATE "OrganizationMember" SET "role" = $2::"OrgRole", "deleted_at" = NULL WHERE "id" = $1"#, &params![id, role]).await?;
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

/// Creates an organization owned by `owner` (who becomes an OWNER member).
pub async fn create(
    db: &Db,
    op: &Operator,
    name: &str,
    slug: &str,
    owner: &str,
    settings: Option<serde_json::Value>,
) -> Result<Organization> {
    op.require(perm::ORGS_WRITE)?;
    let name = text("name", name, 255)?;
    let slug = valid_slug(slug)?;
    let settings = check_object(
        "settings",
        settings.unwrap_or_else(|| serde_json::json!({})),
    )?;
    let mut tx = db.begin().await?;
    let owner_id = active_user(&mut tx, owner).await?;
    if tx
        .query_opt(
            r#"SELECT 1 AS x FROM "Organization" WHERE "slug" = $1"#,
            &params![slug.as_str()],
        )
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "slug",
            format!("the slug {slug} is already taken"),
        ));
    }
    let t0 = now();
    let org = Organization {
        id: Uuid::new_v4(),
        name,
        slug,
        owner_id,
        settings,
        created_at: t0,
        updated_at: t0,
        deleted_at: None,
    };
    tx.execute(
        r#"INSERT INTO "Organization" ("id", "name", "slug", "owner_id", "settings", "created_at", "updated_at") VALUES ($1, $2, $3, $4, $5, $6, $6)"#,
        &params![org.id, org.name.as_str(), org.slug.as_str(), owner_id, org.settings.clone(), t0],
    )
    .await?;
    upsert_member(&mut tx, org.id, owner_id, OrgRole::OWNER).await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "ORG_CREATE",
            table: "Organization",
            target_id: Some(org.id),
            old: None,
            new: Some(org.audit_view()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(org)
}

async fn change(
    db: &Db,
    op: &Operator,
    id_or_slug: &str,
    action: &str,
    f: impl AsyncFnOnce(&mut Tx, &mut Organization) -> Result<()>,
) -> Result<Organization> {
    op.require(perm::ORGS_WRITE)?;
    let mut tx = db.begin().await?;
    let old = resolve(&mut tx, id_or_slug).await?;
    let mut new = old.clone();
    f(&mut tx, &mut new).await?;
    if new == old {
        tx.rollback().await?;
        return Ok(old);
    }
    new.updated_at = now();
    let n = tx.execute(
        r#"UPDATE "Organization" SET "name" = $2, "owner_id" = $3, "settings" = $4, "updated_at" = $5, "deleted_at" = $6 WHERE "id" = $1"#,
        &params![new.id, new.name.as_str(), new.owner_id, new.settings.clone(), new.updated_at, new.deleted_at],
    )
    .await?;
    // Row-Level Security hides the row from an operator without power in this organization.
    if n == 0 {
        return Err(Error::Forbidden {
            permission: "the OWNER or ADMIN role in this organization".into(),
        });
    }
    audit::record_change(
        &mut tx,
        op,
        action,
        "Organization",
        new.id,
        &old.audit_view(),
        &new.audit_view(),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Renames an organization.
pub async fn rename(db: &Db, op: &Operator, id_or_slug: &str, name: &str) -> Result<Organization> {
    let name = text("name", name, 255)?;
    change(db, op, id_or_slug, "ORG_RENAME", async |_, o| {
        o.name = name;
        Ok(())
    })
    .await
}

/// Replaces an organization's settings JSON (must be an object).
pub async fn set_settings(
    db: &Db,
    op: &Operator,
    id_or_slug: &str,
    settings: serde_json::Value,
) -> Result<Organization> {
    let settings = check_object("settings", settings)?;
    change(db, op, id_or_slug, "ORG_SETTINGS", async |_, o| {
        o.settings = settings;
        Ok(())
    })
    .await
}

/// Transfers ownership to another active user (made OWNER member; the old owner becomes ADMIN).
pub async fn transfer(
    db: &Db,
    op: &Operator,
    id_or_slug: &str,
    new_owner: &str,
) -> Result<Organization> {
    let new_owner = new_owner.to_owned();
    change(db, op, id_or_slug, "ORG_TRANSFER", async move |tx, o| {
        let uid = active_user(tx, &new_owner).await?;
        if uid == o.owner_id {
            return Err(Error::conflict("owner", "that user is already the owner"));
        }
        upsert_member(tx, o.id, o.owner_id, OrgRole::ADMIN).await?;
        upsert_member(tx, o.id, uid, OrgRole::OWNER).await?;
        o.owner_id = uid;
        Ok(())
    })
    .await
}

/// Soft-deletes an organization.
pub async fn delete(db: &Db, op: &Operator, id_or_slug: &str) -> Result<Organization> {
    change(db, op, id_or_slug, "ORG_DELETE", async |_, o| {
        if o.deleted_at.is_some() {
            return Err(Error::conflict("organization", "already deleted"));
        }
        o.deleted_at = Some(now());
        Ok(())
    })
    .await
}

/// Restores a soft-deleted organization.
pub async fn restore(db: &Db, op: &Operator, id_or_slug: &str) -> Result<Organization> {
    change(db, op, id_or_slug, "ORG_RESTORE", async |_, o| {
        if o.deleted_at.is_none() {
            return Err(Error::conflict("organization", "is not deleted"));
        }
        o.deleted_at = None;
        Ok(())
    })
    .await
}

/// Lists an organization's members.
pub async fn list_members(db: &Db, op: &Operator, id_or_slug: &str) -> Result<Vec<Member>> {
    op.require(perm::ORGS_READ)?;
    let mut tx = db.begin().await?;
    let org = resolve(&mut tx, id_or_slug).await?;
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
    let org = resolve(&mut tx, id_or_slug).await?;
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
    let org = resolve(&mut tx, id_or_slug).await?;
    let uid = resolve_user(&mut tx, user).await?;
    if uid == org.owner_id {
        return Err(Error::invalid(
            "member",
            "the owner cannot be removed: transfer ownership first",
        ));
    }
    let r = tx
        .query_opt(r#"SELECT "id", "role"::text AS role FROM "OrganizationMember" WHERE "organization_id" = $1 AND "user_id" = $2 AND "deleted_at" IS NULL"#, &params![org.id, uid])
        .await?
        .ok_or_else(|| Error::not_found("member", user))?;
    let mid = r.uuid("id")?;
    tx.execute(
        r#"UPDATE "OrganizationMember" SET "deleted_at" = $2 WHERE "id" = $1"#,
        &params![mid, now()],
    )
    .await?;
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
            old: Some(serde_json::json!({ "user_id": uid, "role": r.text("role")? })),
            new: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn resolve_team(tx: &mut Tx, org: &str, team: &str) -> Result<(Organization, Uuid, String)> {
    let o = resolve(tx, org).await?;
    let row = match Uuid::parse_str(team.trim()) {
        Ok(id) => tx.query_opt(r#"SELECT "id", "name" FROM "Team" WHERE "id" = $1 AND "organization_id" = $2 AND "deleted_at" IS NULL"#, &params![id, o.id]).await?,
        Err(_) => tx.query_opt(r#"SELECT "id", "name" FROM "Team" WHERE "name" = $1 AND "organization_id" = $2 AND "deleted_at" IS NULL"#, &params![team.trim(), o.id]).await?,
    }
    .ok_or_else(|| Error::not_found("team", team))?;
    Ok((o, row.uuid("id")?, row.text("name")?))
}

/// Lists an organization's teams with their members.
pub async fn list_teams(db: &Db, op: &Operator, org: &str) -> Result<Vec<Team>> {
    op.require(perm::TEAMS_READ)?;
    let mut tx = db.begin().await?;
    let o = resolve(&mut tx, org).await?;
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
    let o = resolve(&mut tx, org).await?;
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
    let (o, tid, old) = resolve_team(&mut tx, org, team).await?;
    if old == name {
        return Ok(());
    }
    if tx.query_opt(r#"SELECT 1 AS x FROM "Team" WHERE "organization_id" = $1 AND "name" = $2 AND "deleted_at" IS NULL"#, &params![o.id, name.as_str()]).await?.is_some() {
        return Err(Error::conflict("name", format!("the organization already has a team named {name}")));
    }
    tx.execute(
        r#"UPDATE "Team" SET "name" = $2, "updated_at" = $3 WHERE "id" = $1"#,
        &params![tid, name.as_str(), now()],
    )
    .await?;
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
    let (_, tid, name) = resolve_team(&mut tx, org, team).await?;
    let t0 = now();
    tx.execute(
        r#"UPDATE "Team" SET "deleted_at" = $2, "updated_at" = $2 WHERE "id" = $1"#,
        &params![tid, t0],
    )
    .await?;
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
    let (o, tid, _) = resolve_team(&mut tx, org, team).await?;
    let uid = resolve_user(&mut tx, user).await?;
    let existing = tx
        .query_opt(
            r#"SELECT "deleted_at" FROM "TeamMember" WHERE "team_id" = $1 AND "user_id" = $2"#,
            &params![tid, uid],
        )
        .await?;
    let active = match &existing {
        Some(r) => r.opt_ts("deleted_at")?.is_none(),
        None => false,
    };
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
            tx.execute(r#"UPDATE "TeamMember" SET "deleted_at" = NULL, "joined_at" = $3 WHERE "team_id" = $1 AND "user_id" = $2"#, &params![tid, uid, now()]).await?;
        } else {
            tx.execute(r#"INSERT INTO "TeamMember" ("team_id", "user_id", "joined_at") VALUES ($1, $2, $3)"#, &params![tid, uid, now()]).await?;
        }
    } else {
        if !active {
            return Err(Error::not_found("team member", user));
        }
        tx.execute(
            r#"UPDATE "TeamMember" SET "deleted_at" = $3 WHERE "team_id" = $1 AND "user_id" = $2"#,
            &params![tid, uid, now()],
        )
        .await?;
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
