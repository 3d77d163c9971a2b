//! The Art. 15 / 20 export: a folder with `manifest.json` (subject, request, generation time,
//! tables, row counts, SHA-256 of every file), one JSON file per table holding every row that
//! refers to the subject, and a human-readable `summary.md`. Rows are read in keyset batches
//! (`(timestamp, id)` cursors) and written as they arrive, so memory stays flat whatever the
//! subject's volume; the bundle appears under its final name only when complete.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use chrono::NaiveDateTime;
use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db, Dialect, Tx, Value};
use ncy_core::{params, Error, Result};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::request::{self, Request};
use crate::subject::{self, Subject};
use crate::{check_cancel, Progress};

/// Rows fetched per keyset batch.
pub const BATCH: i64 = 5000;

/// One part of a table's selection (a table may need several, e.g. messages sent and received).
struct Part {
    /// SQL condition; `$1` is the subject id, `$2` (when `email`) the subject's email.
    filter: &'static str,
    email: bool,
}

/// What is exported from one table.
struct Spec {
    table: &'static str,
    parts: &'static [Part],
    /// Keyset ordering columns: a timestamp and a unique tie-breaker.
    ts: &'static str,
    tb: &'static str,
    /// Secret columns never exported.
    omit: &'static [&'static str],
    about: &'static str,
}

const fn p(filter: &'static str) -> Part {
    Part {
        filter,
        email: false,
    }
}

