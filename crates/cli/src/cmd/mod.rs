//! Subcommands, one module per domain.

pub mod migrate;
pub mod seed;
pub mod session;

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
}

pub async fn run(ctx: &mut Ctx, c: Command) -> Result<()> {
    match c {
        Command::Migrate(m) => migrate::run(ctx, m).await,
        Command::Seed(s) => seed::run(ctx, s).await,
        Command::Login {
            email,
            password_stdin,
        } => session::login(ctx, email, password_stdin).await,
        Command::Logout => session::logout(ctx).await,
        Command::Whoami => session::whoami(ctx).await,
    }
}
