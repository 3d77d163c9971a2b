//! Seed data: the platform's development seed (idempotent, refuses production-looking data)
//! and deterministic synthetic data for benchmarks (COPY on PostgreSQL, one prepared
//! transaction on SQLite).

use std::fmt::Write as _;

use chrono::{Duration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::password::hash_password;
use crate::db::{format_ts, now, Db, Dialect, Tx};
use crate::error::{Error, Result};

mod dev;

pub use dev::{
    dev, DevMember, DevOrganization, DevProject, DevSeed, DevTask, DevTeam, DevUser, DEV_SEED_JSON,
};

/// What a seed run created (zero everywhere on a second run).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedReport {
    pub users: u64,
    pub organizations: u64,
    pub members: u64,
    pub teams: u64,
    pub projects: u64,
    pub tasks: u64,
    pub audit: u64,
}

impl SeedReport {
    /// Total rows created.
    pub fn total(&self) -> u64 {
        self.users
            + self.organizations
            + self.members
            + self.teams
            + self.projects
            + self.tasks
            + self.audit
    }
}

/// Users whose email is neither in `allowed` nor ends with `allowed_suffix`, counted by the
/// database (one scan, no rows fetched).
pub(super) async fn foreign_users(
    tx: &mut Tx,
    allowed: &[&str],
    allowed_suffix: Option<&str>,
) -> Result<i64> {
    let mut sql = String::from(r#"SELECT count(*) AS n FROM "User" WHERE 1 = 1"#);
    let mut p: Vec<crate::db::Value> = Vec::new();
    for e in allowed {
        p.push((*e).into());
        let _ = write!(sql, r#" AND "email" <> ${}"#, p.len());
    }
    if let Some(suffix) = allowed_suffix {
        p.push(suffix.into());
        let _ = write!(
            sql,
            r#" AND substr("email", length("email") - length(${0}) + 1) <> ${0}"#,
            p.len()
        );
    }
    tx.query_one_as(&sql, &p).await
}

pub(super) async fn id_by(
    tx: &mut Tx,
    sql: &str,
    params: &[crate::db::Value],
) -> Result<Option<Uuid>> {
    tx.query_opt_as(sql, params).await
}

/// What [`reset_dev`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResetReport {
    pub database: String,
    pub rolled_back: Vec<String>,
    pub applied: Vec<String>,
    pub seed: SeedReport,
}

/// The name an operator types to confirm a reset: the PostgreSQL database's name, or the
/// SQLite file's name (`workspace.db`).
pub async fn database_name(db: &Db) -> Result<String> {
    match db.dialect() {
        Dialect::Postgres => db.query_one_as("SELECT current_database() AS d", &[]).await,
        Dialect::Sqlite => {
            let file: String = db
                .query_one_as(
                    "SELECT file FROM pragma_database_list WHERE name = 'main'",
                    &[],
                )
                .await?;
            Ok(std::path::Path::new(&file)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or(file))
        }
    }
}

/// The development reset (the platform's `db:reset`): rolls every migration back, applies
/// them again and loads the development seed, leaving a fresh development database.
///
/// Refused unless `confirm` is the database's name ([`database_name`]); without `force`, also
/// refused when the database holds users that are not the seed's (the same rule as
/// [`dev`]), and always refused on an adopted platform database (its baselined migrations are
/// never rolled back). Each migration step is its own transaction: if one fails, the database
/// stays at that step and running the reset again finishes it.
pub async fn reset_dev(
    db: &Db,
    set: &crate::migrate::MigrationSet,
    confirm: &str,
    force: bool,
) -> Result<ResetReport> {
    let database = database_name(db).await?;
    if confirm != database {
        return Err(Error::invalid(
            "confirm",
            format!("type the database's name ({database}) to confirm: the reset drops every table and all data in it"),
        ));
    }
    let schema = crate::migrate::status(db, set).await?;
    let has_users = schema
        .iter()
        .any(|m| m.version == 1 && m.state != crate::migrate::State::Pending);
    if has_users && !force {
        let seed = DevSeed::embedded()?;
        let mut tx = db.begin().await?;
        let foreign = foreign_users(&mut tx, &seed.emails(), None).await?;
        tx.rollback().await?;
        if foreign > 0 {
            return Err(Error::conflict(
                "seed",
                format!(
                    "refusing to reset {database}: it holds {foreign} user(s) that are not the development seed's. \
                     A reset drops all data; force it only on a development database"
                ),
            ));
        }
    }
    let down = crate::migrate::down(db, set, set.migrations.len()).await?;
    let up = crate::migrate::up(db, set).await?;
    let seed = dev(db, false).await?;
    Ok(ResetReport {
        database,
        rolled_back: down.rolled_back,
        applied: up.applied,
        seed,
    })
}

/// Sizes for [`synthetic`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SyntheticSpec {
    pub users: u64,
    pub orgs: u64,
    pub tasks: u64,
    pub audit: u64,
    pub seed: u64,
}

