//! Database health screen: each command calls one `ncy-health` function as the logged-in operator.

use ncy_health::{HealthReport, ReportOptions};
use tauri::State;

use crate::error::ApiResult;
use crate::state::AppState;

/// The health report of the open database (PostgreSQL or the local SQLite file).
#[tauri::command]
pub async fn health_report(s: State<'_, AppState>) -> ApiResult<HealthReport> {
    let (db, op) = s.session().await?;
    Ok(ncy_health::report(&db, &op, &ReportOptions::default()).await?)
}
