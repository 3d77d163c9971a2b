//! Audit log and Access / Error log screens (`ncy_core::audit`, `ncy_core::admin::logs`).

use ncy_core::admin::logs::{self, AccessEntry, AccessFilter, ErrorEntry, ErrorFilter};
use ncy_core::admin::Page;
use ncy_core::audit::query::{self, AuditEntry, AuditFilter, Format};
use tauri::{AppHandle, State};

use crate::error::ApiResult;
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
/// (`query::export_file`), as job `audit-export` (progress, cancel); returns the number of rows.
#[tauri::command]
pub async fn audit_export(
    app: AppHandle,
    s: State<'_, AppState>,
    filter: AuditFilter,
    format: Format,
    path: String,
) -> ApiResult<u64> {
    let (db, op) = s.read_session().await?;
    let job = s.jobs.begin(&app, "audit-export");
    let path = std::path::Path::new(&path);
    Ok(query::export_file(&db, &op, &filter, format, path, job.work()).await?)
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