const SPECS: &[Spec] = &[
    Spec {
        table: "User",
        parts: &[p(r#""id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &["password_hash"],
        about: "the account (without the password hash)",
    },
    Spec {
        table: "Session",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &["refresh_token"],
        about: "login sessions (without tokens)",
    },
    Spec {
        table: "ApiKey",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &["key_hash"],
        about: "API keys (without key hashes)",
    },
    Spec {
        table: "UserRoleMap",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "granted_at",
        tb: "role_id",
        omit: &[],
        about: "roles granted",
    },
    Spec {
        table: "OrganizationMember",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "joined_at",
        tb: "id",
        omit: &[],
        about: "organization memberships",
    },
    Spec {
        table: "TeamMember",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "joined_at",
        tb: "team_id",
        omit: &[],
        about: "team memberships",
    },
    Spec {
        table: "Organization",
        parts: &[p(r#""owner_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "organizations owned",
    },
    Spec {
        table: "Task",
        parts: &[p(r#""assignee_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "tasks assigned",
    },
    Spec {
        table: "AuditLog",
        parts: &[
            p(r#""user_id" = $1"#),
            p(
                r#""target_table" = 'User' AND "target_id" = $1 AND ("user_id" IS NULL OR "user_id" <> $1)"#,
            ),
        ],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "audit events by or about the subject",
    },
    Spec {
        table: "AccessLog",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "timestamp",
        tb: "id",
        omit: &[],
        about: "API access log",
    },
    Spec {
        table: "LoginAttempt",
        parts: &[Part {
            filter: r#""user_id" = $1 OR lower("email") = $2"#,
            email: true,
        }],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "login attempts",
    },
    Spec {
        table: "Notification",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "notifications",
    },
    Spec {
        table: "File",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "files (metadata)",
    },
    Spec {
        table: "Message",
        parts: &[
            p(r#""sender_id" = $1"#),
            p(r#""receiver_id" = $1 AND ("sender_id" IS NULL OR "sender_id" <> $1)"#),
        ],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "messages sent and received",
    },
    Spec {
        table: "Settings",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "settings",
    },
    Spec {
        table: "UserPreferences",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "preferences",
    },
    Spec {
        table: "Consent",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "consent history",
    },
    Spec {
        table: "GdprRequest",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "data-subject requests",
    },
];

/// The tables an export covers, in bundle order.
pub fn tables() -> Vec<&'static str> {
    SPECS.iter().map(|s| s.table).collect()
}

/// One file of the bundle.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FileEntry {
    pub file: String,
    /// The table, for per-table files.
    pub table: Option<String>,
    pub rows: Option<u64>,
    pub bytes: u64,
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Manifest {
    pub format: String,
    pub subject: Subject,
    pub request_id: Uuid,
    pub generated_at: NaiveDateTime,
    pub generated_by: Uuid,
    pub tables: Vec<String>,
    pub row_counts: std::collections::BTreeMap<String, u64>,
    pub files: Vec<FileEntry>,
}

/// The result of [`export`].
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ExportOutcome {
    pub path: String,
    pub manifest: Manifest,
    pub total_rows: u64,
    pub duration_ms: u64,
    pub request: Request,
}

/// A writer that hashes and counts what passes through.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn io(ctx: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let ctx = ctx.into();
    move |e| Error::io(ctx, e)
}

fn q(c: &str) -> String {
    ncy_core::db::ident(c)
}

/// What to read `table` from: the table, or while a log table's move into partitions is under
/// way, both it and the rows not moved yet (`ncy-admin migrate partition-logs`).
async fn from(tx: &mut Tx, table: &str) -> Result<String> {
    Ok(match ncy_core::partition::layout(tx, table).await? {
        ncy_core::partition::Layout::Moving => format!(
            "(SELECT * FROM {} UNION ALL SELECT * FROM {})",
            q(table),
            q(&ncy_core::partition::leftover_name(table))
        ),
        _ => q(table),
    })
}

async fn count(tx: &mut Tx, spec: &Spec, user: Uuid, email: &str) -> Result<u64> {
    let mut n = 0;
    let src = from(tx, spec.table).await?;
    for part in spec.parts {
        let p = if part.email {
            params![user, email]
        } else {
            params![user]
        };
        let r = tx
            .query_one(
                &format!("SELECT count(*) AS n FROM {src} t WHERE {}", part.filter),
                &p,
            )
            .await?;
        n += r.int("n")? as u64;
    }
    Ok(n)
}

/// Streams one table into `dir/<Table>.json`.
#[allow(clippy::too_many_arguments)]
async fn write_table(
    tx: &mut Tx,
    spec: &Spec,
    user: Uuid,
    email: &str,
    dir: &Path,
    done: &mut u64,
    total: u64,
    progress: &dyn Fn(Progress),
    cancel: Option<&AtomicBool>,
) -> Result<FileEntry> {
    let name = format!("{}.json", spec.table);
    let path = dir.join(&name);
    let f = create_private(&path)?;
    let mut w = Hashing {
        inner: BufWriter::with_capacity(1 << 16, f),
        hash: Sha256::new(),
        bytes: 0,
    };
    let werr = |e: std::io::Error| Error::io(format!("writing {name}"), e);
    w.write_all(b"[").map_err(werr)?;
    let mut rows = 0u64;
    let (ts, tb) = (q(spec.ts), q(spec.tb));
    let pg = tx.dialect() == Dialect::Postgres;
    let src = from(tx, spec.table).await?;
    for part in spec.parts {
        let base = if part.email {
            params![user, email]
        } else {
            params![user]
        };
        let mut cursor: Option<(Value, Value)> = None;
        loop {
            check_cancel(cancel)?;
            let mut p = base.clone();
            // PostgreSQL renders each row as JSON itself (one text column per row); SQLite rows
            // are converted here. Either way the batch is written out before the next is read.
            let select = if pg {
                let omit = spec
                    .omit
                    .iter()
                    .map(|o| format!(" - '{o}'"))
                    .collect::<String>();
                format!(
                    "SELECT (to_jsonb(t){omit})::text AS \"_ncy_json\", t.{ts} AS \"_ncy_ts\", t.{tb} AS \"_ncy_tb\" FROM {src} t"
                )
            } else {
                format!("SELECT * FROM {src} t")
            };
            let mut sql = format!("{select} WHERE ({})", part.filter);
            if let Some((a, b)) = &cursor {
                p.push(a.clone());
                p.push(b.clone());
                sql.push_str(&format!(
                    " AND ({ts}, {tb}) > (${}, ${})",
                    p.len() - 1,
                    p.len()
                ));
            }
            sql.push_str(&format!(" ORDER BY {ts}, {tb} LIMIT {BATCH}"));
            let batch = tx.query(&sql, &p).await?;
            let n = batch.len() as i64;
            for r in &batch {
                w.write_all(if rows == 0 { b"\n" } else { b",\n" })
                    .map_err(werr)?;
                if pg {
                    w.write_all(r.text("_ncy_json")?.as_bytes()).map_err(werr)?;
                } else {
                    let mut obj = r.to_json();
                    if let Some(m) = obj.as_object_mut() {
                        for o in spec.omit {
                            m.remove(*o);
                        }
                    }
                    serde_json::to_writer(&mut w, &obj)
                        .map_err(|e| Error::io(format!("writing {name}"), e.into()))?;
                }
                rows += 1;
            }
            *done += n as u64;
            progress(Progress {
                phase: spec.table.to_owned(),
                done: *done,
                total,
            });
            if n < BATCH {
                break;
            }
            let last = &batch[batch.len() - 1];
            cursor = Some(if pg {
                (last.get("_ncy_ts")?.clone(), last.get("_ncy_tb")?.clone())
            } else {
                (last.get(spec.ts)?.clone(), last.get(spec.tb)?.clone())
            });
        }
    }
    w.write_all(b"\n]\n").map_err(werr)?;
    w.flush().map_err(werr)?;
    w.inner
        .into_inner()
        .map_err(|e| Error::io(format!("writing {name}"), e.into_error()))?
        .sync_all()
        .map_err(werr)?;
    Ok(FileEntry {
        file: name,
        table: Some(spec.table.to_owned()),
        rows: Some(rows),
        bytes: w.bytes,
        sha256: hex::encode(w.hash.finalize()),
    })
}

/// Creates a file only its owner can read (the bundle holds personal data).
fn create_private(path: &Path) -> Result<File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .map_err(io(format!("creating {}", path.display())))
}

fn write_file(dir: &Path, name: &str, data: &[u8]) -> Result<FileEntry> {
    let path = dir.join(name);
    let mut f = create_private(&path)?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(io(format!("writing {}", path.display())))?;
    Ok(FileEntry {
        file: name.to_owned(),
        table: None,
        rows: None,
        bytes: data.len() as u64,
        sha256: hex::encode(Sha256::digest(data)),
    })
}

fn summary_md(m: &Manifest, consents: &[(String, bool, NaiveDateTime)]) -> String {
    let mut s = String::new();
    s.push_str("# Your personal data held by NCY_8\n\n");
    s.push_str(&format!(
        "- Account: {} (id `{}`)\n- Request: `{}`\n- Generated: {} UTC\n\n",
        m.subject.email, m.subject.id, m.request_id, m.generated_at
    ));
    s.push_str("This folder holds every record that refers to you, one JSON file per table, and `manifest.json` ");
    s.push_str("with the SHA-256 checksum of each file. Secrets (password hash, session tokens, API key hashes) are never exported.\n\n");
    s.push_str("| File | What it holds | Records |\n|---|---|---:|\n");
    for f in &m.files {
        if let (Some(t), Some(rows)) = (&f.table, f.rows) {
            let about = SPECS
                .iter()
                .find(|s| s.table == t)
                .map(|s| s.about)
                .unwrap_or("");
            s.push_str(&format!("| {} | {} | {} |\n", f.file, about, rows));
        }
    }
    s.push_str("\n## Consents (current)\n\n");
    if consents.is_empty() {
        s.push_str("No consent records.\n");
    }
    for (purpose, granted, at) in consents {
        s.push_str(&format!(
            "- {purpose}: {} since {at} UTC\n",
            if *granted { "granted" } else { "withdrawn" }
        ));
    }
    s
}

/// Prepares the target: must not exist (an empty directory is accepted).
fn prepare_out(out: &Path) -> Result<PathBuf> {
    if out.exists() {
        let empty = out.is_dir()
            && fs::read_dir(out)
                .map_err(io(format!("reading {}", out.display())))?
                .next()
                .is_none();
        if !empty {
            return Err(Error::conflict(
                "out",
                format!(
                    "{} already exists; choose a new --out path or remove it",
                    out.display()
                ),
            ));
        }
        fs::remove_dir(out).map_err(io(format!("replacing {}", out.display())))?;
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("export");
    let tmp = parent.join(format!(".{name}.partial-{}", Uuid::new_v4().simple()));
    let mut b = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(&tmp)
        .map_err(io(format!("creating {}", tmp.display())))?;
    Ok(tmp)
}

/// Writes the export bundle of an ACCESS or EXPORT request into the folder `out` (which must
/// not exist yet) and records its path on the request.
pub async fn export(
    db: &Db,
    op: &Operator,
    request_id: Uuid,
    out: &Path,
    progress: &dyn Fn(Progress),
    cancel: Option<&AtomicBool>,
) -> Result<ExportOutcome> {
    export_via(db, db, op, request_id, out, progress, cancel).await
}

/// [`export`] reading the subject's rows from `read` (a read replica of `db`, which may lag by
/// its replay delay); the request is checked and the result recorded on `db`.
pub async fn export_via(
    db: &Db,
    read: &Db,
    op: &Operator,
    request_id: Uuid,
    out: &Path,
    progress: &dyn Fn(Progress),
    cancel: Option<&AtomicBool>,
) -> Result<ExportOutcome> {
    op.require(perm::GDPR_HANDLE)?;
    let started = Instant::now();
    let (req, subject) = {
        let mut tx = db.begin().await?;
        let r = request::load(&mut tx, request_id).await?;
        check_exportable(&r)?;
        let user = r.user_id.ok_or_else(|| {
            Error::conflict(
                "user",
                format!("request {request_id} has no subject any more"),
            )
        })?;
        let s = subject::by_id(&mut tx, user).await?;
        tx.commit().await?;
        (r, s)
    };
    let tmp = prepare_out(out)?;
    let res = write_bundle(read, op, &req, &subject, &tmp, progress, cancel).await;
    let (manifest, total_rows) = match res {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if let Err(e) = fs::rename(&tmp, out) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(Error::io(
            format!("moving the bundle to {}", out.display()),
            e,
        ));
    }
    let path = fs::canonicalize(out)
        .unwrap_or_else(|_| out.to_owned())
        .display()
        .to_string();
    // Record the result with its audit row; the bundle is removed if that fails.
    let recorded = async {
        let mut tx = db.begin().await?;
        let r = request::lock(&mut tx, request_id).await?;
        check_exportable(&r)?;
        tx.execute(
            r#"UPDATE "GdprRequest" SET "result_path" = $2, "handler_id" = $3, "updated_at" = $4 WHERE "id" = $1"#,
            &params![request_id, path.as_str(), op.user_id, now()],
        )
        .await?;
        audit::record(&mut tx, op, Entry {
            action: "GDPR_EXPORT",
            table: "GdprRequest",
            target_id: Some(request_id),
            old: Some(json!({"result_path": r.result_path})),
            new: Some(json!({"result_path": path, "rows": total_rows, "files": manifest.files.len()})),
        })
        .await?;
        let r = request::load(&mut tx, request_id).await?;
        tx.commit().await?;
        Ok::<_, Error>(r)
    }
    .await;
    let request = match recorded {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_dir_all(out);
            return Err(e);
        }
    };
    Ok(ExportOutcome {
        path,
        manifest,
        total_rows,
        duration_ms: started.elapsed().as_millis() as u64,
        request,
    })
}

fn check_exportable(r: &Request) -> Result<()> {
    if !r.kind.is_export() {
        return Err(Error::conflict(
            "type",
            format!(
                "request {} is a {} request; export answers ACCESS and EXPORT requests",
                r.id,
                r.kind.as_str()
            ),
        ));
    }
    if !r.state.is_open() {
        return Err(Error::conflict(
            "status",
            format!("request {} is already {}", r.id, r.state.as_str()),
        ));
    }
    request::require_verified(r)?;
    Ok(())
}

async fn write_bundle(
    db: &Db,
    op: &Operator,
    req: &Request,
    subject: &Subject,
    dir: &Path,
    progress: &dyn Fn(Progress),
    cancel: Option<&AtomicBool>,
) -> Result<(Manifest, u64)> {
    let mut tx = db.begin().await?;
    if tx.dialect() == Dialect::Postgres {
        tx.batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
    }
    let email = subject.email.to_lowercase();
    let mut totals = Vec::new();
    for s in SPECS {
        totals.push(count(&mut tx, s, subject.id, &email).await?);
    }
    let total: u64 = totals.iter().sum();
    let mut done = 0u64;
    let mut files = Vec::new();
    let mut row_counts = std::collections::BTreeMap::new();
    for s in SPECS {
        let f = write_table(
            &mut tx, s, subject.id, &email, dir, &mut done, total, progress, cancel,
        )
        .await?;
        row_counts.insert(s.table.to_owned(), f.rows.unwrap_or(0));
        files.push(f);
    }
    let consents = crate::consent::current_in(&mut tx, subject.id).await?;
    tx.commit().await?;
    let mut m = Manifest {
        format: "ncy-gdpr-export/1".into(),
        subject: subject.clone(),
        request_id: req.id,
        generated_at: now(),
        generated_by: op.user_id,
        tables: tables().into_iter().map(String::from).collect(),
        row_counts,
        files,
    };
    let md = summary_md(
        &m,
        &consents
            .iter()
            .map(|c| (c.purpose.clone(), c.granted, c.at))
            .collect::<Vec<_>>(),
    );
    let sf = write_file(dir, "summary.md", md.as_bytes())?;
    m.files.push(sf);
    let json = serde_json::to_vec_pretty(&m).map_err(|e| Error::db(format!("manifest: {e}")))?;
    write_file(dir, "manifest.json", &json)?;
    Ok((m, done))
}
