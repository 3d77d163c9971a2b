//! Dashboard figures: read-only counts, each behind the permission of what it counts, the same
//! on both stores (the desktop's dashboard and `ncy-admin stats`).

use serde::{Deserialize, Serialize};

use super::orgs::power;
use super::{tasks, Where};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Dialect, Tx, Value};
use crate::error::Result;
use crate::params;

/// Counts shown on the dashboard (`None`: the operator may not see it).
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Dashboard {
    pub users_active: Option<i64>,
    pub users_total: Option<i64>,
    pub organizations: Option<i64>,
    pub projects: Option<i64>,
    pub tasks_open: Option<i64>,
    pub tasks_overdue: Option<i64>,
    pub audit_last_24h: Option<i64>,
    /// Audit entries per day over the last 30 days (oldest first, days without entries omitted).
    pub audit_per_day: Vec<DayCount>,
}

/// Entries on one day (`YYYY-MM-DD`, UTC).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DayCount {
    pub day: String,
    pub count: i64,
}

async fn count(tx: &mut Tx, sql: &str, p: &[Value]) -> Result<i64> {
    Ok(tx.query_opt_as(sql, p).await?.unwrap_or(0))
}

/// Columns `n` and `m` of a query counting two figures of the same rows in one pass.
async fn counts(tx: &mut Tx, sql: &str, p: &[Value]) -> Result<(i64, i64)> {
    Ok(tx.query_opt_as(sql, p).await?.unwrap_or((0, 0)))
}

/// Computes the dashboard for `op` (figures it may not see stay `None`). Each table is read
/// once: a second figure of the same rows is a conditional count in the same query. All in one
/// read transaction: the figures agree with each other, and on the local workspace they do not
/// hold up a page or a write (see [`Db::begin_read`]).
pub async fn load(db: &Db, op: &Operator) -> Result<Dashboard> {
    let mut d = Dashboard::default();
    let mut read = db.begin_read().await?;
    let tx = &mut read;
    let t = now();
    if op.can(perm::USERS_READ) {
        let (total, active) = counts(
            tx,
            r#"SELECT COUNT(*) AS n, COUNT(CASE WHEN "status" = 'ACTIVE' THEN 1 END) AS m
               FROM "User" WHERE "deleted_at" IS NULL"#,
            &[],
        )
        .await?;
        d.users_total = Some(total);
        d.users_active = Some(active);
    }
    // Organizations, projects and tasks: those the operator's organization roles let them see
    // (as the row policies count them on an operator's own login).
    if op.can(perm::ORGS_READ) {
        let mut w = Where::default();
        w.clauses.push(r#"o."deleted_at" IS NULL"#.into());
        power::scope_orgs(op, &mut w);
        let sql = format!(r#"SELECT COUNT(*) AS n FROM "Organization" o {}"#, w.sql());
        d.organizations = Some(count(tx, &sql, &w.params).await?);
    }
    if op.can(perm::PROJECTS_READ) {
        let mut w = Where::default();
        w.clauses.push(r#"p."deleted_at" IS NULL"#.into());
        power::scope(op, &mut w, r#"p."organization_id""#, power::READ);
        let sql = format!(r#"SELECT COUNT(*) AS n FROM "Project" p {}"#, w.sql());
        d.projects = Some(count(tx, &sql, &w.params).await?);
    }
    if op.can(perm::TASKS_READ) {
        let mut w = Where::default();
        let due = w.param(t);
        w.clauses
            .push(r#"t."deleted_at" IS NULL AND t."status" NOT IN ('DONE', 'CANCELLED')"#.into());
        tasks::power::scope(op, &mut w);
        let sql = format!(
            r#"SELECT COUNT(*) AS n, COUNT(CASE WHEN t."due_date" < {due} THEN 1 END) AS m FROM "Task" t {}"#,
            w.sql()
        );
        let (open, overdue) = counts(tx, &sql, &w.params).await?;
        d.tasks_open = Some(open);
        d.tasks_overdue = Some(overdue);
    }
    if op.can(perm::AUDIT_READ) {
        let day_ago = t - chrono::Duration::hours(24);
        d.audit_last_24h = Some(
            count(
                tx,
                r#"SELECT COUNT(*) AS n FROM "AuditLog" WHERE "created_at" >= $1"#,
                &params![day_ago],
            )
            .await?,
        );
        let day = match tx.dialect() {
            Dialect::Postgres => r#"to_char("created_at", 'YYYY-MM-DD')"#,
            Dialect::Sqlite => r#"substr("created_at", 1, 10)"#,
        };
        let since = t - chrono::Duration::days(30);
        d.audit_per_day = tx
            .query_as(
                &format!(r#"SELECT {day} AS day, COUNT(*) AS count FROM "AuditLog" WHERE "created_at" >= $1 GROUP BY 1 ORDER BY 1"#),
                &params![since],
            )
            .await?;
    }
    read.rollback().await?;
    Ok(d)
}
