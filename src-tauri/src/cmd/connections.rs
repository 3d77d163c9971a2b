//! Connection manager: PostgreSQL profiles (JSON file, no passwords), passwords in the OS
//! keychain or, when none runs, in memory for this session only; switching workspaces. The
//! behaviour is [`ncy_core::app`]'s.

use ncy_core::app::{Profile, ProfileView};
use ncy_core::secrets;
use serde::Serialize;
use tauri::State;

use crate::error::ApiResult;
use crate::state::{AppState, WorkspaceInfo, APP};

/// Whether an OS keychain (Secret Service) answers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct KeychainStatus {
    pub available: bool,
    pub message: String,
}

/// Probes the keychain by writing and deleting a throwaway entry.
#[tauri::command]
pub async fn keychain_status() -> ApiResult<KeychainStatus> {
    Ok(match secrets::probe_keychain() {
        Ok(()) => KeychainStatus {
            available: true,
            message: "passwords are kept in the OS keychain".into(),
        },
        Err(e) => KeychainStatus {
            available: false,
            message: e.to_string(),
        },
    })
}

/// The saved profiles and where each one's password is.
#[tauri::command]
pub async fn profiles_list(s: State<'_, AppState>) -> ApiResult<Vec<ProfileView>> {
    Ok(s.profiles().views()?)
}

/// Saves a profile: a new one (`previous` none), or an edit of the profile named `previous`
/// (which may rename it). `password` (optional) goes to the keychain, or to memory when
/// `session_only` is set; left empty, an edit keeps the stored password.
#[tauri::command]
pub async fn profiles_save(
    s: State<'_, AppState>,
    profile: Profile,
    password: Option<String>,
    session_only: bool,
    previous: Option<String>,
) -> ApiResult<ProfileView> {
    let (pw, prev) = (password.as_deref(), previous.as_deref());
    Ok(s.profiles().save(profile, pw, session_only, prev)?)
}

/// Removes a profile and its stored password.
#[tauri::command]
pub async fn profiles_delete(s: State<'_, AppState>, name: String) -> ApiResult<()> {
    Ok(s.profiles().delete(&name)?)
}

/// Connects once with the given settings (and password, else the stored one).
#[tauri::command]
pub async fn profiles_test(
    s: State<'_, AppState>,
    profile: Profile,
    password: Option<String>,
) -> ApiResult<String> {
    let pw = password
        .filter(|p| !p.is_empty())
        .or_else(|| s.profiles().password(&profile).0);
    Ok(ncy_core::app::check_profile(&profile, pw.as_deref(), APP).await?)
}

/// Switches the window to a profile (`name`) or back to the local workspace (`None`).
/// The operator must log in again.
#[tauri::command]
pub async fn workspace_switch(
    s: State<'_, AppState>,
    name: Option<String>,
) -> ApiResult<WorkspaceInfo> {
    s.open(name.as_deref()).await
}
