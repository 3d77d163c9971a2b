//! Settings screen: the platform's global settings (lockout policy, session lifetime, ...),
//! listed with their range and default, changed and reset with `settings.write`, audited;
//! and the state of the open database's schema migrations.

use tauri::State;

use crate::error::ApiResult;
use crate::state::AppState;
use ncy_core::admin::settings::{self, Setting};
use ncy_core::migrate::{self, MigrationSet, MigrationStatus};

#[tauri::command]
pub async fn settings_list(s: State<'_, AppState>) -> ApiResult<Vec<Setting>> {
    let (db, op) = s.session().await?;
    Ok(settings::list(&db, &op).await?)
}

/// Sets `key` to `value` (a number for the known settings; JSON or text for others).
#[tauri::command]
pub async fn settings_set(
    s: State<'_, AppState>,
    key: String,
    value: String,
) -> ApiResult<Setting> {
    let (db, op) = s.session().await?;
    Ok(settings::set(&db, &op, &key, &value).await?)
}

/// Removes `key` so its default applies again.
#[tauri::command]
pub async fn settings_reset(s: State<'_, AppState>, key: String) -> ApiResult<Setting> {
    let (db, op) = s.session().await?;
    Ok(settings::reset(&db, &op, &key).await?)
}

/// The schema migrations of the open database and their state (`ncy-admin migrate status`).
#[tauri::command]
pub async fn schema_status(s: State<'_, AppState>) -> ApiResult<Vec<MigrationStatus>> {
    let (db, _op) = s.session().await?;
    let set = MigrationSet::embedded(db.dialect())?;
    Ok(migrate::status(&db, &set).await?)
}
