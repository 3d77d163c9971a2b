//! Tauri commands grouped by screen. Each parses its input, calls one core function as the
//! logged-in operator and maps errors to `{code, message}`.

pub mod approvals;
pub mod audit;
pub mod backups;
pub mod connections;
pub mod gdpr;
pub mod health;
pub mod operators;
pub mod orgs;
pub mod session;
pub mod settings;
pub mod sync;
pub mod tasks;
pub mod users;

use tauri::State;

use crate::error::ApiResult;
use crate::state::AppState;
use ncy_core::admin::stats::{self, Dashboard};

#[tauri::command]
pub async fn dashboard(s: State<'_, AppState>) -> ApiResult<Dashboard> {
    let (db, op) = s.session().await?;
    Ok(stats::load(&db, &op).await?)
}

/// Asks a running job to stop; false when it already ended.
#[tauri::command]
pub fn job_cancel(s: State<'_, AppState>, job: String) -> bool {
    s.jobs.cancel(&job)
}
