//! `ncy-admin migrate up | down [--steps N] | status | reset --confirm NAME`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use ncy_core::migrate::{self, MigrationSet};

use crate::ctx::Ctx;
use crate::output::{emit, opt, table};

#[derive(Subcommand, Debug)]
pub enum Migrate {
    /// Apply every pending migration (adopts an existing platform database).
    Up {
        /// Read migrations from this directory instead of the built-in ones.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Roll back the last N applied migrations.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: usize,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Show each migration's state.
    Status {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Development only: roll every migration back, apply them again and load the development
    /// seed (the platform's `db:reset`). Drops all data.
    Reset {
        /// The database's name (PostgreSQL) or the workspace file's name, typed to confirm.
        #[arg(long)]
        confirm: String,
        /// Reset even though the database holds users that are not the development seed's.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

fn set(db: &ncy_core::db::Db, dir: &Option<PathBuf>) -> Result<MigrationSet> {
    Ok(match dir {
        Some(d) => MigrationSet::from_dir(db.dialect(), d)?,
        None => MigrationSet::embedded(db.dialect())?,
    })
}

pub async fn run(ctx: &mut Ctx, m: Migrate) -> Result<()> {
    let db = ctx.raw_db().await?;
    match m {
        Migrate::Up { dir } => {
            let r = migrate::up(&db, &set(&db, &dir)?).await?;
            emit(ctx, &r, || {
                let mut s = String::new();
                for b in &r.baselined {
                    s.push_str(&format!("baselined {b} (tables already present)\n"));
                }
                for a in &r.applied {
                    s.push_str(&format!("applied   {a}\n"));
                }
                if r.indexes_created > 0 {
                    s.push_str(&format!(
                        "ensured {} index(es) of adopted migrations\n",
                        r.indexes_created
                    ));
                }
                if s.is_empty() {
                    s.push_str("schema is up to date\n");
                }
                s
            })
        }
        Migrate::Down { steps, dir } => {
            let r = migrate::down(&db, &set(&db, &dir)?, steps).await?;
            emit(ctx, &r, || {
                if r.rolled_back.is_empty() {
                    "nothing to roll back".into()
                } else {
                    r.rolled_back
                        .iter()
                        .map(|m| format!("rolled back {m}\n"))
                        .collect()
                }
            })
        }
        Migrate::Reset {
            confirm,
            force,
            dir,
        } => {
            let r = ncy_core::seed::reset_dev(&db, &set(&db, &dir)?, &confirm, force).await?;
            emit(ctx, &r, || {
                format!(
                    "reset {}: rolled back {} and applied {} migration(s); development seed loaded ({} users, {} organizations, {} tasks)",
                    r.database,
                    r.rolled_back.len(),
                    r.applied.len(),
                    r.seed.users,
                    r.seed.organizations,
                    r.seed.tasks
                )
            })
        }
        Migrate::Status { dir } => {
            let st = migrate::status(&db, &set(&db, &dir)?).await?;
            emit(ctx, &st, || {
                table(
                    &["version", "name", "state", "applied at"],
                    st.iter()
                        .map(|s| {
                            vec![
                                format!("{:04}", s.version),
                                s.name.clone(),
                                format!("{:?}", s.state).to_lowercase(),
                                opt(&s.applied_at),
                            ]
                        })
                        .collect(),
                )
            })
        }
    }
}
