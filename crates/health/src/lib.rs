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
//! Safety: every query runs in a transaction bounded by `SET LOCAL statement_timeout` and
//! `lock_timeout` ([`guard`]); viewing is read-only (`BEGIN READ ONLY`, or `SET TRANSACTION
//! READ ONLY` through a transaction-mode pooler).

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
