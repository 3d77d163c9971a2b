//! `ncy-admin migrate up | down [--steps N] | status | reset --confirm NAME | partition-logs`.

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
    /// PostgreSQL only: convert AccessLog, ErrorLog and AuditLog to tables range-partitioned by
    /// month, online (new rows go to the partitions at once; old log rows move in batches,
    /// AuditLog's stay in one legacy partition, its hash chain untouched). Resumes an
    /// interrupted move; on a partitioned table only creates the coming months' partitions.
    PartitionLogs {
        /// AccessLog, ErrorLog or AuditLog (repeatable; default all three).
        #[arg(long = "table")]
        tables: Vec<String>,
        /// Rows moved per transaction.
        #[arg(long, default_value_t = ncy_core::partition::DEFAULT_BATCH)]
        batch: u32,
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
        Migrate::PartitionLogs { tables, batch } => partition_logs(ctx, &db, tables, batch).await,
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

async fn partition_logs(
    ctx: &mut Ctx,
    db: &ncy_core::db::Db,
    tables: Vec<String>,
    batch: u32,
) -> Result<()> {
    use ncy_core::partition;
    let mut opts = partition::Options {
        batch,
        ..Default::default()
    };
    if !tables.is_empty() {
        opts.tables = tables
            .iter()
            .map(|t| partition::table(t))
            .collect::<ncy_core::Result<_>>()?;
    }
    partition::check_target(db)?;
    let job = crate::job::Job::start(ctx, "partition-logs");
    let r = partition::partition_logs(db, &opts, job.work()).await;
    drop(job);
    let r = r?;
    emit(ctx, &r, || {
        table(
            &[
                "table",
                "column",
                "found",
                "action",
                "rows moved",
                "new partitions",
                "partitions",
            ],
            r.iter()
                .map(|t| {
                    vec![
                        t.table.clone(),
                        t.column.clone(),
                        format!("{:?}", t.found).to_lowercase(),
                        t.action.clone(),
                        t.rows_moved.to_string(),
                        t.partitions_created.to_string(),
                        t.partitions.to_string(),
                    ]
                })
                .collect(),
        )
    })
}
