//! Writing the bundle: the per-table JSON files streamed in keyset batches, `summary.md` and
//! `manifest.json`, each file private to its owner and hashed as it is written.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use ncy_core::auth::Operator;
use ncy_core::db::{now, Db, Dialect, Tx, Value};
use ncy_core::Work;
use ncy_core::{params, Error, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::specs::{counts, from, q, tables, Spec, BATCH, SPECS};
use crate::request::Request;
use crate::rows::{definer_error, operator_login};
use crate::subject::Subject;

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

/// Where a table's rows are read from.
#[derive(Clone, Copy)]
enum Read<'a> {
    /// The table holds none of the subject's rows: an empty array, no statement.
    Nothing,
    /// The table itself, or what [`from`] names.
    Table(&'a str),
    /// `ncy_gdpr_export_rows()` for this request (migration 0023): an operator's own login.
    Definer(Uuid),
}

/// What one table's streaming is counted against: rows done so far, the export's total.
struct Tally<'d, 'w> {
    done: &'d mut u64,
    total: u64,
    work: Work<'w>,
}

/// Streams one table into `dir/<Table>.json`; the file is returned unsynced, for
/// [`sync_all`]. On PostgreSQL each part is one `COPY` of the rows rendered as JSON by the
/// server, in keyset order, streamed to the file as it arrives; on SQLite the rows are read in
/// keyset batches and converted here. Memory stays flat either way.
async fn write_table(
    tx: &mut Tx,
    spec: &Spec,
    read: Read<'_>,
    (user, email): (Uuid, &str),
    dir: &Path,
    t: &mut Tally<'_, '_>,
) -> Result<(FileEntry, File)> {
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
    // The definer streams every part of the table in one call; the table itself is read
    // part by part below.
    let (src, parts) = match read {
        Read::Nothing => ("", &[][..]),
        Read::Definer(request) => {
            copy_rows(
                tx,
                r#"SELECT r FROM ncy_gdpr_export_rows($1, $2) r"#,
                &params![request, spec.table],
                spec.table,
                (&mut w, &mut rows),
                t,
            )
            .await
            .map_err(|e| definer_error(e, "export", "ncy_gdpr_export_rows"))?;
            ("", &[][..])
        }
        Read::Table(src) => (src, spec.parts),
    };
    for part in parts {
        let base = if part.email {
            params![user, email]
        } else {
            params![user]
        };
        if pg {
            let omit = spec
                .omit
                .iter()
                .map(|o| format!(" - '{o}'"))
                .collect::<String>();
            let select = format!(
                "SELECT (to_jsonb(t){omit})::text FROM {src} t WHERE ({}) ORDER BY {ts}, {tb}",
                part.filter
            );
            copy_rows(tx, &select, &base, spec.table, (&mut w, &mut rows), t).await?;
            continue;
        }
        let mut cursor: Option<(Value, Value)> = None;
        loop {
            t.work.check()?;
            let mut p = base.clone();
            let mut sql = format!("SELECT * FROM {src} t WHERE ({})", part.filter);
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
            // Converted here and written out before the next batch is read; the keyset
            // cursor keeps the raw values (table-driven columns) to bind back as parameters.
            let n = batch.len() as i64;
            for r in &batch {
                w.write_all(if rows == 0 { b"\n" } else { b",\n" })
                    .map_err(werr)?;
                let mut obj = r.to_json();
                if let Some(m) = obj.as_object_mut() {
                    for o in spec.omit {
                        m.remove(*o);
                    }
                }
                serde_json::to_writer(&mut w, &obj)
                    .map_err(|e| Error::io(format!("writing {name}"), e.into()))?;
                rows += 1;
            }
            *t.done += n as u64;
            t.work.report(spec.table, *t.done, t.total);
            if n < BATCH {
                break;
            }
            let last = &batch[batch.len() - 1];
            cursor = Some((last.get(spec.ts)?.clone(), last.get(spec.tb)?.clone()));
        }
    }
    w.write_all(b"\n]\n").map_err(werr)?;
    w.flush().map_err(werr)?;
    let file = w
        .inner
        .into_inner()
        .map_err(|e| Error::io(format!("writing {name}"), e.into_error()))?;
    Ok((
        FileEntry {
            file: name,
            table: Some(spec.table.to_owned()),
            rows: Some(rows),
            bytes: w.bytes,
            sha256: hex::encode(w.hash.finalize()),
        },
        file,
    ))
}

/// Streams the one-column rows of `select` (JSON text) through `COPY … TO STDOUT` into the
/// table's file as array elements, with progress and cancellation between chunks.
async fn copy_rows<W: Write>(
    tx: &mut Tx,
    select: &str,
    params: &[Value],
    table: &str,
    (w, rows): (&mut W, &mut u64),
    t: &mut Tally<'_, '_>,
) -> Result<()> {
    t.work.check()?;
    let mut copied = CopyRows::default();
    let mut reported = *t.done;
    let (done, total, work) = (&mut *t.done, t.total, t.work);
    tx.copy_out_with(select, params, |chunk| {
        work.check()?;
        *done += copied
            .write(chunk, w, rows)
            .map_err(|e| Error::io(format!("writing {table}.json"), e))?;
        if *done - reported >= REPORT_EVERY {
            reported = *done;
            work.report(table, *done, total);
        }
        Ok(())
    })
    .await?;
    work.report(table, *done, total);
    Ok(())
}

/// Rows streamed between two progress reports.
const REPORT_EVERY: u64 = 1000;

/// Turns the output of a one-column `COPY … TO STDOUT` (text format: one row per line, `\\`
/// escapes) back into the rows' own text, written as JSON array elements. Rows and escapes
/// may be cut anywhere between chunks.
#[derive(Default)]
struct CopyRows {
    /// Inside a row (its separator written).
    in_row: bool,
    /// The chunk before ended in a backslash.
    escape: bool,
}

impl CopyRows {
    /// Writes `chunk`; returns how many rows began in it (`rows` counts all of the file's).
    fn write(&mut self, chunk: &[u8], w: &mut impl Write, rows: &mut u64) -> std::io::Result<u64> {
        let mut started = 0;
        let mut i = 0;
        while i < chunk.len() {
            if self.escape {
                // COPY escapes a backslash and the control characters; JSON text holds no raw
                // control character, so in practice only `\\` comes.
                let b = match chunk[i] {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'v' => 0x0b,
                    other => other,
                };
                w.write_all(&[b])?;
                self.escape = false;
                i += 1;
                continue;
            }
            if !self.in_row {
                w.write_all(if *rows == 0 { b"\n" } else { b",\n" })?;
                *rows += 1;
                started += 1;
                self.in_row = true;
            }
            let rest = &chunk[i..];
            match memchr::memchr2(b'\\', b'\n', rest) {
                None => {
                    w.write_all(rest)?;
                    i = chunk.len();
                }
                Some(k) => {
                    w.write_all(&rest[..k])?;
                    if rest[k] == b'\n' {
                        self.in_row = false;
                    } else {
                        self.escape = true;
                    }
                    i += k + 1;
                }
            }
        }
        Ok(started)
    }
}

/// Flushes every file of the bundle to disk, all at once (the file system commits them
/// together rather than one journal commit per file).
fn sync_all(dir: &Path, files: Vec<(String, File)>) -> Result<()> {
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|(name, f)| (name, s.spawn(move || f.sync_all())))
            .collect();
        for (name, h) in handles {
            h.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("fsync thread panicked")))
                .map_err(io(format!("writing {}", dir.join(name).display())))?;
        }
        Ok(())
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

