//! Encryption at rest with [age](https://age-encryption.org) (X25519 recipients).
//!
//! `backup create --encrypt` streams pg_dump's output through an age encryptor into the file;
//! the checksum recorded with the backup is the encrypted file's. Verify and restore decrypt
//! on the fly into pg_restore's standard input: no plaintext copy ever reaches the disk.
//!
//! Keys: `backup key create` makes an X25519 identity and keeps it in the OS keychain
//! (service `ncy-admin`, account `backup-key:<recipient>`), and makes it the default
//! recipient (account `backup-key-default`). Backups record the recipient they were encrypted
//! to (`BackupSnapshot.encrypted_to`), so an older key is still found after a new default is
//! chosen. An identity file (`--identity FILE`, as written by `age-keygen`) serves a machine
//! without that keychain.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use age::secrecy::ExposeSecret;
use age::x25519::{Identity, Recipient};
use ncy_core::secrets::Secret;
use ncy_core::{Error, Result};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_util::compat::{
    FuturesAsyncReadCompatExt, FuturesAsyncWriteCompatExt, TokioAsyncReadCompatExt,
    TokioAsyncWriteCompatExt,
};

/// The first bytes of every age file.
const MAGIC: &[u8] = b"age-encryption.org/v1\n";
const DEFAULT_ACCOUNT: &str = "backup-key-default";

fn account(recipient: &str) -> String {
    format!("backup-key:{recipient}")
}

/// Parses an age X25519 recipient (`age1…`).
pub fn parse_recipient(s: &str) -> Result<Recipient> {
    s.trim().parse::<Recipient>().map_err(|e| {
        Error::invalid(
            "recipient",
            format!("{e}: an age recipient looks like age1…"),
        )
    })
}

/// A key pair made by [`create_key`]: the identity is in the keychain, only the recipient is
/// returned.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct BackupKey {
    /// The public half (`age1…`): give it to `backup create --recipient`, or share it.
    pub recipient: String,
    /// Backups are encrypted to it when no recipient is named.
    pub default: bool,
}

/// Makes a new X25519 identity, stores it in the OS keychain and makes it the default
/// recipient of `backup create --encrypt`. Older keys stay in the keychain for older backups.
pub fn create_key() -> Result<BackupKey> {
    let identity = Identity::generate();
    store_identity(&identity, true)
}

/// Stores the identity of an age identity file in the keychain (for restoring on another
/// machine); with `default`, new encrypted backups go to it.
pub fn import_key(file: &Path, default: bool) -> Result<BackupKey> {
    let ids = identities_from_file(file)?;
    let Some(first) = ids.into_iter().next() else {
        return Err(Error::invalid("identity", "no identity in the file"));
    };
    store_identity(&first, default)
}

fn store_identity(identity: &Identity, default: bool) -> Result<BackupKey> {
    let recipient = identity.to_public().to_string();
    Secret::new(account(&recipient)).set_keychain(identity.to_string().expose_secret())?;
    if default {
        Secret::new(DEFAULT_ACCOUNT).set_keychain(&recipient)?;
    }
    Ok(BackupKey { recipient, default })
}

/// The default recipient of encrypted backups, if a key was created or imported.
pub fn default_recipient() -> Result<Option<String>> {
    Secret::new(DEFAULT_ACCOUNT).get()
}

/// The keychain's identity for `recipient`, if it holds one.
fn keychain_identity(recipient: &str) -> Result<Option<Identity>> {
    let Some(secret) = Secret::new(account(recipient)).get()? else {
        return Ok(None);
    };
    secret
        .trim()
        .parse::<Identity>()
        .map(Some)
        .map_err(|e| Error::Keychain(format!("the backup key for {recipient} is damaged: {e}")))
}

