//! Schema migrations for both stores: `NNNN_name.up.sql` / `NNNN_name.down.sql` pairs, each
//! applied atomically in its own transaction and recorded with a SHA-256 checksum in
//! `_ncy_migrations`. An applied file that changed since is refused (drift). An existing NCY_8
//! database created by the platform's own tooling is adopted: a pending migration whose tables
//! all exist already is recorded as *baselined* (its missing indexes are created) instead of
//! failing or duplicating them.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use include_dir::{include_dir, Dir};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{now, Db, Dialect, Tx};
use crate::error::{Error, Result};
use crate::params;

static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

/// Name of the bookkeeping table.
pub const TABLE: &str = "_ncy_migrations";

/// One migration: version, name, and both directions.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub up: String,
    pub down: String,
}

impl Migration {
    /// SHA-256 of the up script (line endings normalised), as recorded when applied.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.up.replace("\r\n", "\n").as_bytes()))
    }

    /// Tables this migration creates (`CREATE TABLE "X"`).
    pub fn created_tables(&self) -> Vec<String> {
        let re =
            regex::Regex::new(r#"(?i)CREATE TABLE (?:IF NOT EXISTS )?"(\w+)""#).expect("regex");
        re.captures_iter(&self.up)
            .map(|c| c[1].to_owned())
            .collect()
    }

    /// `CREATE [UNIQUE] INDEX` statements of this migration, made idempotent.
    fn index_statements(&self) -> Vec<String> {
        let re = regex::Regex::new(
            r#"(?is)CREATE (UNIQUE )?INDEX (?:IF NOT EXISTS )?("[^"]+" ON [^;]+);"#,
        )
        .expect("regex");
        re.captures_iter(&self.up)
            .map(|c| {
                format!(
                    "CREATE {}INDEX IF NOT EXISTS {}",
                    c.get(1).map(|m| m.as_str()).unwrap_or(""),
                    &c[2]
                )
            })
            .collect()
    }
}

/// An ordered set of migrations for one dialect.
#[derive(Debug, Clone)]
pub struct MigrationSet {
    pub dialect: Dialect,
    pub migrations: Vec<Migration>,
}

fn dialect_dir(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "postgres",
        Dialect::Sqlite => "sqlite",
    }
}

impl MigrationSet {
    /// The migrations compiled into this binary.
    pub fn embedded(dialect: Dialect) -> Result<Self> {
        let dir = MIGRATIONS
            .get_dir(dialect_dir(dialect))
            .ok_or_else(|| Error::Migration("no embedded migrations".into()))?;
        let files = dir.files().filter_map(|f| {
            let name = f.path().file_name()?.to_str()?.to_owned();
            Some((name, f.contents_utf8()?.to_owned()))
        });
        Self::from_files(dialect, files)
    }

    /// Reads migrations from a directory (`DIR/postgres` or `DIR/sqlite`, or DIR itself).
    pub fn from_dir(dialect: Dialect, dir: &Path) -> Result<Self> {
        let sub = dir.join(dialect_dir(dialect));
        let dir = if sub.is_dir() { sub } else { dir.to_owned() };
        let rd = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("reading migrations from {}", dir.display()), e))?;
        let mut files = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("reading migrations", e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sql") {
                let text = std::fs::read_to_string(entry.path())
                    .map_err(|e| Error::io(format!("reading {}", entry.path().display()), e))?;
                files.push((name, text));
            }
        }
        Self::from_files(dialect, files.into_iter())
    }

    fn from_files(dialect: Dialect, files: impl Iterator<Item = (String, String)>) -> Result<Self> {
        let mut ups: HashMap<(i64, String), String> = HashMap::new();
        let mut downs: HashMap<(i64, String), String> = HashMap::new();
        for (file, text) in files {
            let (stem, up) = if let Some(s) = file.strip_suffix(".up.sql") {
                (s, true)
            } else if let Some(s) = file.strip_suffix(".down.sql") {
                (s, false)
            } else {
                continue;
            };
            let (v, name) = stem.split_once('_').ok_or_else(|| {
                Error::Migration(format!(
                    "{file}: expected NNNN_name.up.sql / NNNN_name.down.sql"
                ))
            })?;
            let v: i64 = v
                .parse()
                .map_err(|_| Error::Migration(format!("{file}: version {v} is not a number")))?;
            let key = (v, name.to_owned());
            if up {
                ups.insert(key, text)
            } else {
                downs.insert(key, text)
            };
        }
        let mut migrations = Vec::new();
        for ((version, name), up) in ups {
            let down = downs.remove(&(version, name.clone())).ok_or_else(|| {
                Error::Migration(format!(
                    "migration {version:04}_{name} has no .down.sql rollback"
                ))
            })?;
            migrations.push(Migration {
                version,
                name,
                up,
                down,
            });
        }
        if let Some(((v, n), _)) = downs.into_iter().next() {
            return Err(Error::Migration(format!(
                "{v:04}_{n}.down.sql has no .up.sql"
            )));
        }
        migrations.sort_by_key(|m| m.version);
        for w in migrations.windows(2) {
            if w[0].version == w[1].version {
                return Err(Error::Migration(format!(
                    "two migrations share version {}",
                    w[0].version
                )));
            }
        }
        Ok(MigrationSet {
            dialect,
            migrations,
        })
    }
}

