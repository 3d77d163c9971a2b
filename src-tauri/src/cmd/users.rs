//! Users screen: each command calls one `ncy_core::admin::users` function.

use ncy_core::admin::users::{
    self, ApiKeyInfo, Created, NewApiKey, NewUser, SessionInfo, User, UserDetail, UserFilter,
    UserPatch,
};
use ncy_core::admin::Page;
use serde::Deserialize;
use tauri::State;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::state::AppState;

#[tauri::command]
pub async fn users_list(
    s: State<'_, AppState>,
    filter: UserFilter,
    limit: u32,
    after: Option<String>,
) -> ApiResult<Page<User>> {
    let (db, op) = s.session().await?;
    Ok(users::list(&db, &op, &filter, limit, after.as_deref()).await?)
}

#[tauri::command]
pub async fn users_get(s: State<'_, AppState>, id: String) -> ApiResult<UserDetail> {
    let (db, op) = s.session().await?;
    Ok(users::get(&db, &op, &id).await?)
}

#[tauri::command]
pub async fn users_create(s: State<'_, AppState>, user: NewUser) -> ApiResult<Created> {
    let (db, op) = s.session().await?;
    Ok(users::create(&db, &op, &user).await?)
}

#[tauri::command]
pub async fn users_update(s: State<'_, AppState>, id: String, patch: UserPatch) -> ApiResult<User> {
    let (db, op) = s.session().await?;
    Ok(users::update(&db, &op, &id, &patch).await?)
}

/// What `users_set_state` does to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum UserAction {
    Suspend,
    Reactivate,
    /// Needs a fresh password (step-up) and, where configured, a second operator's approval.
    Delete,
    Restore,
}

#[tauri::command]
pub async fn users_set_state(
    s: State<'_, AppState>,
    id: String,
    action: UserAction,
) -> ApiResult<User> {
    // A delete is destructive: a long-ago sign-in asks for the password again.
    let (db, op) = s.session_for(action == UserAction::Delete).await?;
    Ok(match action {
        UserAction::Suspend => users::suspend(&db, &op, &id).await?,
        UserAction::Reactivate => users::reactivate(&db, &op, &id).await?,
        UserAction::Delete => ncy_approvals::gated::delete_user(&db, &op, &id).await?,
        UserAction::Restore => users::restore(&db, &op, &id).await?,
    })
}

/// Returns the new temporary password (shown once).
#[tauri::command]
pub async fn users_reset_password(s: State<'_, AppState>, id: String) -> ApiResult<String> {
    let (db, op) = s.session().await?;
    Ok(users::reset_password(&db, &op, &id).await?)
}

#[tauri::command]
pub async fn users_sessions(s: State<'_, AppState>, id: String) -> ApiResult<Vec<SessionInfo>> {
    let (db, op) = s.session().await?;
    Ok(users::sessions(&db, &op, &id).await?)
}

#[tauri::command]
pub async fn users_revoke_session(s: State<'_, AppState>, session_id: Uuid) -> ApiResult<()> {
    let (db, op) = s.session().await?;
    Ok(users::revoke_session(&db, &op, session_id).await?)
}

#[tauri::command]
pub async fn users_api_keys(s: State<'_, AppState>, id: String) -> ApiResult<Vec<ApiKeyInfo>> {
    let (db, op) = s.session().await?;
    Ok(users::api_keys(&db, &op, &id).await?)
}

/// Creates an API key with `scopes` and an optional expiry (`YYYY-MM-DD [HH:MM]`, UTC);
/// the plaintext key is in the result only (shown once).
#[tauri::command]
pub async fn users_create_api_key(
    s: State<'_, AppState>,
    id: String,
    scopes: Vec<String>,
    expires: Option<String>,
) -> ApiResult<NewApiKey> {
    let (db, op) = s.session().await?;
    let expires_at = match expires.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => Some(ncy_core::db::parse_ts(e).ok_or_else(|| {
            ncy_core::Error::invalid("expires", format!("{e:?} is not a date (YYYY-MM-DD)"))
        })?),
    };
    Ok(users::create_api_key(&db, &op, &id, &scopes, expires_at).await?)
}

#[tauri::command]
pub async fn users_revoke_api_key(s: State<'_, AppState>, key_id: Uuid) -> ApiResult<()> {
    let (db, op) = s.session().await?;
    Ok(users::revoke_api_key(&db, &op, key_id).await?)
}

/// Grants (`grant = true`) or revokes an RBAC role.
#[tauri::command]
pub async fn users_role(
    s: State<'_, AppState>,
    id: String,
    role: String,
    grant: bool,
) -> ApiResult<()> {
    let (db, op) = s.session().await?;
    if grant {
        users::grant_role(&db, &op, &id, &role).await?;
    } else {
        users::revoke_role(&db, &op, &id, &role).await?;
    }
    Ok(())
}
