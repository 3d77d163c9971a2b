//! `ncy-admin orgs ...` and `ncy-admin teams ...`.

use anyhow::Result;
use clap::Subcommand;
use ncy_core::admin::orgs::{self, Organization};
use ncy_core::admin::validate_json_object;
use ncy_core::model::OrgRole;

use crate::ctx::Ctx;
use crate::output::{emit, emit_page, table};

#[derive(Subcommand, Debug)]
pub enum Orgs {
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        include_deleted: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        after: Option<String>,
    },
    /// Show an organization (id or slug) with members and teams.
    Show {
        org: String,
    },
    /// Create an organization; the owner becomes an OWNER member.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        /// Owner: user id or email.
        #[arg(long)]
        owner: String,
        /// Settings JSON object.
        #[arg(long)]
        settings: Option<String>,
    },
    Rename {
        org: String,
        name: String,
    },
    /// Replace the settings JSON object.
    Settings {
        org: String,
        #[arg(value_name = "JSON")]
        settings: String,
    },
    /// Transfer ownership to another user (the old owner stays as ADMIN member).
    Transfer {
        org: String,
        new_owner: String,
    },
    Delete {
        org: String,
    },
    Restore {
        org: String,
    },
    /// Members: list, add, set-role, remove.
    #[command(subcommand)]
    Members(Members),
}

