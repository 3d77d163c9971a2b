//! Subcommands, one module per domain.

pub mod approvals;
pub mod args;
pub mod audit;
pub mod backup;
pub mod gdpr;
pub mod health;
pub mod migrate;
pub mod operators;
pub mod orgs;
pub mod projects;
pub mod seed;
pub mod session;
pub mod settings;
pub mod sync;
pub mod tasks;
pub mod users;

use anyhow::Result;
use clap::Subcommand;

use crate::ctx::Ctx;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Schema migrations: up, down, status.
    #[command(subcommand)]
    Migrate(migrate::Migrate),
    /// Development or synthetic data.
    #[command(subcommand)]
    Seed(seed::Seed),
    /// Log in as an operator (the session token goes to the OS keychain).
    Login {
        #[arg(long)]
        email: String,
        /// Read the password from stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End the operator session.
    Logout,
    /// Show the logged-in operator and their permissions.
    Whoami,
    /// Dashboard figures: users, organizations, projects, open and overdue tasks, audit activity.
    Stats,
    /// Users, sessions, API keys and roles.
    #[command(subcommand)]
    Users(users::Users),
    /// Operators' own PostgreSQL logins: provision, list, rotate, revoke.
    #[command(subcommand)]
    Operators(operators::Operators),
    /// Organizations and their members.
    #[command(subcommand)]
    Orgs(orgs::Orgs),
    /// Teams of an organization.
    #[command(subcommand)]
    Teams(orgs::Teams),
    /// Projects.
    #[command(subcommand)]
    Projects(projects::Projects),
    /// Tasks, including bulk updates in one transaction.
    #[command(subcommand)]
    Tasks(tasks::Tasks),
    /// The audit trail: list and export.
    #[command(subcommand)]
    Audit(audit::Audit),
    /// Access and error logs (read-only).
    #[command(subcommand)]
    Logs(audit::Logs),
    /// Global settings (lockout policy, session lifetime, ...).
    #[command(subcommand)]
    Settings(settings::Settings),
    /// Backups proven restorable: create, verify, list, prune, restore, PITR readiness.
    #[command(subcommand)]
    Backup(backup::Backup),
    /// Database health: report with findings, top statements, logging, sessions, Prometheus.
    Health(health::Health),
    /// GDPR data-subject requests: queue, identity, export, erasure, retention, consents.
    #[command(subcommand)]
    Gdpr(gdpr::Gdpr),
    /// Offline cache of this server: init, status, pull, push, run, conflicts, resolve, edit.
    #[command(subcommand)]
    Sync(sync::Sync),
    /// Four-eyes approvals of destructive actions: list, show, approve, reject, cancel.
    #[command(subcommand)]
    Approvals(approvals::Approvals),
}

/// Commands that may run with `--offline`: reads, and task edits (queued in the outbox for the
/// next `sync push`). Any other change would land in the cache only and be lost at the next
/// pull, so it is refused here, before anything is opened, with a message saying why. The
/// operator itself is cut to the same rule (`ncy_sync::cache::allowed_offline`, shared with the
/// window's offline mode).
fn works_offline(c: &Command) -> bool {
    match c {
        Command::Whoami
        | Command::Stats
        | Command::Audit(_)
        | Command::Logs(_)
        | Command::Health(_)
        | Command::Sync(_) => true,
        Command::Users(u) => matches!(
            u,
            users::Users::List { .. }
                | users::Users::Show { .. }
                | users::Users::Sessions { .. }
                | users::Users::ApiKeys { .. }
        ),
        Command::Orgs(o) => matches!(
            o,
            orgs::Orgs::List { .. }
                | orgs::Orgs::Show { .. }
                | orgs::Orgs::Members(orgs::Members::List { .. })
        ),
        Command::Teams(t) => matches!(t, orgs::Teams::List { .. }),
        Command::Projects(p) => matches!(
            p,
            projects::Projects::List { .. } | projects::Projects::Show { .. }
        ),
        Command::Tasks(t) => matches!(
            t,
            tasks::Tasks::List { .. } | tasks::Tasks::Show { .. } | tasks::Tasks::Update { .. }
        ),
        Command::Settings(s) => matches!(s, settings::Settings::List),
        Command::Backup(b) => matches!(b, backup::Backup::List { .. } | backup::Backup::Check),
        Command::Gdpr(g) => matches!(
            g,
            gdpr::Gdpr::List { .. }
                | gdpr::Gdpr::Show { .. }
                | gdpr::Gdpr::Consent(gdpr::ConsentCmd::List { .. })
        ),
        Command::Approvals(a) => matches!(
            a,
            approvals::Approvals::List { .. } | approvals::Approvals::Show { .. }
        ),
        Command::Migrate(_)
        | Command::Seed(_)
        | Command::Login { .. }
        | Command::Logout
        | Command::Operators(_) => false,
    }
}

pub async fn run(ctx: &mut Ctx, c: Command) -> Result<()> {
    if ctx.global.offline && !works_offline(&c) {
        return Err(ncy_core::Error::invalid(
            "--offline",
            "this command changes data, and the offline cache takes only reads and `tasks update` \
             (queued for the next `sync push`); run it without --offline when the server is reachable",
        )
        .into());
    }
    match c {
        Command::Migrate(m) => migrate::run(ctx, m).await,
        Command::Seed(s) => seed::run(ctx, s).await,
        Command::Login {
            email,
            password_stdin,
        } => session::login(ctx, email, password_stdin).await,
        Command::Logout => session::logout(ctx).await,
        Command::Whoami => session::whoami(ctx).await,
        Command::Stats => session::stats(ctx).await,
        Command::Users(c) => users::run(ctx, c).await,
        Command::Operators(c) => operators::run(ctx, c).await,
        Command::Orgs(c) => orgs::run(ctx, c).await,
        Command::Teams(c) => orgs::run_teams(ctx, c).await,
        Command::Projects(c) => projects::run(ctx, c).await,
        Command::Tasks(c) => tasks::run(ctx, c).await,
        Command::Audit(c) => audit::run(ctx, c).await,
        Command::Logs(c) => audit::run_logs(ctx, c).await,
        Command::Settings(c) => settings::run(ctx, c).await,
        Command::Backup(c) => backup::run(ctx, c).await,
        Command::Health(c) => health::run(ctx, c).await,
        Command::Gdpr(c) => gdpr::run(ctx, c).await,
        Command::Sync(c) => sync::run(ctx, c).await,
        Command::Approvals(c) => approvals::run(ctx, c).await,
    }
}
