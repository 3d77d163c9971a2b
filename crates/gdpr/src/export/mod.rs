//! The Art. 15 / 20 export: a folder with `manifest.json` (subject, request, generation time,
//! tables, row counts, SHA-256 of every file), one JSON file per table holding every row that
//! refers to the subject, and a human-readable `summary.md`. Rows come in `(timestamp, id)`
//! order, on PostgreSQL as one `COPY` per table part rendered as JSON by the server, on SQLite in
//! keyset batches, and are written as they arrive, so memory stays flat whatever the subject's
//! volume; the bundle appears under its final name only when complete. On an operator's own
//! PostgreSQL login the rows come through the checked `ncy_gdpr_export_rows()` (migration 0023).
//!
//! In three files: `specs.rs` (what each table contributes), `bundle.rs` (writing the files)
//! and this one (checking the request, moving the bundle into place, recording the result).

mod bundle;
mod specs;

use std::fs;
use std::path::Path;
use std::time::Instant;

use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db};
use ncy_core::Work;
use ncy_core::{params, Error, Result};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::request::{self, Request};
use crate::subject;
use bundle::{prepare_out, write_bundle};

pub use bundle::{FileEntry, Manifest};
pub use specs::{part_rows, tables, PartRow, BATCH};

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

/// Writes the export bundle of an ACCESS or EXPORT request into the folder `out` (which must
/// not exist yet) and records its path on the request.
pub async fn export(
    db: &Db,
    op: &Operator,
    request_id: Uuid,
    out: &Path,
    work: Work<'_>,
) -> Result<ExportOutcome> {
    export_via(db, db, op, request_id, out, work).await
}

/// [`export`] reading the subject's rows from `read` (a read replica of `db`, which may lag by
/// its replay delay); the request is checked and the result recorded on `db`.
pub async fn export_via(
    db: &Db,
    read: &Db,
    op: &Operator,
    request_id: Uuid,
    out: &Path,
    work: Work<'_>,
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
    let res = write_bundle(read, op, &req, &subject, &tmp, work).await;
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
