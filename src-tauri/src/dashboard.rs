//! Dashboard figures. The core has no aggregate yet, so these few read-only counts live here
//! (each behind the permission of what it counts); they run on both stores.

use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db, Dialect};
use ncy_core::params;
use ncy_core::Result;
use serde::Serialize;

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
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DayCount {
    pub day: String,
    pub count: i64,
}

async fn count(db: &Db, sql: &str, p: &[ncy_core::db::Value]) -> Result<i64> {
    let rows = db.query(sql, p).await?;
    rows.first().map(|r| r.int("n")).unwrap_or(Ok(0))
}

/// Computes the dashboard for `op`.
pub async fn load(db: &Db, op: &Operator) -> Result<Dashboard> {
    let mut d = Dashboard::default();
    let t = now();
    if op.can(perm::USERS_READ) {
        d.users_active = Some(count(db, r#"SELECT COUNT(*) AS n FROM "User" WHERE "deleted_at" IS NULL AND "status" = 'ACTIVE'"#, &[]).await?);
        d.users_total = Some(
            count(
                db,
                r#"SELECT COUNT(*) AS n FROM "User" WHERE "deleted_at" IS NULL"#,
                &[],
            )
            .await?,
        );
    }
    if op.can(perm::ORGS_READ) {
        d.organizations = Some(
            count(
                db,
                r#"SELECT COUNT(*) AS n FROM "Organization" WHERE "deleted_at" IS NULL"#,
                &[],
            )
            .await?,
        );
    }
    if op.can(perm::PROJECTS_READ) {
        d.projects = Some(
            count(
                db,
                r#"SELECT COUNT(*) AS n FROM "Project" WHERE "deleted_at" IS NULL"#,
                &[],
            )
            .await?,
        );
    }
    if op.can(perm::TASKS_READ) {
        let open =
            r#"FROM "Task" WHERE "deleted_at" IS NULL AND "status" NOT IN ('DONE', 'CANCELLED')"#;
        d.tasks_open = Some(count(db, &format!("SELECT COUNT(*) AS n {open}"), &[]).await?);
        d.tasks_overdue = Some(
            count(
                db,
                &format!(r#"SELECT COUNT(*) AS n {open} AND "due_date" < $1"#),
                &params![t],
            )
            .await?,
        );
    }
    if op.can(perm::AUDIT_READ) {
        let day_ago = t - chrono::Duration::hours(24);
        d.audit_last_24h = Some(
            count(
                db,
                r#"SELECT COUNT(*) AS n FROM "AuditLog" WHERE "created_at" >= $1"#,
                &params![day_ago],
            )
            .await?,
        );
        let day = match db.dialect() {
            Dialect::Postgres => r#"to_char("created_at", 'YYYY-MM-DD')"#,
            Dialect::Sqlite => r#"substr("created_at", 1, 10)"#,
        };
        let since = t - chrono::Duration::days(30);
        let rows = db
            .query(
                &format!(r#"SELECT {day} AS day, COUNT(*) AS n FROM "AuditLog" WHERE "created_at" >= $1 GROUP BY 1 ORDER BY 1"#),
                &params![since],
            )
            .await?;
        for r in rows {
            d.audit_per_day.push(DayCount {
                day: r.text("day")?,
                count: r.int("n")?,
            });
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ncy_core::auth::{login, Client, LockoutPolicy};

    #[tokio::test]
    async fn counts_the_seeded_local_workspace_and_hides_what_the_role_may_not_see() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = crate::workspace::open_local(&dir.path().join("w.db"))
            .await
            .unwrap();
        let policy = LockoutPolicy::default();
        let admin = login(&db, "admin@ncy-8.com", "admin123", Client::Desktop, &policy)
            .await
            .unwrap()
            .operator;
        let d = load(&db, &admin).await.unwrap();
        assert_eq!(d.users_total, Some(3));
        assert_eq!(d.organizations, Some(1));
        assert_eq!(d.projects, Some(2));
        assert!(d.tasks_open.unwrap() > 0 && d.tasks_overdue.unwrap() <= d.tasks_open.unwrap());
        let today = now().format("%Y-%m-%d").to_string();
        assert!(
            d.audit_per_day
                .iter()
                .any(|c| c.day == today && c.count > 0),
            "{:?}",
            d.audit_per_day
        );

        let employee = login(
            &db,
            "employee@test-org.com",
            "employee123",
            Client::Desktop,
            &policy,
        )
        .await
        .unwrap()
        .operator;
        let d = load(&db, &employee).await.unwrap();
        assert_eq!(d.users_total, None);
        assert_eq!(d.audit_last_24h, None);
        assert!(d.audit_per_day.is_empty());
    }
}
