//! Projects: list, show, create, edit (name, description, status, settings), archive, soft
//! delete and restore.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::orgs::power;
use super::validate::{check_object, long_text, text};
use super::{limit, orgs, page_of as page, snapshot, Cursor, Page, Where};
use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Row, Tx};
use crate::error::{Error, Result};
use crate::model::{OrgRole, ProjectStatus};
use crate::params;

/// A project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Project {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub status: ProjectStatus,
    pub settings: serde_json::Value,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

const COLS: &str = r#"p."id", p."organization_id", p."name", p."description", p."status"::text AS status, COALESCE(p."settings", '{}') AS settings,
    p."created_at", p."updated_at", p."deleted_at""#;

impl Project {
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

/// A project the operator may see (a member of its organization, or a global role; else not
/// found, as the row policy hides it) and in whose organization they hold one of `roles`.
async fn load(tx: &mut Tx, op: &Operator, id: Uuid, roles: &[OrgRole]) -> Result<Project> {
    let row = tx
        .query_opt(
            &format!(r#"SELECT {COLS} FROM "Project" p WHERE p."id" = $1"#),
            &params![id],
        )
        .await?
        .ok_or_else(|| Error::not_found("project", id))?;
    let p = Project::from_row(&row)?;
    power::check(tx, op, p.organization_id, roles, || {
        Error::not_found("project", id)
    })
    .await?;
    Ok(p)
}

/// Lists projects (optionally of one organization, by id or slug), newest first.
pub async fn list(
    db: &Db,
    op: &Operator,
    org: Option<&str>,
    status: Option<ProjectStatus>,
    include_deleted: bool,
    lim: u32,
    after: Option<&str>,
) -> Result<Page<Project>> {
    op.require(perm::PROJECTS_READ)?;
    let lim = limit(lim)?;
    let mut tx = db.begin_read().await?;
    let mut w = Where::default();
    if let Some(o) = org {
        let o = orgs::resolve(&mut tx, op, o).await?;
        w.push(|p| format!(r#"p."organization_id" = {p}"#), o.id);
    }
    power::scope(op, &mut w, r#"p."organization_id""#, power::READ);
    if !include_deleted {
        w.clauses.push(r#"p."deleted_at" IS NULL"#.into());
    }
    if let Some(s) = status {
        w.push(|p| format!(r#"p."status" = {p}::"ProjectStatus""#), s);
    }
    if let Some(c) = after {
        w.before(r#"p."created_at""#, r#"p."id""#, &Cursor::decode(c)?);
    }
    let sql = format!(
        r#"SELECT {COLS} FROM "Project" p {} ORDER BY p."created_at" DESC, p."id" DESC LIMIT {}"#,
        w.sql(),
        lim + 1
    );
    let rows = tx.query(&sql, &w.params).await?;
    tx.rollback().await?;
    let items = rows
        .iter()
        .map(Project::from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page(items, lim, |p| Cursor {
        ts: p.created_at,
        id: p.id,
    }))
}

/// One project.
pub async fn get(db: &Db, op: &Operator, id: Uuid) -> Result<Project> {
    op.require(perm::PROJECTS_READ)?;
    let mut tx = db.begin_read().await?;
    let p = load(&mut tx, op, id, power::READ).await?;
    tx.rollback().await?;
    Ok(p)
}

/// Creates a project in an organization (id or slug).
pub async fn create(
    db: &Db,
    op: &Operator,
    org: &str,
    name: &str,
    description: Option<&str>,
    settings: Option<serde_json::Value>,
) -> Result<Project> {
    op.require(perm::PROJECTS_WRITE)?;
    let name = text("name", name, 255)?;
    let description = description
        .map(|d| long_text("description", d, 100_000))
        .transpose()?;
    let settings = check_object(
        "settings",
        settings.unwrap_or_else(|| serde_json::json!({})),
    )?;
    let mut tx = db.begin().await?;
    let o = orgs::resolve(&mut tx, op, org).await?;
    power::require(&mut tx, op, o.id, power::MANAGE).await?;
    if o.deleted_at.is_some() {
        return Err(Error::invalid(
            "organization",
            "is deleted; restore it first",
        ));
    }
    let t0 = now();
    let p = Project {
        id: Uuid::new_v4(),
        organization_id: o.id,
        name,
        description,
        status: ProjectStatus::ACTIVE,
        settings,
        created_at: t0,
        updated_at: t0,
        deleted_at: None,
    };
    tx.execute(
        r#"INSERT INTO "Project" ("id", "organization_id", "name", "description", "status", "settings", "created_at", "updated_at")
           VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $6)"#,
        &params![p.id, o.id, p.name.as_str(), p.description.clone(), p.settings.clone(), t0],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "PROJECT_CREATE",
            table: "Project",
            target_id: Some(p.id),
            old: None,
            new: Some(p.audit_view()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// Changes to a project.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<ProjectStatus>,
    pub settings: Option<serde_json::Value>,
}

async fn change(
    db: &Db,
    op: &Operator,
    id: Uuid,
    action: &str,
    f: impl FnOnce(&mut Project) -> Result<()>,
) -> Result<Project> {
    op.require(perm::PROJECTS_WRITE)?;
    let mut tx = db.begin().await?;
    let old = load(&mut tx, op, id, power::MANAGE).await?;
    let mut new = old.clone();
    f(&mut new)?;
    if new == old {
        tx.rollback().await?;
        return Ok(old);
    }
    new.updated_at = now();
    let n = tx.execute(
        r#"UPDATE "Project" SET "name" = $2, "description" = $3, "status" = $4::"ProjectStatus", "settings" = $5, "updated_at" = $6, "deleted_at" = $7 WHERE "id" = $1"#,
        &params![id, new.name.as_str(), new.description.clone(), new.status, new.settings.clone(), new.updated_at, new.deleted_at],
    )
    .await?;
    // Row-Level Security hides the row from an operator's own login without that power.
    power::touched(n, power::MANAGE)?;
    audit::record_change(
        &mut tx,
        op,
        action,
        "Project",
        id,
        &old.audit_view(),
        &new.audit_view(),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Edits a project.
pub async fn update(db: &Db, op: &Operator, id: Uuid, p: &ProjectPatch) -> Result<Project> {
    let name = p
        .name
        .as_deref()
        .map(|n| text("name", n, 255))
        .transpose()?;
    let description = match &p.description {
        Some(Some(d)) => Some(Some(long_text("description", d, 100_000)?)),
        Some(None) => Some(None),
        None => None,
    };
    let settings = p
        .settings
        .clone()
        .map(|s| check_object("settings", s))
        .transpose()?;
    if name.is_none() && description.is_none() && p.status.is_none() && settings.is_none() {
        return Err(Error::invalid("changes", "nothing to change"));
    }
    change(db, op, id, "PROJECT_UPDATE", |x| {
        if let Some(n) = name {
            x.name = n;
        }
        if let Some(d) = description {
            x.description = d;
        }
        if let Some(s) = p.status {
            x.status = s;
        }
        if let Some(s) = settings {
            x.settings = s;
        }
        Ok(())
    })
    .await
}

/// Archives a project (status ARCHIVED).
pub async fn archive(db: &Db, op: &Operator, id: Uuid) -> Result<Project> {
    change(db, op, id, "PROJECT_ARCHIVE", |x| {
        if x.status == ProjectStatus::ARCHIVED {
            return Err(Error::conflict("status", "the project is already archived"));
        }
        x.status = ProjectStatus::ARCHIVED;
        Ok(())
    })
    .await
}

/// Soft-deletes a project.
pub async fn delete(db: &Db, op: &Operator, id: Uuid) -> Result<Project> {
    change(db, op, id, "PROJECT_DELETE", |x| {
        if x.deleted_at.is_some() {
            return Err(Error::conflict("project", "already deleted"));
        }
        x.deleted_at = Some(now());
        Ok(())
    })
    .await
}

/// Restores a soft-deleted project.
pub async fn restore(db: &Db, op: &Operator, id: Uuid) -> Result<Project> {
    change(db, op, id, "PROJECT_RESTORE", |x| {
        if x.deleted_at.is_none() {
            return Err(Error::conflict("project", "is not deleted"));
        }
        x.deleted_at = None;
        Ok(())
    })
    .await
}
