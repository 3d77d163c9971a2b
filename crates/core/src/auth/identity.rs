//! The connection is the identity: on PostgreSQL, an operator connects with their own login role
//! (`ncy-admin operators provision`), and `session_user` (which SET ROLE cannot change) maps to
//! their platform user through "OperatorRole". Nothing is written to act, so this works on a
//! read-only standby and through a transaction pooler; the database enforces what they may do.

use crate::auth::{Client, Operator};
use crate::db::{Db, Dialect};
use crate::error::{Error, Result};

/// The operator behind this connection's login role, or `None` when the connection is not an
/// operator's own (the schema owner, a superuser, a local workspace). A suspended, deleted or
/// revoked operator is refused here, at every call, not at the next start.
pub async fn identify(db: &Db, client: Client) -> Result<Option<Operator>> {
    if db.dialect() != Dialect::Postgres {
        return Ok(None);
    }
    let mut tx = db.begin().await?;
    let row: Option<(String, Option<uuid::Uuid>)> = tx
        .query_opt_as(
            r#"SELECT session_user::text AS db_role, o."user_id"
               FROM (SELECT 1) one
               LEFT JOIN "OperatorRole" o ON o."db_role" = session_user::text"#,
            &[],
        )
        .await?;
    let Some((role, user_id)) = row else {
        return Ok(None);
    };
    let Some(user_id) = user_id else {
        // A login role named like an operator's but unmapped was revoked in this database.
        if role.starts_with("ncy_op_") {
            return Err(Error::Unauthenticated(format!(
                "the database role {role} is not an operator of this database (revoked?)"
            )));
        }
        return Ok(None);
    };
    let op = Operator::load(&mut tx, user_id, client, None).await?;
    tx.rollback().await?;
    Ok(Some(op))
}