/// State of one migration in a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, rename = "MigrationState")
)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Applied,
    Baselined,
    /// Applied, but the file changed since.
    Drifted,
}

/// One line of `migrate status`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct MigrationStatus {
    pub version: i64,
    pub name: String,
    pub state: State,
    pub applied_at: Option<String>,
    pub checksum: String,
}

/// What `migrate up` / `down` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub applied: Vec<String>,
    pub baselined: Vec<String>,
    pub rolled_back: Vec<String>,
    pub indexes_created: usize,
}

struct Applied {
    name: String,
    checksum: String,
    applied_at: String,
    baselined: bool,
}

async fn ensure_table(tx: &mut Tx) -> Result<()> {
    let sql = match tx.dialect() {
        Dialect::Postgres => format!(
            r#"CREATE TABLE IF NOT EXISTS "{TABLE}" (
                "version" BIGINT PRIMARY KEY, "name" TEXT NOT NULL, "checksum" TEXT NOT NULL,
                "applied_at" TIMESTAMP(3) NOT NULL, "execution_ms" BIGINT NOT NULL,
                "baselined" BOOLEAN NOT NULL DEFAULT false)"#
        ),
        Dialect::Sqlite => format!(
            r#"CREATE TABLE IF NOT EXISTS "{TABLE}" (
                "version" INTEGER PRIMARY KEY, "name" TEXT NOT NULL, "checksum" TEXT NOT NULL,
                "applied_at" TEXT NOT NULL, "execution_ms" INTEGER NOT NULL,
                "baselined" INTEGER NOT NULL DEFAULT 0)"#
        ),
    };
    tx.batch(&sql).await
}

async fn lock(tx: &mut Tx) -> Result<()> {
    if tx.dialect() == Dialect::Postgres {
        tx.query("SELECT pg_advisory_xact_lock(7317001)", &[])
            .await?;
    }
    Ok(())
}

async fn table_exists(tx: &mut Tx, table: &str) -> Result<bool> {
    let sql = match tx.dialect() {
        Dialect::Postgres => {
            "SELECT 1 AS x FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
        }
        Dialect::Sqlite => "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = $1",
    };
    Ok(tx.query_opt(sql, &params![table]).await?.is_some())
}

async fn applied(tx: &mut Tx) -> Result<HashMap<i64, Applied>> {
    if !table_exists(tx, TABLE).await? {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, String, chrono::NaiveDateTime, bool)> = tx
        .query_as(
            &format!(
                r#"SELECT "version", "name", "checksum", "applied_at", "baselined" FROM "{TABLE}""#
            ),
            &[],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(version, name, checksum, applied_at, baselined)| {
            let applied_at = crate::db::format_ts(&applied_at);
            (
                version,
                Applied {
                    name,
                    checksum,
                    applied_at,
                    baselined,
                },
            )
        })
        .collect())
}

fn check_known(set: &MigrationSet, applied: &HashMap<i64, Applied>) -> Result<()> {
    let known: BTreeSet<i64> = set.migrations.iter().map(|m| m.version).collect();
    if let Some((v, a)) = applied.iter().find(|(v, _)| !known.contains(v)) {
        return Err(Error::Migration(format!(
            "the database has migration {v:04}_{} applied, which this version of NCY Admin does not know; upgrade NCY Admin",
            a.name
        )));
    }
    Ok(())
}