#[derive(Subcommand, Debug)]
pub enum Members {
    List {
        org: String,
    },
    Add {
        org: String,
        user: String,
        #[arg(long, default_value = "MEMBER")]
        role: String,
    },
    SetRole {
        org: String,
        user: String,
        role: String,
    },
    Remove {
        org: String,
        user: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum Teams {
    List {
        org: String,
    },
    Create {
        org: String,
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    Rename {
        org: String,
        team: String,
        name: String,
    },
    Delete {
        org: String,
        team: String,
    },
    AddMember {
        org: String,
        team: String,
        user: String,
    },
    RemoveMember {
        org: String,
        team: String,
        user: String,
    },
}

fn org_rows(os: &[Organization]) -> Vec<Vec<String>> {
    os.iter()
        .map(|o| {
            vec![
                o.id.to_string(),
                o.slug.clone(),
                o.name.clone(),
                o.created_at.format("%Y-%m-%d").to_string(),
                o.deleted_at
                    .map(|_| "deleted".to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect()
}

fn one(o: &Organization) -> String {
    table(
        &["id", "slug", "name", "created", ""],
        org_rows(std::slice::from_ref(o)),
    )
}

pub async fn run(ctx: &mut Ctx, c: Orgs) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    match c {
        Orgs::List {
            search,
            include_deleted,
            limit,
            after,
        } => {
            let p = orgs::list(
                &db,
                &op,
                search.as_deref(),
                include_deleted,
                limit,
                after.as_deref(),
            )
            .await?;
            emit_page(ctx, &p, || {
                table(&["id", "slug", "name", "created", ""], org_rows(&p.items))
            })
        }
        Orgs::Show { org } => {
            let d = orgs::get(&db, &op, &org).await?;
            emit(ctx, &d, || {
                let mut s = one(&d.organization);
                s.push_str(&format!(
                    "\nowner: {}\nprojects: {}\nsettings: {}\n\nmembers:\n",
                    d.owner_email, d.projects, d.organization.settings
                ));
                s.push_str(&table(
                    &["email", "role", "joined"],
                    d.members
                        .iter()
                        .map(|m| {
                            vec![
                                m.email.clone(),
                                m.role.to_string(),
                                m.joined_at.format("%Y-%m-%d").to_string(),
                            ]
                        })
                        .collect(),
                ));
                s.push_str("\n\nteams:\n");
                s.push_str(&table(
                    &["name", "members"],
                    d.teams
                        .iter()
                        .map(|t| vec![t.name.clone(), t.members.join(", ")])
                        .collect(),
                ));
                s
            })
        }
        Orgs::Create {
            name,
            slug,
            owner,
            settings,
        } => {
            let settings = settings
                .as_deref()
                .map(|s| validate_json_object("settings", s))
                .transpose()?;
            let o = orgs::create(&db, &op, &name, &slug, &owner, settings).await?;
            emit(ctx, &o, || one(&o))
        }
        Orgs::Rename { org, name } => {
            let o = orgs::rename(&db, &op, &org, &name).await?;
            emit(ctx, &o, || one(&o))
        }
        Orgs::Settings { org, settings } => {
            let o =
                orgs::set_settings(&db, &op, &org, validate_json_object("settings", &settings)?)
                    .await?;
            emit(ctx, &o, || format!("{}\nsettings: {}", one(&o), o.settings))
        }
        Orgs::Transfer { org, new_owner } => {
            let o = orgs::transfer(&db, &op, &org, &new_owner).await?;
            emit(ctx, &o, || format!("{} now owned by {new_owner}", o.slug))
        }
        Orgs::Delete { org } => {
            let o = ncy_approvals::gated::delete_org(&db, &op, &org).await?;
            emit(ctx, &o, || one(&o))
        }
        Orgs::Restore { org } => {
            let o = orgs::restore(&db, &op, &org).await?;
            emit(ctx, &o, || one(&o))
        }
        Orgs::Members(m) => match m {
            Members::List { org } => {
                let ms = orgs::list_members(&db, &op, &org).await?;
                emit(ctx, &ms, || {
                    table(
                        &["user", "email", "role", "joined"],
                        ms.iter()
                            .map(|m| {
                                vec![
                                    m.user_id.to_string(),
                                    m.email.clone(),
                                    m.role.to_string(),
                                    m.joined_at.format("%Y-%m-%d").to_string(),
                                ]
                            })
                            .collect(),
                    )
                })
            }
            Members::Add { org, user, role } | Members::SetRole { org, user, role } => {
                let role = OrgRole::parse(&role)?;
                orgs::set_member(&db, &op, &org, &user, role).await?;
                emit(
                    ctx,
                    &serde_json::json!({ "org": org, "user": user, "role": role }),
                    || format!("{user} is {role} of {org}"),
                )
            }
            Members::Remove { org, user } => {
                orgs::remove_member(&db, &op, &org, &user).await?;
                emit(
                    ctx,
                    &serde_json::json!({ "org": org, "removed": user }),
                    || format!("removed {user} from {org}"),
                )
            }
        },
    }
}

pub async fn run_teams(ctx: &mut Ctx, c: Teams) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    match c {
        Teams::List { org } => {
            let ts = orgs::list_teams(&db, &op, &org).await?;
            emit(ctx, &ts, || {
                table(
                    &["id", "name", "members", "description"],
                    ts.iter()
                        .map(|t| {
                            vec![
                                t.id.to_string(),
                                t.name.clone(),
                                t.members.join(", "),
                                t.description.clone().unwrap_or_default(),
                            ]
                        })
                        .collect(),
                )
            })
        }
        Teams::Create {
            org,
            name,
            description,
        } => {
            let t = orgs::create_team(&db, &op, &org, &name, description.as_deref()).await?;
            emit(ctx, &t, || format!("created team {} ({})", t.name, t.id))
        }
        Teams::Rename { org, team, name } => {
            orgs::rename_team(&db, &op, &org, &team, &name).await?;
            emit(
                ctx,
                &serde_json::json!({ "team": team, "name": name }),
                || format!("renamed {team} to {name}"),
            )
        }
        Teams::Delete { org, team } => {
            orgs::delete_team(&db, &op, &org, &team).await?;
            emit(ctx, &serde_json::json!({ "deleted": team }), || {
                format!("deleted team {team}")
            })
        }
        Teams::AddMember { org, team, user } => {
            orgs::team_member(&db, &op, &org, &team, &user, true).await?;
            emit(
                ctx,
                &serde_json::json!({ "team": team, "added": user }),
                || format!("added {user} to {team}"),
            )
        }
        Teams::RemoveMember { org, team, user } => {
            orgs::team_member(&db, &op, &org, &team, &user, false).await?;
            emit(
                ctx,
                &serde_json::json!({ "team": team, "removed": user }),
                || format!("removed {user} from {team}"),
            )
        }
    }
}
