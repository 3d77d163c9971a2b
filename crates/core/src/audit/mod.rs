//! The audit trail: writing AuditLog rows with mutations, and reading them back.

pub mod query;
mod record;

pub use query::{AuditEntry, AuditFilter, Format};
pub use record::{
    diff, record, record_as, record_change, record_many, redact, Entry, SECRET_FIELDS,
};
