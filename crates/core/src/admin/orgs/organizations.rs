//! Organizations: the row, resolve and list, detail, create (validated unique slug), rename,
//! settings, ownership transfer, soft delete/restore.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::members::{active_user, members, upsert_member, Member};
use super::power;
use super::teams::{teams, Team};
use crate::admin::validate::{check_object, slug as valid_slug, text};
use crate::admin::{limit, page_of as page, snapshot, Cursor, Page, Where};
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

const COLS: &str = r#"o."id", o."name", o."slug", o."owner_id", COALESCE(o."settings", '{}') AS settings, o."created_at", o."updated_at", o."deleted_at""#;

impl Organization {
    /// A row of [`COLS`].
    fn from_row(r: &Row) -> Result<Self> {
        r.decode()
    }

    fn audit_view(&self) -> serde_json::Value {
        let mut v = snapshot(self);
        if let Some(m) = v.as_object_mut() {
            m.remove("updated_at");
        }
        v
    }
}

/// Resolves an organization given as id or slug (deleted ones included) that `op` may see: a
/// member or its owner, or any with a global role (else not found, as the row policy hides it).
pub async fn resolve(tx: &mut Tx, op: &Operator, id_or_slug: &str) -> Result<Organization> {
    let o = resolve_any(tx, id_or_slug).await?;
    if op.is_global() || o.owner_id == op.user_id || power::role_in(tx, op, o.id).await?.is_some() {
        Ok(o)
    } else {
        Err(Error::not_found("organization", id_or_slug.trim()))
    }
}

async fn resolve_any(tx: &mut Tx, id_or_slug: &str) -> Result<Organization> {
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
        let pat = crate::admin::like_pattern(s.trim());
        let a = w.param(pat.clone());
        let b = w.param(pat);
        w.clauses.push(format!(
            r#"(o."name" ILIKE {a} ESCAPE '\' OR o."slug" ILIKE {b} ESCAPE '\')"#
        ));
    }
    power::scope_orgs(op, &mut w);
    if let Some(c) = after {
        w.before(r#"o."created_at""#, r#"o."id""#, &Cursor::decode(c)?);
    }
    let sql = format!(
        r#"SELECT {COLS} FROM "Organization" o {} ORDER BY o."created_at" DESC, o."id" DESC LIMIT {}"#,
        w.sql(),
        lim + 1
    );
    let mut tx = db.begin_read().await?;
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

/// Shows one organization (by id or slug).
pub async fn get(db: &Db, op: &Operator, id_or_slug: &str) -> Result<OrgDetail> {
    op.require(perm::ORGS_READ)?;
    let mut tx = db.begin_read().await?;
    let organization = resolve(&mut tx, op, id_or_slug).await?;
    let owner_email = tx
        .query_one_as(
            r#"SELECT "email" FROM "User" WHERE "id" = $1"#,
            &params![organization.owner_id],
        )
        .await?;
    let members = members(&mut tx, organization.id).await?;
    let teams = teams(&mut tx, organization.id).await?;
    let projects = tx
        .query_one_as(r#"SELECT count(*) AS n FROM "Project" WHERE "organization_id" = $1 AND "deleted_at" IS NULL"#, &params![organization.id])
        .await?;
    tx.rollback().await?;
    Ok(OrgDetail {
        organization,
        owner_email,
        members,
        teams,
        projects,
    })
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
    // As the database's row policy has it for an operator's own login (migration 0010).
    if owner_id != op.user_id && !op.is_global() {
        return Err(Error::Forbidden {
            permission: "the ADMIN or SYSTEM role to create an organization owned by someone else (create it as its owner, then transfer it)".into(),
        });
    }
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
    change_then(db, op, id_or_slug, action, f, async |_, _, _| Ok(())).await
}

/// [`change`], then `after` with the updated row before the audit entry and the commit (what
/// must follow the row's update: the owner's own demotion once ownership moved).
async fn change_then(
    db: &Db,
    op: &Operator,
    id_or_slug: &str,
    action: &str,
    f: impl AsyncFnOnce(&mut Tx, &mut Organization) -> Result<()>,
    after: impl AsyncFnOnce(&mut Tx, &Organization, &Organization) -> Result<()>,
) -> Result<Organization> {
    op.require(perm::ORGS_WRITE)?;
    let mut tx = db.begin().await?;
    let old = resolve(&mut tx, op, id_or_slug).await?;
    let mut new = old.clone();
    f(&mut tx, &mut new).await?;
    if new == old {
        tx.rollback().await?;
        return Ok(old);
    }
    // Editing is OWNER's and ADMIN's; moving or deleting it the OWNER's (`ncy_org_guard`).
    let owner_only = new.owner_id != old.owner_id || new.deleted_at != old.deleted_at;
    power::require(
        &mut tx,
        op,
        old.id,
        if owner_only { power::OWN } else { power::EDIT },
    )
    .await?;
    new.updated_at = now();
    let n = tx.execute(
        r#"UPDATE "Organization" SET "name" = $2, "owner_id" = $3, "settings" = $4, "updated_at" = $5, "deleted_at" = $6 WHERE "id" = $1"#,
        &params![new.id, new.name.as_str(), new.owner_id, new.settings.clone(), new.updated_at, new.deleted_at],
    )
    .await?;
    // Row-Level Security hides the row from an operator without power in this organization.
    power::touched(n, power::EDIT)?;
    after(&mut tx, &old, &new).await?;
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
    // The row moves first, while the operator still holds the OWNER membership the database's
    // guard asks for (an owner who is not a global admin); the memberships follow.
    change_then(
        db,
        op,
        id_or_slug,
        "ORG_TRANSFER",
        async move |tx, o| {
            let uid = active_user(tx, &new_owner).await?;
            if uid == o.owner_id {
                return Err(Error::conflict("owner", "that user is already the owner"));
            }
            o.owner_id = uid;
            Ok(())
        },
        async |tx, old, new| {
            upsert_member(tx, new.id, new.owner_id, OrgRole::OWNER).await?;
            upsert_member(tx, old.id, old.owner_id, OrgRole::ADMIN).await?;
            Ok(())
        },
    )
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
