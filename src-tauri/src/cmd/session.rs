//! Start-up, login and logout.

use ncy_core::auth::{self, Client, LockoutPolicy, Operator};
use serde::Serialize;
use tauri::State;

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, WorkspaceInfo};
use ncy_core::db::Target;

/// The logged-in operator as the UI needs it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Me {
    pub email: String,
    pub role: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

impl From<&Operator> for Me {
    fn from(op: &Operator) -> Self {
        Me {
            email: op.email.clone(),
            role: format!("{:?}", op.role),
            roles: op.roles.clone(),
            permissions: op.permissions.iter().cloned().collect(),
        }
    }
}

/// What the window shows before anything else.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AppInfo {
    pub version: String,
    pub workspace: WorkspaceInfo,
    pub operator: Option<Me>,
    pub data_dir: String,
}

/// Describes the app and its open workspace (opening the local workspace if none is).
#[tauri::command]
pub async fn app_info(s: State<'_, AppState>) -> ApiResult<AppInfo> {
    s.open_default().await?;
    let g = s.conn.read().await;
    let c = g.as_ref().ok_or_else(ApiError::not_logged_in)?;
    Ok(AppInfo {
        version: ncy_core::VERSION.into(),
        workspace: c.info.clone(),
        operator: c.operator.as_ref().map(Me::from),
        data_dir: s.paths.data.display().to_string(),
    })
}

/// Logs in on the open workspace; the operator is kept in memory for later commands.
#[tauri::command]
pub async fn login(s: State<'_, AppState>, email: String, password: String) -> ApiResult<Me> {
    let (db, _) = s.db().await?;
    let policy = LockoutPolicy::load(&db).await?;
    let r = auth::login(&db, &email, &password, Client::Desktop, &policy).await?;
    let me = Me::from(&r.operator);
    s.signed_in(r.operator, r.token).await;
    Ok(me)
}

/// Confirms the operator's password again before a destructive action (step-up): on a
/// session, checked against the account and recorded on the session row (audited); on an
/// operator's own database login, proven by a fresh connection with it.
#[tauri::command]
pub async fn session_step_up(s: State<'_, AppState>, password: String) -> ApiResult<()> {
    let (db, op) = s.session().await?;
    if op.session_id.is_some() {
        return Ok(auth::step_up::step_up(&db, &op, &password).await?);
    }
    let Some(Target::Postgres(url)) = s.target().await else {
        return Err(ApiError::not_logged_in());
    };
    auth::step_up::prove_db_login(&url, &password).await?;
    s.authenticated_now().await;
    Ok(())
}

/// Ends the session (the Session row is deleted).
#[tauri::command]
pub async fn logout(s: State<'_, AppState>) -> ApiResult<()> {
    let mut g = s.conn.write().await;
    if let Some(c) = g.as_mut() {
        c.operator = None;
        if let Some(t) = c.token.take() {
            auth::logout(&c.db, &t).await?;
        }
    }
    Ok(())
}