/// Reads the identities (`AGE-SECRET-KEY-1…` lines) of an age identity file.
pub fn identities_from_file(file: &Path) -> Result<Vec<Identity>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::io(format!("reading the identity file {}", file.display()), e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = line.parse::<Identity>().map_err(|e| {
            Error::invalid(
                "identity",
                format!(
                    "{} line {}: {e}; an age identity file holds AGE-SECRET-KEY-1… lines",
                    file.display(),
                    n + 1
                ),
            )
        })?;
        out.push(id);
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "identity",
            format!("{} holds no AGE-SECRET-KEY-1… line", file.display()),
        ));
    }
    Ok(out)
}

/// Whether the file at `path` is an age file.
pub(crate) async fn is_encrypted(path: &Path) -> Result<bool> {
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut head = [0u8; MAGIC.len()];
    let mut got = 0;
    while got < head.len() {
        let n = f
            .read(&mut head[got..])
            .await
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    Ok(head == MAGIC)
}

/// A writer that hashes what passes through it (the encrypted bytes, as they reach the file).
pub(crate) struct Hashing<W> {
    inner: W,
    state: Arc<Mutex<(Sha256, u64)>>,
}

/// The digest of what a [`Hashing`] writer let through: (bytes, sha256 hex).
#[derive(Clone)]
pub(crate) struct Digest256(Arc<Mutex<(Sha256, u64)>>);

impl Digest256 {
    pub(crate) fn finish(&self) -> (u64, String) {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (g.1, hex::encode(g.0.clone().finalize()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Hashing<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
            g.0.update(&buf[..*n]);
            g.1 += *n as u64;
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An encrypting writer into `out`: what is written to it reaches `out` encrypted to
/// `recipient`. It must be shut down (`AsyncWriteExt::shutdown`) to write the last chunk.
pub(crate) async fn seal<W>(
    out: W,
    recipient: &Recipient,
) -> Result<(impl AsyncWrite + Unpin + Send, Digest256)>
where
    W: AsyncWrite + Unpin + Send,
{
    let state = Arc::new(Mutex::new((Sha256::new(), 0u64)));
    let hashing = Hashing {
        inner: out,
        state: state.clone(),
    };
    let enc = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .map_err(|e| Error::invalid("recipient", format!("cannot encrypt to it: {e}")))?;
    let w = enc
        .wrap_async_output(hashing.compat_write())
        .await
        .map_err(|e| Error::io("writing the encrypted backup's header", e))?;
    Ok((w.compat_write(), Digest256(state)))
}

/// The keys to try on an encrypted backup: those given explicitly, else the keychain's key
/// for the recipient the backup was recorded with, else the default key.
#[derive(Clone, Default)]
pub(crate) struct Keys {
    pub given: Vec<Identity>,
    pub given_from: Option<PathBuf>,
}

impl Keys {
    fn candidates(&self, recorded: Option<&str>) -> Result<(Vec<Identity>, String)> {
        if !self.given.is_empty() {
            let from = self
                .given_from
                .as_ref()
                .map(|p| format!("the identity file {}", p.display()))
                .unwrap_or_else(|| "the identity given".into());
            return Ok((self.given.clone(), from));
        }
        let mut tried = Vec::new();
        if let Some(r) = recorded {
            if let Some(id) = keychain_identity(r)? {
                return Ok((vec![id], format!("the keychain's key {r}")));
            }
            tried.push(r.to_owned());
        }
        if let Some(d) = default_recipient()? {
            if let Some(id) = keychain_identity(&d)? {
                return Ok((vec![id], format!("the keychain's default key {d}")));
            }
        }
        Err(Error::invalid(
            "identity",
            match recorded {
                Some(r) => {
                    format!("the backup is encrypted to {r} and this keychain holds no key for it")
                }
                None => "the backup is encrypted and this keychain holds no backup key".into(),
            },
        ))
    }

    /// Opens `path` for reading its plaintext, checking the key before anything reads it.
    pub(crate) async fn open(
        &self,
        path: &Path,
        recorded: Option<&str>,
    ) -> Result<impl AsyncRead + Unpin + Send> {
        let (ids, from) = self.candidates(recorded)?;
        let f = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let buffered = futures_util::io::BufReader::with_capacity(256 * 1024, f.compat());
        let dec = age::Decryptor::new_async_buffered(buffered)
            .await
            .map_err(|e| decrypt_error(path, &from, e))?;
        let reader = dec
            .decrypt_async(ids.iter().map(|i| i as &dyn age::Identity))
            .map_err(|e| decrypt_error(path, &from, e))?;
        Ok(reader.compat())
    }
}

fn decrypt_error(path: &Path, from: &str, e: age::DecryptError) -> Error {
    match e {
        age::DecryptError::NoMatchingKeys => Error::invalid(
            "identity",
            format!(
                "{} cannot be decrypted with {from}: it was encrypted to another key",
                path.display()
            ),
        ),
        age::DecryptError::InvalidHeader
        | age::DecryptError::InvalidMac
        | age::DecryptError::UnknownFormat => Error::invalid(
            "backup",
            format!(
                "{} is not a readable age file ({e}): it was altered or truncated; use another backup",
                path.display()
            ),
        ),
        other => Error::invalid(
            "backup",
            format!("decrypting {}: {other}", path.display()),
        ),
    }
}

/// The plaintext of an encrypted backup, as a reader.
pub(crate) type Plain = Box<dyn AsyncRead + Unpin + Send>;

/// A backup file as pg_restore reads it: by its path, or decrypted on the fly into its
/// standard input.
pub(crate) struct Archive<'a> {
    pub path: &'a Path,
    sealed: Option<(&'a Keys, Option<&'a str>)>,
}

impl<'a> Archive<'a> {
    /// The archive at `path`; when it is an age file, its key (`recorded` = the recipient on
    /// the snapshot row) is checked now, so a wrong key is an error before any work starts.
    pub(crate) async fn open(
        path: &'a Path,
        keys: &'a Keys,
        recorded: Option<&'a str>,
    ) -> Result<Archive<'a>> {
        if !is_encrypted(path).await? {
            return Ok(Archive { path, sealed: None });
        }
        drop(keys.open(path, recorded).await?);
        Ok(Archive {
            path,
            sealed: Some((keys, recorded)),
        })
    }

    /// Whether pg_restore reads the archive's file itself (not age-encrypted), so it may seek
    /// in it.
    pub(crate) fn is_plain_file(&self) -> bool {
        self.sealed.is_none()
    }

    /// Points `cmd` at the archive: its path as the last argument, or its standard input.
    /// Returns the plaintext to [`feed`] to the child in the second case.
    pub(crate) async fn attach(&self, cmd: &mut tokio::process::Command) -> Result<Option<Plain>> {
        match self.sealed {
            None => {
                cmd.arg(self.path).stdin(std::process::Stdio::null());
                Ok(None)
            }
            Some((keys, recorded)) => {
                cmd.stdin(std::process::Stdio::piped());
                let r = keys.open(self.path, recorded).await?;
                Ok(Some(Box::new(r)))
            }
        }
    }
}

/// Copies the plaintext into the child's standard input and closes it. A child that stops
/// reading early (`pg_restore --list` reads only the table of contents) is not an error; a
/// decryption failure (a damaged file) is.
pub(crate) async fn feed(
    input: Option<Plain>,
    stdin: Option<tokio::process::ChildStdin>,
    path: &Path,
) -> Result<()> {
    let (Some(mut input), Some(mut stdin)) = (input, stdin) else {
        return Ok(());
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match input.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                return Err(Error::invalid(
                    "backup",
                    format!(
                        "decrypting {} failed ({e}): the file was altered or truncated; use another backup",
                        path.display()
                    ),
                ))
            }
        };
        if n == 0 {
            break;
        }
        match tokio::io::AsyncWriteExt::write_all(&mut stdin, &buf[..n]).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Error::io("feeding pg_restore", e)),
        }
    }
    match tokio::io::AsyncWriteExt::shutdown(&mut stdin).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("feeding pg_restore", e)),
    }
}
