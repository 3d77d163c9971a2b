//! Findings: one line saying what is wrong, its severity, and one line saying what to do.

use serde::Serialize;

/// How urgent a finding is (ordered: `Info < Warning < Critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong yet.
    Info,
    /// Degrades performance or safety; act soon.
    Warning,
    /// Breaks or endangers the service; act now.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One finding of a health check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Finding {
    pub severity: Severity,
    /// The report section it belongs to (`connections`, `indexes`, `activity`, ...).
    pub section: String,
    /// What was found, with the numbers that matter.
    pub title: String,
    /// One line saying what to do about it.
    pub suggestion: String,
    /// For a finding about one object, a stable key naming the kind of finding and the object,
    /// so a screen can show it on that object's row whatever the title's wording:
    /// `unused_index:schema.name`, `invalid_index:schema.name`,
    /// `duplicate_indexes:schema.table:index,index,...`, `fk_without_index:schema.table.constraint`,
    /// `dead_tuples:schema.name`, `idle_in_transaction:pid`, `long_transaction:pid`,
    /// `blocked:pid`, `replica_lag:application`, `inactive_slot:name`,
    /// `log_statement:all`, `log_min_duration_statement:-1|0`, `backup_age:newest_verified`.
    /// Adapters also use it to add their own way to act on the finding. `None` for summaries.
    pub about: Option<String>,
}

impl Finding {
    /// Builds a finding.
    pub fn new(
        severity: Severity,
        section: &str,
        title: impl Into<String>,
        suggestion: impl Into<String>,
    ) -> Self {
        Finding {
            severity,
            section: section.to_owned(),
            title: title.into(),
            suggestion: suggestion.into(),
            about: None,
        }
    }

    /// The same finding, tied to one object (see [`Finding::about`]).
    pub fn about(mut self, kind: &str, object: impl std::fmt::Display) -> Self {
        self.about = Some(format!("{kind}:{object}"));
        self
    }
}

/// Human-readable byte size (`40.0 MB`).
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v.abs() >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Human-readable duration from seconds (`3 h 12 min`, `45 s`).
pub fn secs(s: f64) -> String {
    let s = s.max(0.0);
    if s < 60.0 {
        format!("{s:.0} s")
    } else if s < 3600.0 {
        format!("{:.0} min {:.0} s", (s / 60.0).floor(), s % 60.0)
    } else if s < 86400.0 {
        format!(
            "{:.0} h {:.0} min",
            (s / 3600.0).floor(),
            (s % 3600.0) / 60.0
        )
    } else {
        format!(
            "{:.0} d {:.0} h",
            (s / 86400.0).floor(),
            (s % 86400.0) / 3600.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(40 * 1024 * 1024), "40.0 MB");
        assert_eq!(secs(45.2), "45 s");
        assert_eq!(secs(3725.0), "1 h 2 min");
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
    }
}
