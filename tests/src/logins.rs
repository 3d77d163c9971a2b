//! Operators connected through their own PostgreSQL login roles (migration 0010), for the
//! tests that check the database is the authority.

use ncy_core::admin::operators;
use ncy_core::auth::{identify, Client, Operator};
use ncy_core::db::{Db, Target};

use crate::{operators as seed_operators, small_pool};

/// The password every test operator login gets.
pub const PASSWORD: &str = "operator-password-1";

/// An operator connected through their own login role.
pub struct Conn {
    pub role: &'static str,
    pub db: Db,
    pub op: Operator,
    pub db_role: String,
    pub url: String,
}

/// The harness URL with an operator's login in place of the superuser.
pub fn url_as(url: &str, db_role: &str, password: &str) -> String {
    url.replacen(
        "postgres://postgres@",
        &format!("postgres://{db_role}:{password}@"),
        1,
    )
}

/// Connects with an operator's own URL.
pub async fn connect_as(url: &str) -> ncy_core::Result<Db> {
    Db::connect(&Target::Postgres(url.to_owned()), &small_pool()).await
}

/// Provisions every built-in role's operator and connects as each of them.
pub async fn conns(db: &Db, url: &str) -> Vec<Conn> {
    let ops = seed_operators(db).await;
    let mut out = Vec::new();
    for (role, op) in ops.all() {
        let p = operators::provision(db, &ops.admin, &op.email, Some(PASSWORD))
            .await
            .expect("provision");
        assert!(p.password.is_none(), "a given password is not echoed");
        let u = url_as(url, &p.db_role, PASSWORD);
        let cdb = connect_as(&u).await.expect("operator login with SCRAM");
        let me = identify(&cdb, Client::Cli)
            .await
            .expect("identify")
            .expect("an operator connection maps to its user");
        assert_eq!(
            me.user_id, op.user_id,
            "{role}: current_user maps to the user"
        );
        out.push(Conn {
            role,
            db: cdb,
            op: me,
            db_role: p.db_role,
            url: u,
        });
    }
    out
}

/// Runs one statement as the operator; Ok(rows affected or returned).
pub async fn sql(db: &Db, q: &str) -> ncy_core::Result<u64> {
    let mut tx = db.begin().await?;
    let n = tx.execute(q, &[]).await?;
    tx.commit().await?;
    Ok(n)
}
