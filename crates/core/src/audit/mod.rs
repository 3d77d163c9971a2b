//! The audit trail: writing AuditLog rows with mutations, reading them back, and verifying the
//! hash chain PostgreSQL keeps over them.

pub mod query;
mod record;
pub mod verify;

pub use query::{AuditEntry, AuditFilter, Format};
pub use record::{
    diff, record, record_as, record_change, record_many, redact, Entry, SECRET_FIELDS,
};
pub use verify::{verify, ChainReport};