/// Synthetic rows are spread over three years.
const SPAN_MS: i64 = 3 * 365 * 24 * 3600 * 1000;

/// Email domain of synthetic users.
pub const SYNTHETIC_DOMAIN: &str = "@synthetic.ncy-8.test";

struct Gen {
    rng: StdRng,
    base: NaiveDateTime,
}

impl Gen {
    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid()
    }
    /// A UUIDv7 for the i-th of n rows, stamped with its place in the set (from a fixed epoch,
    /// so the same spec and seed give the same ids): rows made in order have ids in index
    /// order, and a load appends to each primary key instead of writing all over it (random
    /// ids made 10M users on SQLite 42 times slower than 1M).
    fn uuid_at(&mut self, i: u64, n: u64) -> Uuid {
        const EPOCH_MS: u64 = 1_609_459_200_000; // 2021-01-01 UTC
        let ms = EPOCH_MS + (SPAN_MS as u64).saturating_mul(i) / n.max(1);
        uuid::Builder::from_unix_timestamp_millis(ms, &self.rng.gen()).into_uuid()
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.rng.gen_range(0..xs.len())]
    }
}

/// Deterministic synthetic data: `users` users (one organization membership each), `orgs`
/// organizations with three projects each, `tasks` tasks and `audit` audit rows. The same spec
/// and seed give the same rows. Refuses a database holding non-synthetic users unless `force`.
pub async fn synthetic(db: &Db, spec: SyntheticSpec, force: bool) -> Result<SeedReport> {
    if spec.users == 0 && (spec.orgs > 0 || spec.tasks > 0) {
        return Err(Error::invalid(
            "users",
            "synthetic organizations and tasks need at least one user",
        ));
    }
    if spec.orgs == 0 && spec.tasks > 0 {
        return Err(Error::invalid(
            "orgs",
            "synthetic tasks need at least one organization",
        ));
    }
    let mut tx = db.begin().await?;
    let seed = DevSeed::embedded()?;
    let foreign = foreign_users(&mut tx, &seed.emails(), Some(SYNTHETIC_DOMAIN)).await?;
    if foreign > 0 && !force {
        return Err(Error::conflict(
            "seed",
            format!("refusing to add synthetic data: the database holds {foreign} real user(s); force it only on a test database"),
        ));
    }
    let existing: i64 = tx
        .query_one_as(
            &format!(
                r#"SELECT count(*) AS n FROM "User" WHERE "email" LIKE '%{SYNTHETIC_DOMAIN}'"#
            ),
            &[],
        )
        .await?;
    if existing > 0 {
        return Err(Error::conflict(
            "database",
            format!("the database already holds {existing} synthetic users; use a fresh database for a new synthetic set"),
        ));
    }
    let password_hash = hash_password("synthetic-password")?;
    let mut g = Gen {
        rng: StdRng::seed_from_u64(spec.seed),
        base: now() - Duration::days(3 * 365),
    };
    // The i-th of n rows is made at base + i/n of the span.
    let at = |base: NaiveDateTime, i: u64, n: u64| {
        base + Duration::milliseconds(SPAN_MS * i as i64 / n.max(1) as i64)
    };
    let ts = |base: NaiveDateTime, i: u64, n: u64| format_ts(&at(base, i, n));

    let ids = |g: &mut Gen, n: u64| -> Vec<Uuid> { (0..n).map(|i| g.uuid_at(i, n)).collect() };
    let user_ids = ids(&mut g, spec.users);
    let org_ids = ids(&mut g, spec.orgs);
    let project_ids = ids(&mut g, spec.orgs * 3);
    let mut rep = SeedReport::default();

    let mut run = async |sink: &mut Tx, g: &mut Gen| -> Result<()> {
        let base = g.base;
        let roles = [
            "EMPLOYEE", "EMPLOYEE", "EMPLOYEE", "EMPLOYEE", "MANAGER", "ADMIN", "SYSTEM",
        ];
        let statuses = [
            "ACTIVE",
            "ACTIVE",
            "ACTIVE",
            "ACTIVE",
            "INACTIVE",
            "SUSPENDED",
            "PENDING",
        ];
        // Rows are generated as they are sent (memory stays flat at 10M users).
        let users = user_ids.iter().enumerate().map(|(i, id)| {
            let role = g.pick(&roles);
            let status = g.pick(&statuses);
            let created = ts(base, i as u64, spec.users);
            let deleted = (g.rng.gen_ratio(1, 50)).then(|| created.clone());
            vec![
                Some(id.to_string()),
                Some(format!("user{i:07}{SYNTHETIC_DOMAIN}")),
                Some(password_hash.clone()),
                Some(role.into()),
                Some(status.into()),
                Some(created.clone()),
                Some(created),
                deleted,
            ]
        });
        rep.users = sink
            .bulk_load(
                "User",
                &[
                    "id",
                    "email",
                    "password_hash",
                    "role",
                    "status",
                    "created_at",
                    "updated_at",
                    "deleted_at",
                ],
                users,
            )
            .await?;
        let orgs = org_ids.iter().enumerate().map(|(i, id)| {
            let c = ts(base, i as u64, spec.orgs);
            vec![
                Some(id.to_string()),
                Some(format!("Synthetic Org {i}")),
                Some(format!("synthetic-org-{i}")),
                Some(user_ids[i % user_ids.len()].to_string()),
                Some("{}".into()),
                Some(c.clone()),
                Some(c),
            ]
        });
        rep.organizations = sink
            .bulk_load(
                "Organization",
                &[
                    "id",
                    "name",
                    "slug",
                    "owner_id",
                    "settings",
                    "created_at",
                    "updated_at",
                ],
                orgs.collect::<Vec<_>>().into_iter(),
            )
            .await?;
        if !org_ids.is_empty() {
            let members = user_ids.iter().enumerate().map(|(i, u)| {
                let org = org_ids[i % org_ids.len()];
                let role = if i < org_ids.len() {
                    "OWNER"
                } else {
                    g.pick(&["MEMBER", "MEMBER", "MEMBER", "MANAGER", "ADMIN"])
                };
                vec![
                    Some(g.uuid_at(i as u64, spec.users).to_string()),
                    Some(org.to_string()),
                    Some(u.to_string()),
                    Some(role.into()),
                    Some(ts(base, i as u64, spec.users)),
                ]
            });
            rep.members = sink
                .bulk_load(
                    "OrganizationMember",
                    &["id", "organization_id", "user_id", "role", "joined_at"],
                    members,
                )
                .await?;
        }
        let projects = project_ids.iter().enumerate().map(|(i, id)| {
            let c = ts(base, i as u64, project_ids.len() as u64);
            vec![
                Some(id.to_string()),
                Some(org_ids[i / 3].to_string()),
                Some(format!("Project {i}")),
                Some(["ACTIVE", "ACTIVE", "INACTIVE", "ARCHIVED"][i % 4].to_owned()),
                Some("{}".into()),
                Some(c.clone()),
                Some(c),
            ]
        });
        rep.projects = sink
            .bulk_load(
                "Project",
                &[
                    "id",
                    "organization_id",
                    "name",
                    "status",
                    "settings",
                    "created_at",
                    "updated_at",
                ],
                projects.collect::<Vec<_>>().into_iter(),
            )
            .await?;
        let task_statuses = [
            "TODO",
            "TODO",
            "IN_PROGRESS",
            "REVIEW",
            "DONE",
            "DONE",
            "CANCELLED",
        ];
        let prios = ["LOW", "MEDIUM", "MEDIUM", "HIGH", "URGENT"];
        let mut task_ids = Vec::new();
        let n_tasks = spec.tasks;
        let task_rows = (0..n_tasks).map(|i| {
            let id = g.uuid_at(i, n_tasks);
            if task_ids.len() < 100_000 {
                task_ids.push(id);
            }
            let c = ts(base, i, n_tasks);
            let project = project_ids[g.rng.gen_range(0..project_ids.len())];
            let assignee = (!g.rng.gen_ratio(1, 10))
                .then(|| user_ids[g.rng.gen_range(0..user_ids.len())].to_string());
            let due = (g.rng.gen_ratio(3, 4))
                .then(|| format_ts(&(now() + Duration::days(g.rng.gen_range(-60..90)))));
            let mut title = String::with_capacity(32);
            let _ = write!(
                title,
                "Task {i}: {}",
                g.pick(&[
                    "review copy",
                    "fix login bug",
                    "update docs",
                    "ship release",
                    "triage reports",
                    "plan sprint"
                ])
            );
            vec![
                Some(id.to_string()),
                Some(project.to_string()),
                assignee,
                Some(title),
                Some(g.pick(&task_statuses).into()),
                Some(g.pick(&prios).into()),
                due,
                Some(format!("{{\"estimate\": {}}}", g.rng.gen_range(1..13))),
                Some(c.clone()),
                Some(c),
            ]
        });
        rep.tasks = sink
            .bulk_load(
                "Task",
                &[
                    "id",
                    "project_id",
                    "assignee_id",
                    "title",
                    "status",
                    "priority",
                    "due_date",
                    "metadata",
                    "created_at",
                    "updated_at",
                ],
                task_rows,
            )
            .await?;
        let n_audit = spec.audit;
        let audit_rows = (0..n_audit).map(|i| {
            let (table, target) = if !task_ids.is_empty() && g.rng.gen_bool(0.7) {
                ("Task", task_ids[g.rng.gen_range(0..task_ids.len())])
            } else if !user_ids.is_empty() {
                ("User", user_ids[g.rng.gen_range(0..user_ids.len())])
            } else {
                ("User", g.uuid())
            };
            let actor = (!user_ids.is_empty())
                .then(|| user_ids[g.rng.gen_range(0..user_ids.len())].to_string());
            let action = g.pick(&["UPDATE", "UPDATE", "CREATE", "STATUS_CHANGE", "DELETE"]);
            vec![
                Some(g.uuid_at(i, n_audit).to_string()),
                actor,
                Some(action.into()),
                Some(table.into()),
                Some(target.to_string()),
                Some("{\"status\": \"TODO\"}".into()),
                Some("{\"status\": \"DONE\"}".into()),
                Some("ncy-admin/synthetic".into()),
                Some(ts(base, i, n_audit)),
            ]
        });
        rep.audit = sink
            .bulk_load(
                "AuditLog",
                &[
                    "id",
                    "user_id",
                    "action",
                    "target_table",
                    "target_id",
                    "old_value",
                    "new_value",
                    "user_agent",
                    "created_at",
                ],
                audit_rows,
            )
            .await?;
        Ok(())
    };

    run(&mut tx, &mut g).await?;
    tx.commit().await?;
    if db.dialect() == Dialect::Postgres {
        // Fresh statistics so the planner uses the indexes at once.
        let mut t = db.begin().await?;
        t.batch(
            r#"ANALYZE "User"; ANALYZE "Task"; ANALYZE "AuditLog"; ANALYZE "OrganizationMember";"#,
        )
        .await?;
        t.commit().await?;
    }
    Ok(rep)
}
