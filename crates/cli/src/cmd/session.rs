//! `ncy-admin login | logout | whoami`.

use std::io::Read;

use anyhow::Result;
use ncy_core::auth::{self, Client, LockoutPolicy};
use ncy_core::secrets::Stored;
use ncy_core::Error;

use crate::ctx::Ctx;
use crate::output::emit;

pub async fn login(ctx: &mut Ctx, email: String, password_stdin: bool) -> Result<()> {
    let db = ctx.db().await?;
    // An operator's own database login is already their identity: a session would add nothing.
    if let Some(op) = auth::identify(&db, Client::Cli).await? {
        let same = op.email.eq_ignore_ascii_case(email.trim());
        let out = serde_json::json!({
            "login_needed": false,
            "email": op.email,
            "role": op.role,
        });
        return emit(ctx, &out, || {
            let mut s = format!(
                "no login needed: this connection is the operator login of {} ({}); every command runs as them",
                op.email, op.role
            );
            if !same {
                s.push_str(&format!(
                    "\nto act as {email}, connect with that operator's own database login instead"
                ));
            }
            s
        });
    }
    let password = read_password(password_stdin, "Password: ")?;
    let res = auth::login(
        &db,
        &email,
        &password,
        Client::Cli,
        &LockoutPolicy::load(&db).await?,
    )
    .await?;
    let stored = ctx.session_secret()?.set_with_fallback(&res.token)?;
    if let Stored::RuntimeFile(p) = &stored {
        eprintln!(
            "warning: no OS keychain reachable; the session token is kept in {} (mode 0600) until logout or reboot",
            p.display()
        );
    }
    emit(ctx, &res, || {
        let mut s = format!(
            "logged in as {} ({}), session valid until {} UTC",
            res.operator.email,
            res.operator.role,
            res.expires_at.format("%Y-%m-%d %H:%M")
        );
        if res.password_upgraded {
            s.push_str("\nthe stored password hash was upgraded from bcrypt to argon2id");
        }
        s
    })
}

pub async fn logout(ctx: &mut Ctx) -> Result<()> {
    let secret = ctx.session_secret()?;
    let token = secret.get()?;
    if let Some(t) = &token {
        if let Ok(db) = ctx.db().await {
            auth::logout(&db, t).await?;
        }
    }
    secret.delete()?;
    emit(
        ctx,
        &serde_json::json!({ "logged_out": token.is_some() }),
        || {
            if token.is_some() {
                "logged out".into()
            } else {
                "no session to end".into()
            }
        },
    )
}

pub async fn whoami(ctx: &mut Ctx) -> Result<()> {
    let op = ctx.operator().await?;
    emit(ctx, &op, || {
        format!(
            "{} ({})\nroles: {}\npermissions: {}",
            op.email,
            op.user_id,
            op.roles.join(", "),
            op.permissions
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Reads a password from stdin (`--password-stdin`) or from the terminal without echo.
pub fn read_password(from_stdin: bool, prompt: &str) -> Result<String> {
    let p = if from_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::io("reading the password from stdin", e))?;
        s.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        rpassword::prompt_password(prompt).map_err(|e| {
            Error::invalid(
                "password",
                format!("cannot read it from the terminal ({e}); use --password-stdin"),
            )
        })?
    };
    if p.is_empty() {
        return Err(Error::invalid("password", "empty").into());
    }
    Ok(p)
}

/// The dashboard's figures (what the operator may see), as the desktop shows them.
pub async fn stats(ctx: &mut Ctx) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    let d = ncy_core::admin::stats::load(&db, &op).await?;
    let show = |v: Option<i64>| v.map_or_else(|| "—".to_owned(), |n| n.to_string());
    emit(ctx, &d, || {
        let mut s = crate::output::table(
            &["figure", "value"],
            vec![
                vec!["active users".into(), show(d.users_active)],
                vec!["users".into(), show(d.users_total)],
                vec!["organizations".into(), show(d.organizations)],
                vec!["projects".into(), show(d.projects)],
                vec!["open tasks".into(), show(d.tasks_open)],
                vec!["overdue tasks".into(), show(d.tasks_overdue)],
                vec!["audit entries, 24 h".into(), show(d.audit_last_24h)],
            ],
        );
        if let Some(max) = d.audit_per_day.iter().map(|c| c.count).max() {
            s.push_str("\naudit entries per day (30 days)\n");
            for c in &d.audit_per_day {
                let bar = "█".repeat(((c.count * 40) / max.max(1)).max(1) as usize);
                s.push_str(&format!("{}  {bar} {}\n", c.day, c.count));
            }
        }
        s
    })
}
