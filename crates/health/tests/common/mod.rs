//! Shared helpers of the health tests: workloads and names (operators come from
//! `ncy_tests::seeded_admin` and `ncy_tests::login_as`).

#![allow(dead_code)]

use ncy_core::db::Db;

/// Runs SQL outside any transaction block (CREATE EXTENSION, DDL, workloads).
pub async fn exec(db: &Db, sql: &str) {
    let pool = db.pg().expect("a PostgreSQL store").pool();
    sqlx::raw_sql(sql).execute(pool).await.expect(sql);
}

/// The current database's name.
pub fn db_name(url: &str) -> String {
    let tail = url.rsplit('/').next().unwrap_or_default();
    tail.split('?').next().unwrap_or_default().to_owned()
}
