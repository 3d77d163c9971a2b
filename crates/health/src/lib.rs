//! Database health for NCY Admin: what the NCY_8 seed monitors (pg_stat_statements, slow-query
//! logging, connections, query durations through postgres_exporter + Prometheus), read safely
//! from a live PostgreSQL server and turned into findings a person can act on.
//!
//! - [`report`]: the whole picture ([`HealthReport`]) with a severity and a one-line suggestion
//!   per [`Finding`]; needs `health.read`.
//! - [`statements`], [`logging`], [`activity`]: the explicit, audited actions (reset
//!   pg_stat_statements, set slow-query logging, cancel / terminate a session); need
//!   `health.configure`.
//! - [`prometheus`]: charts over a time window from the Prometheus HTTP API.
//!
//! Safety: every query is bounded by a statement and a lock timeout, and viewing is read-only
//! ([`guard`]): the report's reads run on the health reader, whose sessions start read-only
//! with the timeouts set, or through a transaction-mode pooler under `SET TRANSACTION READ
//! ONLY` and `SET LOCAL` timeouts; the actions run in a transaction bounded by `SET LOCAL`.

// `ncy_core::params![..]` builds a Vec that queries borrow as a slice.
#![allow(clippy::useless_vec)]

pub mod activity;
pub mod backups;
pub mod findings;
pub mod guard;
pub mod logging;
pub mod objects;
pub mod prometheus;
pub mod replication;
pub mod report;
pub mod server;
mod sql;
pub mod sqlite;
pub mod statements;

pub use findings::{Finding, Severity};
pub use report::{report, HealthReport, ReportOptions};
