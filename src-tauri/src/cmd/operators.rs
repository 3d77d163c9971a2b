//! Operators screen: operators' own PostgreSQL logins (provision, rotate, revoke), listed with
//! their group roles and open connections. The database checks `roles.write` too.

use tauri::State;

use crate::error::ApiResult;
use crate::state::AppState;
use ncy_core::admin::operators::{self, OperatorLogin, Provisioned};

#[tauri::command]
pub async fn operators_list(s: State<'_, AppState>) -> ApiResult<Vec<OperatorLogin>> {
    let (db, op) = s.postgres().await?;
    Ok(operators::list(&db, &op).await?)
}

/// Creates `user`'s login; the generated password is in the result, shown once.
#[tauri::command]
pub async fn operators_provision(s: State<'_, AppState>, user: String) -> ApiResult<Provisioned> {
    let (db, op) = s.postgres().await?;
    Ok(operators::provision(&db, &op, &user, None).await?)
}

/// Gives `user`'s login a new generated password (shown once).
#[tauri::command]
pub async fn operators_rotate(s: State<'_, AppState>, user: String) -> ApiResult<Provisioned> {
    let (db, op) = s.postgres().await?;
    Ok(operators::rotate(&db, &op, &user, None).await?)
}

/// Drops `user`'s login and ends its connections.
#[tauri::command]
pub async fn operators_revoke(s: State<'_, AppState>, user: String) -> ApiResult<OperatorLogin> {
    s.destructive().await?;
    let (db, op) = s.postgres().await?;
    Ok(operators::revoke(&db, &op, &user).await?)
}
