//! Domain enums shared by every store and adapter, mirroring the platform's PostgreSQL enums.

use crate::error::{Error, Result};

macro_rules! db_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal, [$($variant:ident),+ $(,)?]) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The SQL enum type name.
            pub const SQL_TYPE: &'static str = stringify!($name);

            /// The value as stored.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            /// Parses a value (case-insensitive), naming the accepted values on error.
            pub fn parse(s: &str) -> Result<Self> {
                let up = s.trim().to_ascii_uppercase().replace('-', "_");
                match up.as_str() {
                    $(stringify!($variant) => Ok($name::$variant),)+
                    _ => Err(Error::invalid($field, format!(
                        "{:?} is not one of {}",
                        s,
                        [$(stringify!($variant)),+].join(", ")
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> { Self::parse(s) }
        }

        impl From<$name> for crate::db::Value {
            fn from(v: $name) -> Self { crate::db::Value::Text(v.as_str().to_owned()) }
        }
        impl From<Option<$name>> for crate::db::Value {
            fn from(v: Option<$name>) -> Self {
                match v {
                    Some(v) => v.into(),
                    None => crate::db::Value::Null(crate::db::Kind::Text),
                }
            }
        }
    };
}

db_enum!(
    /// Platform-wide role of a user.
    UserRole, "role", [ADMIN, MANAGER, EMPLOYEE, SYSTEM]);
db_enum!(
    /// Account status.
    UserStatus, "status", [ACTIVE, INACTIVE, SUSPENDED, PENDING]);
db_enum!(
    /// Role inside an organization.
    OrgRole, "org role", [OWNER, ADMIN, MANAGER, MEMBER]);
db_enum!(
    /// Project status.
    ProjectStatus, "project status", [ACTIVE, INACTIVE, ARCHIVED]);
db_enum!(
    /// Task status.
    TaskStatus, "task status", [TODO, IN_PROGRESS, REVIEW, DONE, CANCELLED]);
db_enum!(
    /// Task priority.
    TaskPriority, "priority", [LOW, MEDIUM, HIGH, URGENT]);
db_enum!(
    /// Error log level.
    LogLevel, "level", [DEBUG, INFO, WARN, ERROR, FATAL]);
db_enum!(
    /// GDPR request type (`DELETE` is the platform's own word for an erasure).
    GdprRequestType, "type", [ACCESS, EXPORT, ERASURE, RECTIFICATION, RESTRICTION, DELETE]);
db_enum!(
    /// GDPR request status (`PENDING` is the platform's own word for received).
    GdprRequestStatus, "status", [PENDING, RECEIVED, VERIFYING_IDENTITY, IN_PROGRESS, COMPLETED, REJECTED]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_case_insensitively_and_name_accepted_values() {
        assert_eq!(UserRole::parse("admin").unwrap(), UserRole::ADMIN);
        assert_eq!(
            TaskStatus::parse("in-progress").unwrap(),
            TaskStatus::IN_PROGRESS
        );
        let e = UserStatus::parse("BANNED").unwrap_err().to_string();
        assert!(
            e.contains("status") && e.contains("ACTIVE, INACTIVE, SUSPENDED, PENDING"),
            "{e}"
        );
    }
}
