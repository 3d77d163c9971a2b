//! Set-up shared by conformance.rs and postgres.rs: the seeded data set and its two operators,
//! and what the tests compare and look up (row checksums, audit and row counts, databases,
//! files).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use ncy_core::auth::Operator;
use ncy_core::db::{Db, Target};
use ncy_core::params;
use ncy_core::seed::{self, SyntheticSpec};

/// Seeds the dev data plus a synthetic set (40 users, 3 organizations, 300 tasks, 50 audit
/// rows) and logs in its ADMIN and an EMPLOYEE.
pub async fn seeded(db: &Db) -> (Operator, Operator) {
    seed::dev(db, false).await.unwrap();
    seed::synthetic(
        db,
        SyntheticSpec {
            users: 40,
            orgs: 3,
            tasks: 300,
            audit: 50,
            seed: 3,
        },
        true,
    )
    .await
    .unwrap();
    let admin = ncy_tests::login_as(db, "admin@ncy-8.com", "admin123").await;
    let employee = ncy_tests::login_as(db, "employee@test-org.com", "employee123").await;
    (admin, employee)
}

/// md5 of every table's rows (as text, sorted), per `schema.table` (PostgreSQL).
pub async fn pg_checksums(db: &Db) -> BTreeMap<String, String> {
    let tables = db
        .query(
            "SELECT schemaname::text AS s, relname::text AS t FROM pg_stat_user_tables ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for r in tables {
        let (s, t) = (r.text("s").unwrap(), r.text("t").unwrap());
        let sum = db
            .query(
                &format!(
                    r#"SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) AS m
                       FROM (SELECT r::text AS x FROM "{s}"."{t}" r) q"#
                ),
                &[],
            )
            .await
            .unwrap()[0]
            .text("m")
            .unwrap();
        out.insert(format!("{s}.{t}"), sum);
    }
    out
}

/// An existing PostgreSQL database with other contents (one table, `junk`); its name.
pub async fn junk_database() -> String {
    let (other, url) = ncy_tests::empty_pg().await;
    other.query("CREATE TABLE junk (x int)", &[]).await.unwrap();
    other.close().await;
    ncy_backup::PgConn::from_url(&url)
        .unwrap()
        .database()
        .to_owned()
}

/// Connects to the harness's database `name`.
pub async fn connect(name: &str) -> Db {
    Db::connect(
        &Target::Postgres(ncy_tests::url_for(name)),
        &ncy_tests::small_pool(),
    )
    .await
    .unwrap()
}

/// Whether the PostgreSQL database `name` exists.
pub async fn db_exists(db: &Db, name: &str) -> bool {
    !db.query(
        "SELECT 1 AS x FROM pg_database WHERE datname = $1",
        &params![name],
    )
    .await
    .unwrap()
    .is_empty()
}

/// AuditLog rows of `action`.
pub async fn audit_actions(db: &Db, action: &str) -> i64 {
    db.query(
        r#"SELECT count(*) AS n FROM "AuditLog" WHERE "action" = $1"#,
        &params![action],
    )
    .await
    .unwrap()[0]
        .int("n")
        .unwrap()
}

/// Rows of `table`.
pub async fn count(db: &Db, table: &str) -> i64 {
    db.query(&format!(r#"SELECT count(*) AS n FROM "{table}""#), &[])
        .await
        .unwrap()[0]
        .int("n")
        .unwrap()
}

/// The file names in `dir`, sorted (none when it does not exist).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
