//! `ncy-admin users ...`.

use anyhow::Result;
use clap::Subcommand;
use ncy_core::admin::users::{self, NewUser, User, UserFilter, UserPatch};
use ncy_core::model::{UserRole, UserStatus};

use super::args;
use crate::ctx::Ctx;
use crate::output::{emit, emit_page, opt, table};

#[derive(Subcommand, Debug)]
pub enum Users {
    /// List users, newest first (keyset pages: pass --after with the printed cursor).
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        role: Option<String>,
        /// Only members of this organization (slug).
        #[arg(long)]
        org: Option<String>,
        /// Substring of the email.
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        include_deleted: bool,
        #[arg(long)]
        deleted: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        after: Option<String>,
    },
    /// Show one user with roles and memberships.
    Show {
        user: String,
    },
    /// Create a user (prints a temporary password once unless --password-stdin).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change email, role or status.
    Update {
        user: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        status: Option<String>,
    },
    Suspend {
        user: String,
    },
    Reactivate {
        user: String,
    },
    /// Soft-delete (restore undoes it).
    Delete {
        user: String,
    },
    Restore {
        user: String,
    },
    /// Set a strong temporary password (printed once) and end the user's sessions.
    ResetPassword {
        user: String,
    },
    Sessions {
        user: String,
    },
    RevokeSession {
        session: String,
    },
    ApiKeys {
        user: String,
    },
    /// Create an API key (the key is printed once; only its hash is stored).
    CreateApiKey {
        user: String,
        #[arg(long)]
        scopes: String,
        #[arg(long)]
        expires: Option<String>,
    },
    RevokeApiKey {
        key: String,
    },
    GrantRole {
        user: String,
        role: String,
    },
    RevokeRole {
        user: String,
        role: String,
    },
}

fn user_rows(us: &[User]) -> Vec<Vec<String>> {
    us.iter()
        .map(|u| {
            vec![
                u.id.to_string(),
                u.email.clone(),
                u.role.to_string(),
                u.status.to_string(),
                u.created_at.format("%Y-%m-%d %H:%M").to_string(),
                u.deleted_at
                    .map(|d| format!("deleted {}", d.format("%Y-%m-%d")))
                    .unwrap_or_default(),
            ]
        })
        .collect()
}

fn one(u: &User) -> String {
    table(
        &["id", "email", "role", "status", "created", ""],
        user_rows(std::slice::from_ref(u)),
    )
}

