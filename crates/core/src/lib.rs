//! NCY Admin core: every behaviour of the product, independent of any UI.
//!
//! - [`db`]: one SQL surface over PostgreSQL (sqlx) and the local SQLite workspace (rusqlite).
//! - [`migrate`]: the platform schema as migrations for both stores, drift checks, adoption.
//! - [`auth`]: operators, passwords, login, lockout, RBAC.
//! - [`audit`]: AuditLog rows written in the same transaction as each change.
//! - [`admin`]: users, organizations, teams, projects, tasks, log viewers.
//! - [`seed`]: development and synthetic data.
//! - [`work`]: the progress/cancel contract of long work.

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod db;
pub mod error;
pub mod export;
pub mod migrate;
pub mod model;
pub mod partition;
pub mod secrets;
pub mod seed;
pub mod work;

pub use error::{Error, ErrorCode, Result};
pub use work::{Progress, Work};

/// The product version (`ncy-admin/<version>` in audit user agents).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