/// Writes a small file whole; returned unsynced, for [`sync_all`].
fn write_file(dir: &Path, name: &str, data: &[u8]) -> Result<(FileEntry, File)> {
    let path = dir.join(name);
    let mut f = create_private(&path)?;
    f.write_all(data)
        .map_err(io(format!("writing {}", path.display())))?;
    Ok((
        FileEntry {
            file: name.to_owned(),
            table: None,
            rows: None,
            bytes: data.len() as u64,
            sha256: hex::encode(Sha256::digest(data)),
        },
        f,
    ))
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
pub(super) fn prepare_out(out: &Path) -> Result<PathBuf> {
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
                    "{} already exists; choose another path or remove it",
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

pub(super) async fn write_bundle(
    db: &Db,
    op: &Operator,
    req: &Request,
    subject: &Subject,
    dir: &Path,
    work: Work<'_>,
) -> Result<(Manifest, u64)> {
    let mut tx = db.begin().await?;
    if tx.dialect() == Dialect::Postgres {
        tx.batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
    }
    let email = subject.email.to_lowercase();
    // An operator's own login reads through the checked entry points (migration 0023): the
    // database decides what the export may hand them. Any other role reads the tables.
    let definer = operator_login(&mut tx).await?;
    let mut srcs = Vec::with_capacity(SPECS.len());
    let per_table = if definer {
        definer_counts(&mut tx, req.id).await?
    } else {
        for s in SPECS {
            srcs.push(from(&mut tx, s.table).await?);
        }
        counts(&mut tx, &srcs, subject.id, &email).await?
    };
    let total: u64 = per_table.iter().sum();
    let mut done = 0u64;
    let mut tally = Tally {
        done: &mut done,
        total,
        work,
    };
    let mut files = Vec::new();
    let mut open = Vec::new();
    let mut row_counts = std::collections::BTreeMap::new();
    for (i, (s, &n)) in SPECS.iter().zip(&per_table).enumerate() {
        // A table with no row of the subject in this snapshot is not read again.
        let read = match (n, srcs.get(i)) {
            (0, _) => Read::Nothing,
            (_, Some(src)) => Read::Table(src),
            (_, None) => Read::Definer(req.id),
        };
        let (f, file) =
            write_table(&mut tx, s, read, (subject.id, &email), dir, &mut tally).await?;
        row_counts.insert(s.table.to_owned(), f.rows.unwrap_or(0));
        open.push((f.file.clone(), file));
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
    let (sf, file) = write_file(dir, "summary.md", md.as_bytes())?;
    open.push((sf.file.clone(), file));
    m.files.push(sf);
    let json = serde_json::to_vec_pretty(&m).map_err(|e| Error::db(format!("manifest: {e}")))?;
    let (mf, file) = write_file(dir, "manifest.json", &json)?;
    open.push((mf.file, file));
    sync_all(dir, open)?;
    Ok((m, done))
}

/// The rows each spec contributes, from `ncy_gdpr_export_counts()` (migration 0023), which
/// checks the operator and the request first.
async fn definer_counts(tx: &mut Tx, request: Uuid) -> Result<Vec<u64>> {
    #[derive(serde::Deserialize)]
    struct Count {
        tbl: String,
        n: i64,
    }
    let got: Vec<Count> = tx
        .query_as(
            r#"SELECT "tbl", "n" FROM ncy_gdpr_export_counts($1)"#,
            &params![request],
        )
        .await
        .map_err(|e| definer_error(e, "export", "ncy_gdpr_export_counts"))?;
    SPECS
        .iter()
        .map(|s| {
            got.iter()
                .find(|c| c.tbl == s.table)
                .map(|c| c.n as u64)
                .ok_or_else(|| {
                    Error::db(format!(
                        "the database's export entry point does not cover table {}; run `ncy-admin migrate up`",
                        s.table
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::CopyRows;

    /// COPY's text rows, cut at every possible place, come back as the rows' JSON.
    #[test]
    fn copy_rows_undo_the_escapes_across_chunks() {
        let copy = b"{\"a\": \"x\\\\\"y\"}\n{\"b\": \"1\\\\\\\\2\"}\n";
        let want = "\n{\"a\": \"x\\\"y\"},\n{\"b\": \"1\\\\2\"}";
        for cut in 0..=copy.len() {
            let (mut out, mut rows, mut c) = (Vec::new(), 0u64, CopyRows::default());
            let a = c.write(&copy[..cut], &mut out, &mut rows).unwrap();
            let b = c.write(&copy[cut..], &mut out, &mut rows).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "cut at {cut}");
            assert_eq!((rows, a + b), (2, 2), "cut at {cut}");
        }
    }
}
