//! Step-up: a destructive action asks for the operator's password again when their last
//! authentication (the login, or the last step-up) is older than [`STEP_UP_MINUTES`]. The time
//! lives on the session row, so it holds across restarts of the window and the server can see it.

use chrono::{Duration, NaiveDateTime};

use super::password::verify_password;
use super::Operator;
use crate::audit::{self, Entry};
use crate::db::{now, Db};
use crate::error::{Error, Result};
use crate::params;

/// How long an authentication lets destructive actions through without asking again.
pub const STEP_UP_MINUTES: i64 = 10;

/// When the operator's session last proved who they are; None without a session (an
/// operator's own database login, checked by the adapter that opened it).
pub async fn last_authenticated(db: &Db, op: &Operator) -> Result<Option<NaiveDateTime>> {
    let Some(sid) = op.session_id else {
        return Ok(None);
    };
    let rows: Vec<NaiveDateTime> = db
        .query_as(
            r#"SELECT coalesce("authenticated_at", "created_at") AS t FROM "Session" WHERE "id" = $1"#,
            &params![sid],
        )
        .await?;
    match rows.first() {
        Some(t) => Ok(Some(*t)),
        None => Err(Error::Unauthenticated("the session ended".into())),
    }
}

/// Refuses with [`Error::StepUpRequired`] when the session's last authentication is older than
/// `minutes` (sessionless operators pass: see [`last_authenticated`]).
pub async fn require_recent(db: &Db, op: &Operator, minutes: i64) -> Result<()> {
    match last_authenticated(db, op).await? {
        Some(t) if now() - t > Duration::minutes(minutes) => Err(Error::StepUpRequired { minutes }),
        _ => Ok(()),
    }
}

/// Checks the operator's password again and records the time on their session (audited).
pub async fn step_up(db: &Db, op: &Operator, password: &str) -> Result<()> {
    let sid = op.session_id.ok_or_else(|| {
        Error::invalid(
            "session",
            "this connection signs in with the operator's own database login: confirm with that password",
        )
    })?;
    let mut tx = db.begin().await?;
    let stored: String = tx
        .query_one_as(
            r#"SELECT "password_hash" FROM "User" WHERE "id" = $1"#,
            &params![op.user_id],
        )
        .await?;
    if verify_password(password, &stored).is_none() {
        return Err(Error::BadCredentials);
    }
    let t = now();
    tx.execute(
        r#"UPDATE "Session" SET "authenticated_at" = $2 WHERE "id" = $1"#,
        &params![sid, t],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "AUTH_STEP_UP",
            table: "Session",
            target_id: Some(sid),
            old: None,
            new: Some(serde_json::json!({ "authenticated_at": crate::db::format_ts(&t) })),
        },
    )
    .await?;
    tx.commit().await
}

/// Step-up for an operator connected through their own database login (no session row): the
/// password is proven by one fresh connection to `url` with it. A refused login is
/// [`Error::BadCredentials`].
pub async fn prove_db_login(url: &str, password: &str) -> Result<()> {
    let mut u = url::Url::parse(url)
        .map_err(|_| Error::Config("the connection's URL cannot be read".into()))?;
    u.set_password(Some(password))
        .map_err(|_| Error::Config("the connection's URL takes no password".into()))?;
    let opts = crate::db::ConnectOptions {
        max_connections: 1,
        connect_timeout: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    match Db::connect(&crate::db::Target::Postgres(u.to_string()), &opts).await {
        Ok(check) => {
            check.close().await;
            Ok(())
        }
        Err(Error::DatabaseAuth { .. }) => Err(Error::BadCredentials),
        Err(e) => Err(e),
    }
}
