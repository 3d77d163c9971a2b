//! The backup folder: the only place whose files backups read (verify, restore) or delete
//! (prune) when the path comes from a `BackupSnapshot` row. Anyone who can write that table
//! could plant a row naming any file on this machine; such a row is refused, never followed.

use std::path::{Component, Path, PathBuf};

use ncy_core::{Error, Result};

/// Where `path` really is, when it lies inside `folder` (both canonicalized: symlinks and
/// `..` resolved). A missing file is judged by its parent directory. `Err` says why not.
pub(crate) fn inside(folder: &Path, path: &Path) -> std::result::Result<PathBuf, String> {
    let root = std::fs::canonicalize(folder).map_err(|e| {
        format!(
            "the backup folder {} cannot be resolved ({e})",
            folder.display()
        )
    })?;
    let real = if std::fs::symlink_metadata(path).is_ok() {
        std::fs::canonicalize(path)
            .map_err(|e| format!("{} cannot be resolved ({e})", path.display()))?
    } else {
        let name = match path.components().next_back() {
            Some(Component::Normal(n)) => n.to_owned(),
            _ => return Err(format!("{} does not name a file", path.display())),
        };
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::canonicalize(parent)
            .map_err(|e| format!("{} cannot be resolved ({e})", parent.display()))?
            .join(name)
    };
    if real.starts_with(&root) && real != root {
        Ok(real)
    } else {
        Err(format!(
            "{} is outside the backup folder {}",
            path.display(),
            root.display()
        ))
    }
}

/// [`inside`] as the error verify and restore return for a row pointing elsewhere.
pub(crate) fn require_inside(folder: &Path, path: &Path) -> Result<PathBuf> {
    inside(folder, path).map_err(|why| {
        Error::conflict(
            "backup_folder",
            format!(
                "{why}: its BackupSnapshot row was not written for this folder (it may have been planted), so the file is neither read nor deleted"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_under_the_folder_pass() {
        let d = tempfile::tempdir().unwrap();
        let folder = d.path().join("backups");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("a.dump"), b"x").unwrap();
        std::fs::write(d.path().join("secret"), b"x").unwrap();
        assert!(inside(&folder, &folder.join("a.dump")).is_ok());
        assert!(inside(&folder, &folder.join("missing.dump")).is_ok());
        assert!(inside(&folder, &d.path().join("secret")).is_err());
        assert!(inside(&folder, &folder.join("../secret")).is_err());
        assert!(inside(&folder, &folder.join("../missing")).is_err());
        assert!(inside(&folder, &folder).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.path().join("secret"), folder.join("link.dump")).unwrap();
            let e = inside(&folder, &folder.join("link.dump")).unwrap_err();
            assert!(e.contains("outside the backup folder"), "{e}");
        }
        let e = inside(&d.path().join("nope"), &folder.join("a.dump")).unwrap_err();
        assert!(e.contains("cannot be resolved"), "{e}");
    }
}
