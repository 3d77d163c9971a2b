//! The audit trail: writing AuditLog rows with mutations, and reading them back.

mod record;

pub use record::{diff, record, record_as, record_change, redact, Entry, SECRET_FIELDS};
