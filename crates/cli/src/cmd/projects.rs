//! `ncy-admin projects ...`.

use anyhow::Result;
use clap::Subcommand;
use ncy_core::admin::projects::{self, Project, ProjectPatch};
use ncy_core::admin::validate_json_object;
use ncy_core::model::ProjectStatus;

use super::args;
use crate::ctx::Ctx;
use crate::output::{emit, emit_page, table};

#[derive(Subcommand, Debug)]
pub enum Projects {
    List {
        /// Organization id or slug.
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        include_deleted: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        after: Option<String>,
    },
    Show {
        id: String,
    },
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        settings: Option<String>,
    },
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        settings: Option<String>,
    },
    Archive {
        id: String,
    },
    Delete {
        id: String,
    },
    Restore {
        id: String,
    },
}

fn rows(ps: &[Project]) -> Vec<Vec<String>> {
    ps.iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                p.name.clone(),
                p.status.to_string(),
                p.created_at.format("%Y-%m-%d").to_string(),
                p.deleted_at
                    .map(|_| "deleted".to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect()
}

fn one(p: &Project) -> String {
    table(
        &["id", "name", "status", "created", ""],
        rows(std::slice::from_ref(p)),
    )
}

pub async fn run(ctx: &mut Ctx, c: Projects) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    match c {
        Projects::List {
            org,
            status,
            include_deleted,
            limit,
            after,
        } => {
            let p = projects::list(
                &db,
                &op,
                org.as_deref(),
                args::opt_enum(&status, ProjectStatus::parse)?,
                include_deleted,
                limit,
                after.as_deref(),
            )
            .await?;
            emit_page(ctx, &p, || {
                table(&["id", "name", "status", "created", ""], rows(&p.items))
            })
        }
        Projects::Show { id } => {
            let p = projects::get(&db, &op, args::id("project", &id)?).await?;
            emit(ctx, &p, || {
                format!(
                    "{}\n{}\nsettings: {}",
                    one(&p),
                    p.description.clone().unwrap_or_default(),
                    p.settings
                )
            })
        }
        Projects::Create {
            org,
            name,
            description,
            settings,
        } => {
            let settings = settings
                .as_deref()
                .map(|s| validate_json_object("settings", s))
                .transpose()?;
            let p =
                projects::create(&db, &op, &org, &name, description.as_deref(), settings).await?;
            emit(ctx, &p, || one(&p))
        }
        Projects::Update {
            id,
            name,
            description,
            status,
            settings,
        } => {
            let patch = ProjectPatch {
                name,
                description: description.map(Some),
                status: args::opt_enum(&status, ProjectStatus::parse)?,
                settings: settings
                    .as_deref()
                    .map(|s| validate_json_object("settings", s))
                    .transpose()?,
            };
            let p = projects::update(&db, &op, args::id("project", &id)?, &patch).await?;
            emit(ctx, &p, || one(&p))
        }
        Projects::Archive { id } => {
            let p = projects::archive(&db, &op, args::id("project", &id)?).await?;
            emit(ctx, &p, || one(&p))
        }
        Projects::Delete { id } => {
            let p = projects::delete(&db, &op, args::id("project", &id)?).await?;
            emit(ctx, &p, || one(&p))
        }
        Projects::Restore { id } => {
            let p = projects::restore(&db, &op, args::id("project", &id)?).await?;
            emit(ctx, &p, || one(&p))
        }
    }
}
