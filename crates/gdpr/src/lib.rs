//! GDPR data-subject requests for NCY Admin, on PostgreSQL and on the local SQLite store.
//!
//! - [`request`]: intake, the queue (sorted by due date, overdue flagged), identity
//!   verification, extension, rejection, completion. Requests filed by the platform (type
//!   `DELETE`, status `PENDING`) are read and worked like the client's own.
//! - [`export`]: the Art. 15/20 bundle (a folder with `manifest.json`, one JSON file per table,
//!   `summary.md`), streamed with progress and cancellation (an operator's own login reads
//!   through the checked entry points of migration 0023).
//! - [`erase`]: the Art. 17 erasure ([`erase::POLICY`]), the [`sweep`] proving no trace is left,
//!   and the receipt kept on the request.
//! - [`retention`], [`consent`], [`hold`] (legal holds that block erasure).
//!
//! Every function takes the acting [`Operator`](ncy_core::auth::Operator), checks `gdpr.read`
//! (viewing) or `gdpr.handle` (everything else) first, and writes its AuditLog rows in the same
//! transaction as the change. All result types are `serde::Serialize` for the CLI and the desktop.

// `ncy_core::params!` builds a Vec that call sites borrow as a slice.
#![allow(clippy::useless_vec)]

pub mod consent;
pub mod erase;
pub mod export;
pub mod hold;
pub mod request;
pub mod retention;
mod rows;
mod schema;
pub mod subject;
pub mod sweep;
mod terms;

pub use request::{Queue, QueueFilter, Request, RequestDetail, RequestKind, RequestState};

/// Progress of long work (export, erasure, sweep, retention): core's one contract.
pub use ncy_core::Progress;