fn check_drift(set: &MigrationSet, applied: &HashMap<i64, Applied>) -> Result<()> {
    for m in &set.migrations {
        if let Some(a) = applied.get(&m.version) {
            let current = m.checksum();
            if a.checksum != current {
                return Err(Error::Drift {
                    version: m.version,
                    name: m.name.clone(),
                    recorded: a.checksum[..12.min(a.checksum.len())].to_owned(),
                    current: current[..12].to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// Lists every migration with its state.
pub async fn status(db: &Db, set: &MigrationSet) -> Result<Vec<MigrationStatus>> {
    let mut tx = db.begin().await?;
    let applied = applied(&mut tx).await?;
    tx.rollback().await?;
    Ok(set
        .migrations
        .iter()
        .map(|m| {
            let a = applied.get(&m.version);
            let checksum = m.checksum();
            MigrationStatus {
                version: m.version,
                name: m.name.clone(),
                state: match a {
                    None => State::Pending,
                    Some(a) if a.checksum != checksum => State::Drifted,
                    Some(a) if a.baselined => State::Baselined,
                    Some(_) => State::Applied,
                },
                applied_at: a.map(|a| a.applied_at.clone()),
                checksum,
            }
        })
        .collect())
}

/// Applies every pending migration, each in its own transaction.
pub async fn up(db: &Db, set: &MigrationSet) -> Result<Report> {
    let mut report = Report::default();
    for m in &set.migrations {
        up_one(db, set, m, &mut report).await?;
    }
    Ok(report)
}

/// Applies (or adopts) one migration in its own transaction, unless it is applied already.
async fn up_one(db: &Db, set: &MigrationSet, m: &Migration, report: &mut Report) -> Result<()> {
    let mut tx = db.begin().await?;
    lock(&mut tx).await?;
    ensure_table(&mut tx).await?;
    let applied = applied(&mut tx).await?;
    check_known(set, &applied)?;
    check_drift(set, &applied)?;
    if applied.contains_key(&m.version) {
        return tx.rollback().await;
    }
    let label = format!("{:04}_{}", m.version, m.name);
    let tables = m.created_tables();
    let mut present = Vec::new();
    for t in &tables {
        if table_exists(&mut tx, t).await? {
            present.push(t.clone());
        }
    }
    let started = std::time::Instant::now();
    let baselined = !tables.is_empty() && present.len() == tables.len();
    if baselined {
        for stmt in m.index_statements() {
            if let Err(e) = tx.batch(&stmt).await {
                return Err(Error::Migration(format!(
                    "adopting {label}: creating a missing index failed: {e}"
                )));
            }
            report.indexes_created += 1;
        }
    } else if !present.is_empty() {
        let missing: Vec<_> = tables.iter().filter(|t| !present.contains(t)).collect();
        return Err(Error::Migration(format!(
            "cannot adopt {label}: tables {present:?} exist but {missing:?} do not; the database is partially migrated. Create or drop those tables by hand, then retry"
        )));
    } else if let Err(e) = tx.batch(&m.up).await {
        return Err(Error::Migration(format!(
            "{label} failed and was rolled back: {e}"
        )));
    }
    let p = params![
        m.version,
        m.name.as_str(),
        m.checksum(),
        now(),
        started.elapsed().as_millis() as i64,
        baselined
    ];
    tx.execute(
        &format!(
            r#"INSERT INTO "{TABLE}" ("version", "name", "checksum", "applied_at", "execution_ms", "baselined") VALUES ($1, $2, $3, $4, $5, $6)"#
        ),
        &p,
    )
    .await?;
    tx.commit().await?;
    if baselined {
        report.baselined.push(label);
    } else {
        report.applied.push(label);
    }
    Ok(())
}

/// Rolls back the last `steps` applied migrations, newest first, each in its own transaction.
/// Baselined migrations (adopted from the platform) are never rolled back: that would drop the
/// platform's own tables.
pub async fn down(db: &Db, set: &MigrationSet, steps: usize) -> Result<Report> {
    let mut report = Report::default();
    for _ in 0..steps {
        let mut tx = db.begin().await?;
        lock(&mut tx).await?;
        let applied = applied(&mut tx).await?;
        check_known(set, &applied)?;
        check_drift(set, &applied)?;
        let Some(m) = set
            .migrations
            .iter()
            .rev()
            .find(|m| applied.contains_key(&m.version))
        else {
            break;
        };
        let label = format!("{:04}_{}", m.version, m.name);
        if applied[&m.version].baselined {
            return Err(Error::Migration(format!(
                "{label} was adopted from an existing platform database (baselined); rolling it back would drop the platform's own tables, so ncy-admin refuses"
            )));
        }
        tx.batch(&m.down).await.map_err(|e| {
            Error::Migration(format!("rolling back {label} failed and was undone: {e}"))
        })?;
        tx.execute(
            &format!(r#"DELETE FROM "{TABLE}" WHERE "version" = $1"#),
            &params![m.version],
        )
        .await?;
        tx.commit().await?;
        report.rolled_back.push(label);
    }
    Ok(report)
}

/// Fails unless every migration is applied and unchanged (used before normal commands).
pub async fn ensure_current(db: &Db, set: &MigrationSet) -> Result<()> {
    let st = status(db, set).await?;
    if let Some(d) = st.iter().find(|s| s.state == State::Drifted) {
        return Err(Error::Migration(format!(
            "migration {:04}_{} was edited after it was applied; the migration status lists the edited ones",
            d.version, d.name
        )));
    }
    if let Some(p) = st.iter().find(|s| s.state == State::Pending) {
        return Err(Error::Migration(format!(
            "the database schema is not up to date (migration {:04}_{} is pending); its owner must apply the migrations",
            p.version, p.name
        )));
    }
    Ok(())
}

/// A normalised dump of the schema (tables, columns, constraints, indexes, enum types), used to
/// prove that up → down → up leaves an identical schema.
pub async fn schema_dump(db: &Db) -> Result<String> {
    let mut tx = db.begin().await?;
    let mut out = String::new();
    match tx.dialect() {
        Dialect::Postgres => {
            let queries = [
                r#"SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || udt_name || ' ' ||
                          coalesce(character_maximum_length::text, '') || ' ' || is_nullable || ' ' ||
                          coalesce(column_default, '') AS l
                   FROM information_schema.columns WHERE table_schema = current_schema()
                   ORDER BY table_name, column_name"#,
                r#"SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS l
                   FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
                   ORDER BY 1"#,
                r#"SELECT indexdef AS l FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname"#,
                r#"SELECT t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS l
                   FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
                   WHERE t.typnamespace = current_schema()::regnamespace GROUP BY t.typname ORDER BY 1"#,
                r#"SELECT proname || ' ' || md5(prosrc) AS l FROM pg_proc
                   WHERE pronamespace = current_schema()::regnamespace ORDER BY 1"#,
                r#"SELECT event_object_table || ' ' || trigger_name || ' ' || action_timing || ' ' || event_manipulation AS l
                   FROM information_schema.triggers WHERE trigger_schema = current_schema() ORDER BY 1"#,
            ];
            for q in queries {
                for line in tx.query_as::<String>(q, &[]).await? {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
        }
        Dialect::Sqlite => {
            for line in tx
                .query_as::<String>(
                    "SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS l FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
                    &[],
                )
                .await?
            {
                out.push_str(&line.split_whitespace().collect::<Vec<_>>().join(" "));
                out.push('\n');
            }
        }
    }
    tx.rollback().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sets_pair_up_and_match() {
        let pg = MigrationSet::embedded(Dialect::Postgres).unwrap();
        let lite = MigrationSet::embedded(Dialect::Sqlite).unwrap();
        assert!(pg.migrations.len() >= 5);
        let names = |s: &MigrationSet| {
            s.migrations
                .iter()
                .map(|m| (m.version, m.name.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&pg),
            names(&lite),
            "both dialects carry the same migrations"
        );
        for (a, b) in pg.migrations.iter().zip(&lite.migrations) {
            // Hand-written SQLite files are dialect-specific by design (PL/pgSQL, sync tables).
            if !b.up.starts_with("-- hand-written") {
                assert_eq!(
                    a.created_tables(),
                    b.created_tables(),
                    "same tables in {}",
                    a.name
                );
            }
        }
    }

    #[test]
    fn platform_tables_are_all_created() {
        let pg = MigrationSet::embedded(Dialect::Postgres).unwrap();
        let all: Vec<String> = pg
            .migrations
            .iter()
            .flat_map(|m| m.created_tables())
            .collect();
        for t in [
            "User",
            "Session",
            "ApiKey",
            "Role",
            "Permission",
            "RolePermission",
            "UserRoleMap",
            "Organization",
            "OrganizationMember",
            "Team",
            "TeamMember",
            "Project",
            "Task",
            "AuditLog",
            "ErrorLog",
            "AccessLog",
            "UserPreferences",
            "GdprRequest",
            "Consent",
            "BackupSnapshot",
            "Notification",
            "File",
            "Message",
            "Settings",
        ] {
            assert!(all.iter().any(|x| x == t), "table {t} missing");
        }
    }

    #[test]
    fn index_statements_become_idempotent() {
        let pg = MigrationSet::embedded(Dialect::Postgres).unwrap();
        let idx = pg.migrations[0].index_statements();
        assert_eq!(idx.len(), 14);
        assert!(idx
            .iter()
            .all(|s| s.starts_with("CREATE INDEX IF NOT EXISTS \"")));
        assert!(idx
            .iter()
            .any(|s| s.contains("WHERE \"deleted_at\" IS NULL")));
    }
}
