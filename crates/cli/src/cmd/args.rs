//! Parsing helpers shared by subcommands: every failure is an `Error::Invalid` naming the flag.

use chrono::NaiveDateTime;
use ncy_core::db::parse_ts;
use ncy_core::Error;
use uuid::Uuid;

/// Parses a date or date-time (`2026-01-31`, `2026-01-31 12:00`, ISO-8601), UTC.
pub fn date(field: &str, s: &str) -> Result<NaiveDateTime, Error> {
    parse_ts(s).ok_or_else(|| {
        Error::invalid(
            field,
            format!("{s:?} is not a date (use YYYY-MM-DD or \"YYYY-MM-DD HH:MM\")"),
        )
    })
}

/// Parses an optional date.
pub fn opt_date(field: &str, s: &Option<String>) -> Result<Option<NaiveDateTime>, Error> {
    s.as_deref().map(|s| date(field, s)).transpose()
}

/// Parses a UUID argument.
pub fn id(field: &str, s: &str) -> Result<Uuid, Error> {
    ncy_core::admin::parse_id(field, s)
}

/// Parses an optional enum value with the core's message.
pub fn opt_enum<T>(
    s: &Option<String>,
    parse: fn(&str) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    s.as_deref().map(parse).transpose()
}

/// Splits a comma-separated list.
pub fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}
