//! Sync screen: the connected profile's offline cache (`ncy-sync`).

use tauri::State;

use crate::error::ApiResult;
use crate::state::{not_postgres, AppState};

/// Sync state of the current PostgreSQL profile's offline cache, with its conflicts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncView {
    pub status: ncy_sync::cache::Status,
    pub conflicts: Vec<ncy_sync::conflicts::Conflict>,
}

/// Reads the offline cache of the connected profile (`ncy-admin sync init` creates it).
#[tauri::command]
pub async fn sync_status(s: State<'_, AppState>) -> ApiResult<SyncView> {
    let (_, target, _) = s.session_target().await?;
    let ncy_core::db::Target::Postgres(url) = target else {
        return Err(not_postgres());
    };
    let view = crate::workspace::off_thread(move || async move {
        let cache = ncy_sync::cache::Cache::open_profile(&url).await?;
        Ok(SyncView {
            status: cache.status().await?,
            conflicts: ncy_sync::conflicts::list(&cache, false).await?,
        })
    })
    .await?;
    Ok(view)
}
