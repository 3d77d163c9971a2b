//! Secrets in the OS keychain (keyring), with the fallback the CLI needs on headless servers:
//! a short-lived token in a 0600 file under `$XDG_RUNTIME_DIR`. Passwords are never stored by
//! the fallback; callers decide what may fall back.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Where a secret ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Keychain,
    /// The keychain was unreachable; the secret is in this 0600 file.
    RuntimeFile(PathBuf),
}

/// Whether an OS keychain answers: writes and deletes a throwaway entry.
pub fn probe_keychain() -> Result<()> {
    let probe = Secret::new("ncy-desktop-probe");
    probe.set_keychain("probe")?;
    let _ = probe.delete();
    Ok(())
}

/// A named secret in the keychain: service `ncy-admin`, account `account`.
pub struct Secret {
    service: String,
    account: String,
}

fn keychain_err(e: keyring::Error) -> Error {
    Error::Keychain(format!(
        "{e}. No usable OS keychain (Secret Service) is running; start one (e.g. gnome-keyring) or use a session-only password"
    ))
}

impl Secret {
    /// A secret of the `ncy-admin` service.
    pub fn new(account: impl Into<String>) -> Self {
        Secret {
            service: "ncy-admin".into(),
            account: account.into(),
        }
    }

    fn entry(&self) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, &self.account).map_err(keychain_err)
    }

    fn runtime_file(&self) -> Option<PathBuf> {
        let dir = runtime_dir()?;
        let safe: String = self
            .account
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Some(dir.join("ncy-admin").join(format!("{safe}.token")))
    }

    /// Stores in the keychain only.
    pub fn set_keychain(&self, value: &str) -> Result<()> {
        self.entry()?.set_password(value).map_err(keychain_err)
    }

    /// Stores in the keychain, or (when it is unreachable) in a 0600 runtime file.
    pub fn set_with_fallback(&self, value: &str) -> Result<Stored> {
        match self.set_keychain(value) {
            Ok(()) => Ok(Stored::Keychain),
            Err(k) => {
                let path = self.runtime_file().ok_or(k)?;
                write_private(&path, value)?;
                Ok(Stored::RuntimeFile(path))
            }
        }
    }

    /// Reads the secret from the keychain, then from the runtime file.
    pub fn get(&self) -> Result<Option<String>> {
        let from_keychain = self
            .entry()
            .and_then(|e| match e.get_password() {
                Ok(v) => Ok(Some(v)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(keychain_err(e)),
            })
            .unwrap_or_default();
        if from_keychain.is_some() {
            return Ok(from_keychain);
        }
        if let Some(path) = self.runtime_file() {
            match std::fs::read_to_string(&path) {
                Ok(s) => return Ok(Some(s.trim().to_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
            }
        }
        Ok(None)
    }

    /// Deletes the secret everywhere it may be. Returns true when something was deleted.
    pub fn delete(&self) -> Result<bool> {
        let mut any = false;
        if let Ok(e) = self.entry() {
            if e.delete_credential().is_ok() {
                any = true;
            }
        }
        if let Some(path) = self.runtime_file() {
            if std::fs::remove_file(&path).is_ok() {
                any = true;
            }
        }
        Ok(any)
    }
}

/// `$XDG_RUNTIME_DIR`, else `/run/user/<uid>`, else a per-user directory in the temp dir.
fn runtime_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    #[cfg(unix)]
    {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let run = PathBuf::from(format!("/run/user/{uid}"));
        if run.is_dir() {
            return Some(run);
        }
        return Some(std::env::temp_dir().join(format!("ncy-admin-{uid}")));
    }
    #[allow(unreachable_code)]
    None
}

fn write_private(path: &std::path::Path, value: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        b.mode(0o700);
        b.create(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    let mut f = o
        .open(path)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    f.write_all(value.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