pub async fn run(ctx: &mut Ctx, c: Users) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    match c {
        Users::List {
            status,
            role,
            org,
            search,
            include_deleted,
            deleted,
            limit,
            after,
        } => {
            let f = UserFilter {
                status: args::opt_enum(&status, UserStatus::parse)?,
                role: args::opt_enum(&role, UserRole::parse)?,
                org,
                search,
                include_deleted,
                deleted_only: deleted,
            };
            let p = users::list(&db, &op, &f, limit, after.as_deref()).await?;
            emit_page(ctx, &p, || {
                table(
                    &["id", "email", "role", "status", "created", ""],
                    user_rows(&p.items),
                )
            })
        }
        Users::Show { user } => {
            let d = users::get(&db, &op, &user).await?;
            emit(ctx, &d, || {
                let mut s = one(&d.user);
                s.push_str(&format!(
                    "\nroles: {}\n",
                    if d.roles.is_empty() {
                        "-".into()
                    } else {
                        d.roles.join(", ")
                    }
                ));
                for m in &d.organizations {
                    s.push_str(&format!(
                        "member of {} ({}) as {}\n",
                        m.name, m.slug, m.role
                    ));
                }
                if d.user.password_upgrade_pending {
                    s.push_str("legacy bcrypt password hash: upgraded to argon2id at next login\n");
                }
                s
            })
        }
        Users::Create {
            email,
            role,
            status,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(super::session::read_password(true, "")?)
            } else {
                None
            };
            let n = NewUser {
                email,
                role: args::opt_enum(&role, UserRole::parse)?,
                status: args::opt_enum(&status, UserStatus::parse)?,
                password,
            };
            let c = users::create(&db, &op, &n).await?;
            emit(ctx, &c, || {
                let mut s = format!("created {} ({})", c.user.email, c.user.id);
                if let Some(p) = &c.temporary_password {
                    s.push_str(&format!("\ntemporary password (shown once): {p}"));
                }
                s
            })
        }
        Users::Update {
            user,
            email,
            role,
            status,
        } => {
            let p = UserPatch {
                email,
                role: args::opt_enum(&role, UserRole::parse)?,
                status: args::opt_enum(&status, UserStatus::parse)?,
            };
            let u = users::update(&db, &op, &user, &p).await?;
            emit(ctx, &u, || one(&u))
        }
        Users::Suspend { user } => {
            let u = users::suspend(&db, &op, &user).await?;
            emit(ctx, &u, || one(&u))
        }
        Users::Reactivate { user } => {
            let u = users::reactivate(&db, &op, &user).await?;
            emit(ctx, &u, || one(&u))
        }
        Users::Delete { user } => {
            let u = ncy_approvals::gated::delete_user(&db, &op, &user).await?;
            emit(ctx, &u, || one(&u))
        }
        Users::Restore { user } => {
            let u = users::restore(&db, &op, &user).await?;
            emit(ctx, &u, || one(&u))
        }
        Users::ResetPassword { user } => {
            let p = users::reset_password(&db, &op, &user).await?;
            emit(ctx, &serde_json::json!({ "temporary_password": p }), || {
                format!("temporary password (shown once): {p}")
            })
        }
        Users::Sessions { user } => {
            let s = users::sessions(&db, &op, &user).await?;
            emit(ctx, &s, || {
                table(
                    &["id", "client", "ip", "created", "expires"],
                    s.iter()
                        .map(|x| {
                            vec![
                                x.id.to_string(),
                                opt(&x.user_agent),
                                opt(&x.ip_address),
                                x.created_at.format("%Y-%m-%d %H:%M").to_string(),
                                format!(
                                    "{}{}",
                                    x.expires_at.format("%Y-%m-%d %H:%M"),
                                    if x.expired { " (expired)" } else { "" }
                                ),
                            ]
                        })
                        .collect(),
                )
            })
        }
        Users::RevokeSession { session } => {
            let sid = args::id("session", &session)?;
            users::revoke_session(&db, &op, sid).await?;
            emit(ctx, &serde_json::json!({ "revoked": sid }), || {
                format!("revoked session {sid}")
            })
        }
        Users::ApiKeys { user } => {
            let k = users::api_keys(&db, &op, &user).await?;
            emit(ctx, &k, || {
                table(
                    &["id", "scopes", "last used", "expires", "created"],
                    k.iter()
                        .map(|x| {
                            vec![
                                x.id.to_string(),
                                x.scopes.join(","),
                                opt(&x.last_used_at),
                                opt(&x.expires_at),
                                x.created_at.format("%Y-%m-%d %H:%M").to_string(),
                            ]
                        })
                        .collect(),
                )
            })
        }
        Users::CreateApiKey {
            user,
            scopes,
            expires,
        } => {
            let k = users::create_api_key(
                &db,
                &op,
                &user,
                &args::list(&scopes),
                args::opt_date("expires", &expires)?,
            )
            .await?;
            emit(ctx, &k, || {
                format!(
                    "created API key {} (scopes {})\nkey (shown once): {}",
                    k.key.id,
                    k.key.scopes.join(","),
                    k.plaintext
                )
            })
        }
        Users::RevokeApiKey { key } => {
            let kid = args::id("key", &key)?;
            users::revoke_api_key(&db, &op, kid).await?;
            emit(ctx, &serde_json::json!({ "revoked": kid }), || {
                format!("revoked API key {kid}")
            })
        }
        Users::GrantRole { user, role } => {
            users::grant_role(&db, &op, &user, &role).await?;
            emit(
                ctx,
                &serde_json::json!({ "granted": role.to_uppercase(), "user": user }),
                || format!("granted {} to {user}", role.to_uppercase()),
            )
        }
        Users::RevokeRole { user, role } => {
            users::revoke_role(&db, &op, &user, &role).await?;
            emit(
                ctx,
                &serde_json::json!({ "revoked": role.to_uppercase(), "user": user }),
                || format!("revoked {} from {user}", role.to_uppercase()),
            )
        }
    }
}
