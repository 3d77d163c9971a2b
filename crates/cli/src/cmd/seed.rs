//! `ncy-admin seed dev [--force]` and `seed synthetic --users N --orgs N --tasks N --audit N`.

use anyhow::Result;
use clap::Subcommand;
use ncy_core::seed::{self, SyntheticSpec};

use crate::ctx::Ctx;
use crate::output::emit;

#[derive(Subcommand, Debug)]
pub enum Seed {
    /// The platform's development data (admin/manager/employee, Test Organization, ...).
    Dev {
        /// Seed even though the database holds other users (never on production).
        #[arg(long)]
        force: bool,
    },
    /// Deterministic large data for benchmarks and tests.
    Synthetic {
        #[arg(long, default_value_t = 1000)]
        users: u64,
        #[arg(long, default_value_t = 10)]
        orgs: u64,
        #[arg(long, default_value_t = 10000)]
        tasks: u64,
        #[arg(long, default_value_t = 0)]
        audit: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(ctx: &mut Ctx, s: Seed) -> Result<()> {
    let db = ctx.db().await?;
    let started = std::time::Instant::now();
    let rep = match s {
        Seed::Dev { force } => seed::dev(&db, force).await?,
        Seed::Synthetic {
            users,
            orgs,
            tasks,
            audit,
            seed,
            force,
        } => {
            seed::synthetic(
                &db,
                SyntheticSpec {
                    users,
                    orgs,
                    tasks,
                    audit,
                    seed,
                },
                force,
            )
            .await?
        }
    };
    emit(ctx, &rep, || {
        if rep.total() == 0 {
            "nothing to do: the seed data is already present".into()
        } else {
            format!(
                "seeded {} users, {} organizations, {} memberships, {} teams, {} projects, {} tasks, {} audit rows in {:.1} s",
                rep.users, rep.organizations, rep.members, rep.teams, rep.projects, rep.tasks, rep.audit,
                started.elapsed().as_secs_f64()
            )
        }
    })
}
