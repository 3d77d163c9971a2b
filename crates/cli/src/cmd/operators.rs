//! `ncy-admin operators provision|list|rotate|revoke`: operators' own PostgreSQL logins.

use anyhow::Result;
use clap::Subcommand;
use ncy_core::admin::operators::{self, OperatorLogin, Provisioned};
use ncy_core::db::format_ts;

use super::session::read_password;
use crate::ctx::Ctx;
use crate::output::{emit, table};

#[derive(Subcommand, Debug)]
pub enum Operators {
    /// Create the database login of a platform user (a password is generated and shown once
    /// unless --password-stdin gives one). Run on a connection allowed to provision
    /// (the schema owner, or an operator with roles.write).
    Provision {
        /// User id or email.
        user: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every operator login of this database, with its groups and open connections.
    List,
    /// Give an operator's login a new password (generated unless --password-stdin).
    Rotate {
        user: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Drop an operator's login and end its connections.
    Revoke { user: String },
}

fn password(from_stdin: bool) -> Result<Option<String>> {
    Ok(if from_stdin {
        Some(read_password(true, "")?)
    } else {
        None
    })
}

fn shown(p: &Provisioned, verb: &str) -> String {
    let mut s = format!("{verb} {} for {} ({})", p.db_role, p.email, p.user_id);
    if let Some(pw) = &p.password {
        s.push_str(&format!(
            "\npassword (shown once, store it in the operator's keychain): {pw}\nconnect as: postgres://{}:<password>@<host>/<database>",
            p.db_role
        ));
    }
    s
}

fn rows(list: &[OperatorLogin]) -> Vec<Vec<String>> {
    list.iter()
        .map(|o| {
            vec![
                o.email.clone(),
                o.db_role.clone(),
                o.groups.join(","),
                if o.can_login { "yes" } else { "no" }.into(),
                o.connections.to_string(),
                format_ts(&o.created_at),
                o.rotated_at.as_ref().map(format_ts).unwrap_or_default(),
            ]
        })
        .collect()
}

pub async fn run(ctx: &mut Ctx, c: Operators) -> Result<()> {
    let op = ctx.operator().await?;
    let db = ctx.db().await?;
    match c {
        Operators::Provision {
            user,
            password_stdin,
        } => {
            let pw = password(password_stdin)?;
            let p = operators::provision(&db, &op, &user, pw.as_deref()).await?;
            emit(ctx, &p, || shown(&p, "provisioned"))
        }
        Operators::Rotate {
            user,
            password_stdin,
        } => {
            let pw = password(password_stdin)?;
            let p = operators::rotate(&db, &op, &user, pw.as_deref()).await?;
            emit(ctx, &p, || shown(&p, "rotated"))
        }
        Operators::Revoke { user } => {
            let o = operators::revoke(&db, &op, &user).await?;
            emit(ctx, &o, || {
                format!(
                    "revoked {} of {}; its connections were ended",
                    o.db_role, o.email
                )
            })
        }
        Operators::List => {
            let list = operators::list(&db, &op).await?;
            emit(ctx, &list, || {
                table(
                    &[
                        "email",
                        "db_role",
                        "groups",
                        "login",
                        "connections",
                        "created",
                        "rotated",
                    ],
                    rows(&list),
                )
            })
        }
    }
}
