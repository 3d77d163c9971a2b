//! Shared helpers of the health tests: operators from the dev seed, workloads.

#![allow(dead_code)]

use ncy_core::auth::{self, Client, LockoutPolicy, Operator};
use ncy_core::db::Db;

/// Seeds the dev data and logs in as `email`.
pub async fn operator(db: &Db, email: &str, password: &str) -> Operator {
    ncy_core::seed::dev(db, false).await.expect("dev seed");
    auth::login(db, email, password, Client::Cli, &LockoutPolicy::default())
        .await
        .expect("login")
        .operator
}

/// The dev seed's ADMIN.
pub async fn admin(db: &Db) -> Operator {
    operator(db, "admin@ncy-8.com", "admin123").await
}

/// The dev seed's EMPLOYEE (no health permission).
pub async fn employee(db: &Db) -> Operator {
    operator(db, "employee@test-org.com", "employee123").await
}

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
