//! Where the app keeps its files, resolved once for the CLI and the window alike.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// The app's directories. `NCY_DATA_DIR` (when set and not empty) holds everything, the
/// configuration in its `config/` folder; otherwise the OS data and config directories'
/// `ncy-admin` folders. `NCY_BACKUP_DIR` moves the backups alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Data: the local workspace, sync caches, backups, exports.
    pub data: PathBuf,
    /// Configuration: connection profiles, settings.
    pub config: PathBuf,
    backups: Option<PathBuf>,
}

fn set(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

impl Paths {
    /// From the environment (see the type's documentation).
    pub fn detect() -> Result<Paths> {
        let backups = set("NCY_BACKUP_DIR").map(PathBuf::from);
        if let Some(d) = set("NCY_DATA_DIR").map(PathBuf::from) {
            return Ok(Paths {
                config: d.join("config"),
                data: d,
                backups,
            });
        }
        let none = || Error::Config("no user data directory: set HOME or NCY_DATA_DIR".into());
        Ok(Paths {
            data: dirs::data_dir().ok_or_else(none)?.join("ncy-admin"),
            config: dirs::config_dir().ok_or_else(none)?.join("ncy-admin"),
            backups,
        })
    }

    /// All under one directory (tests, portable installs).
    pub fn under(dir: impl Into<PathBuf>) -> Paths {
        let d = dir.into();
        Paths {
            config: d.join("config"),
            data: d,
            backups: None,
        }
    }

    /// The local workspace file.
    pub fn workspace(&self) -> PathBuf {
        self.data.join("workspace.db")
    }

    /// The connection profiles file.
    pub fn profiles(&self) -> PathBuf {
        self.config.join("profiles.json")
    }

    /// The offline sync caches' directory.
    pub fn caches(&self) -> PathBuf {
        self.data.join("cache")
    }

    /// The default backup directory (`NCY_BACKUP_DIR` when set).
    pub fn backups(&self) -> PathBuf {
        self.backups
            .clone()
            .unwrap_or_else(|| self.data.join("backups"))
    }

    /// Where GDPR exports go by default.
    pub fn gdpr_exports(&self) -> PathBuf {
        self.data.join("gdpr-exports")
    }
}

#[cfg(test)]
mod tests {
    use super::Paths;

    #[test]
    fn one_directory_holds_everything() {
        let p = Paths::under("/tmp/ncy");
        assert_eq!(p.workspace(), std::path::Path::new("/tmp/ncy/workspace.db"));
        assert_eq!(
            p.profiles(),
            std::path::Path::new("/tmp/ncy/config/profiles.json")
        );
        assert_eq!(p.caches(), std::path::Path::new("/tmp/ncy/cache"));
        assert_eq!(p.backups(), std::path::Path::new("/tmp/ncy/backups"));
    }
}
