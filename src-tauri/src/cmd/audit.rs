//! Audit log and Access / Error log screens (`ncy_core::audit`, `ncy_core::admin::logs`).

use std::io::Write;

use ncy_core::admin::logs::{self, AccessEntry, AccessFilter, ErrorEntry, ErrorFilter};
use ncy_core::admin::Page;
use ncy_core::audit::query::{self, AuditEntry, AuditFilter, Format};
use tauri::{AppHandle, Emitter, State};

use crate::error::ApiResult;
use crate::jobs::Progress;
use crate::state::AppState;

#[tauri::command]
pub async fn audit_list(
    s: State<'_, AppState>,
    filter: AuditFilter,
    limit: u32,
    after: Option<String>,
) -> ApiResult<Page<AuditEntry>> {
    let (db, op) = s.read_session().await?;
    Ok(query::list(&db, &op, &filter, limit, after.as_deref()).await?)
}

/// Streams the matching entries to `path` (CSV or JSON) as the CLI does
/// (`ncy_core::export::ExportFile`: private temporary file renamed when complete, never
/// through a symbolic link); returns the number of rows.
#[tauri::command]
pub async fn audit_export(
    app: AppHandle,
    s: State<'_, AppState>,
    filter: AuditFilter,
    format: Format,
    path: String,
) -> ApiResult<u64> {
    let (db, op) = s.read_session().await?;
    let io = |e| ncy_core::Error::io(format!("writing {path}"), e);
    let mut file = ncy_core::export::ExportFile::create(&path)?;
    let progress = |n: u64| {
        let _ = app.emit("progress", Progress::new("audit-export", "exporting", n, 0));
    };
    let n = {
        let mut out = std::io::BufWriter::new(file.file());
        let n = query::export(&db, &op, &filter, format, &mut out, &progress).await?;
        out.flush().map_err(io)?;
        n
    };
    file.finish()?;
    Ok(n)
}

#[tauri::command]
pub async fn logs_access(
    s: State<'_, AppState>,
    filter: AccessFilter,
    limit: u32,
    after: Option<String>,
) -> ApiResult<Page<AccessEntry>> {
    let (db, op) = s.read_session().await?;
    Ok(logs::access(&db, &op, &filter, limit, after.as_deref()).await?)
}

#[tauri::command]
pub async fn logs_errors(
    s: State<'_, AppState>,
    filter: ErrorFilter,
    limit: u32,
    after: Option<String>,
) -> ApiResult<Page<ErrorEntry>> {
    let (db, op) = s.read_session().await?;
    Ok(logs::errors(&db, &op, &filter, limit, after.as_deref()).await?)
}
