//! Files: writing a backup under a temporary name while hashing it, publishing it under its
//! final name only when complete, hashing an existing file.

use std::path::{Path, PathBuf};

use ncy_core::{Error, Result};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Work;

const CHUNK: usize = 256 * 1024;

/// A file being written; removed on drop unless [`Partial::publish`]ed.
pub(crate) struct Partial {
    pub path: PathBuf,
    armed: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn dir_error(dir: &Path, e: std::io::Error) -> Error {
    let hint = match e.kind() {
        std::io::ErrorKind::PermissionDenied => " (permission denied)",
        std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
            " (a file of that name is in the way)"
        }
        _ if e.raw_os_error() == Some(30) => " (read-only file system)",
        _ => "",
    };
    Error::io(
        format!(
            "cannot write to the backup directory {}{hint}",
            dir.display()
        ),
        e,
    )
}

/// Creates `dir` and its missing parents readable by the owner only (0700 on Unix); an
/// existing directory is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

impl Partial {
    /// Creates `dir` if needed and a new hidden temporary file for `final_name` in it.
    pub async fn create(dir: &Path, final_name: &str) -> Result<(Partial, tokio::fs::File)> {
        if dir.exists() && !dir.is_dir() {
            return Err(dir_error(
                dir,
                std::io::Error::from(std::io::ErrorKind::NotADirectory),
            ));
        }
        create_private_dir(dir).map_err(|e| dir_error(dir, e))?;
        let path = dir.join(format!(
            ".{final_name}.{}.partial",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        let mut o = tokio::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        o.mode(0o600);
        let file = o.open(&path).await.map_err(|e| dir_error(dir, e))?;
        Ok((Partial { path, armed: true }, file))
    }

    /// Renames the complete file to exactly `target` (replacing it), atomically.
    pub fn persist_as(mut self, target: &Path) -> Result<()> {
        std::fs::rename(&self.path, target)
            .map_err(|e| Error::io(format!("renaming to {}", target.display()), e))?;
        self.armed = false;
        Ok(())
    }

    /// Renames the complete file to a free name derived from `final_name` in the same
    /// directory (`name`, then `name_2`, ...) and returns the final path.
    pub fn publish(mut self, final_name: &str) -> Result<PathBuf> {
        let dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let (stem, ext) = final_name.rsplit_once('.').unwrap_or((final_name, "dump"));
        for n in 1..1000 {
            let name = if n == 1 {
                final_name.to_owned()
            } else {
                format!("{stem}_{n}.{ext}")
            };
            let target = dir.join(name);
            // A hard link fails when the target exists: no backup is ever overwritten.
            match std::fs::hard_link(&self.path, &target) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&self.path);
                    self.armed = false;
                    return Ok(target);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(_) if !target.exists() => {
                    // File systems without hard links: plain rename.
                    std::fs::rename(&self.path, &target)
                        .map_err(|e| Error::io(format!("renaming to {}", target.display()), e))?;
                    self.armed = false;
                    return Ok(target);
                }
                Err(e) => {
                    return Err(Error::io(format!("publishing {}", target.display()), e));
                }
            }
        }
        Err(Error::conflict(
            "file",
            format!("too many backups named {final_name} in {}", dir.display()),
        ))
    }
}

/// A failed write: a full disk (ENOSPC) or an exhausted quota (EDQUOT) is [`Error::DiskFull`].
fn write_error(what: &str, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(122) {
        return Error::DiskFull(format!("{what}: disk quota exceeded"));
    }
    Error::io(what.to_owned(), e)
}

/// Copies `r` into `w` while hashing; calls `on_chunk(total bytes)` after each chunk (which
/// may stop the copy with an error). Returns (bytes, sha256 hex).
pub(crate) async fn copy_hashing<R, W>(
    mut r: R,
    w: &mut W,
    what_read: &str,
    what_write: &str,
    mut on_chunk: impl FnMut(u64) -> Result<()>,
) -> Result<(u64, String)>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; CHUNK];
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| Error::io(what_read.to_owned(), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        w.write_all(&buf[..n])
            .await
            .map_err(|e| write_error(what_write, e))?;
        total += n as u64;
        on_chunk(total)?;
    }
    w.flush().await.map_err(|e| write_error(what_write, e))?;
    Ok((total, hex::encode(hasher.finalize())))
}

/// SHA-256 of a file, reporting `phase` progress in bytes. Returns (size, hex digest).
pub(crate) async fn sha256_file(
    path: &Path,
    phase: &str,
    hooks: Work<'_>,
) -> Result<(u64, String)> {
    let f = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let size = f.metadata().await.map(|m| m.len()).unwrap_or(0);
    let what = format!("reading {}", path.display());
    copy_hashing(f, &mut tokio::io::sink(), &what, "hashing", |done| {
        hooks.check()?;
        hooks.report_bytes(phase, done, size, done);
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn disk_full_is_reported_as_such() {
        // /dev/full answers every write with ENOSPC: the same error a full disk gives.
        let mut full = tokio::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .await
            .unwrap();
        let data = vec![7u8; 1 << 20];
        let e = copy_hashing(&data[..], &mut full, "r", "writing the backup", |_| Ok(()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "disk_full", "{e}");
    }

    #[tokio::test]
    async fn partial_files_vanish_unless_published() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut f) = Partial::create(dir.path(), "ncy8_x.dump").await.unwrap();
        f.write_all(b"abc").await.unwrap();
        let tmp = p.path.clone();
        drop(p);
        assert!(!tmp.exists());
        let (p, mut f) = Partial::create(dir.path(), "ncy8_x.dump").await.unwrap();
        f.write_all(b"abc").await.unwrap();
        let first = p.publish("ncy8_x.dump").unwrap();
        let (p, _) = Partial::create(dir.path(), "ncy8_x.dump").await.unwrap();
        let second = p.publish("ncy8_x.dump").unwrap();
        assert_eq!(first, dir.path().join("ncy8_x.dump"));
        assert_eq!(second, dir.path().join("ncy8_x_2.dump"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let (n, sum) = sha256_file(&first, "checksum", Work::none()).await.unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            sum,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn files_are_private_and_new_folders_too() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        let (p, _) = Partial::create(&nested, "ncy8_x.dump").await.unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p.path), 0o600);
        let published = p.publish("ncy8_x.dump").unwrap();
        assert_eq!(mode(&published), 0o600);
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
    }

    #[tokio::test]
    async fn a_file_in_the_way_of_the_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let e = Partial::create(&file, "ncy8_x.dump").await.err().unwrap();
        let m = e.to_string();
        assert!(m.contains("a file of that name is in the way"), "{m}");
        assert!(!m.contains("--"), "the fix is the adapter's: {m}");
    }
}
