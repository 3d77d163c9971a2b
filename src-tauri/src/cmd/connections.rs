//! Connection manager: PostgreSQL profiles (JSON file, no passwords), passwords in the OS
//! keychain or, when none runs, in memory for this session only; switching workspaces.

use ncy_core::db::Target;
use ncy_core::secrets::Secret;
use serde::Serialize;
use tauri::State;

use crate::error::ApiResult;
use crate::state::{AppState, Conn, WorkspaceInfo};
use crate::workspace::{self, Profile};

/// A profile and where its password is.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProfileView {
    pub profile: Profile,
    /// `keychain`, `session` (memory only) or `none`.
    pub password: String,
}

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
    let probe = Secret::new("ncy-desktop-probe");
    Ok(match probe.set_keychain("probe") {
        Ok(()) => {
            let _ = probe.delete();
            KeychainStatus {
                available: true,
                message: "passwords are kept in the OS keychain".into(),
            }
        }
        Err(e) => KeychainStatus {
            available: false,
            message: e.to_string(),
        },
    })
}

fn password_of(s: &AppState, p: &Profile) -> (Option<String>, &'static str) {
    if let Some(pw) = s
        .session_passwords
        .lock()
        .ok()
        .and_then(|m| m.get(&p.name).cloned())
    {
        return (Some(pw), "session");
    }
    match Secret::new(p.secret_account()).get() {
        Ok(Some(pw)) => (Some(pw), "keychain"),
        _ => (None, "none"),
    }
}

#[tauri::command]
pub async fn profiles_list(s: State<'_, AppState>) -> ApiResult<Vec<ProfileView>> {
    let list = workspace::load_profiles(&s.paths.profiles())?;
    Ok(list
        .into_iter()
        .map(|p| {
            let (_, w) = password_of(&s, &p);
            ProfileView {
                profile: p,
                password: w.into(),
            }
        })
        .collect())
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
    profile.validate()?;
    let path = s.paths.profiles();
    let mut list = workspace::load_profiles(&path)?;
    let previous = previous.filter(|n| !n.is_empty());
    if previous.as_deref() != Some(profile.name.as_str())
        && list.iter().any(|p| p.name == profile.name)
    {
        return Err(ncy_core::Error::conflict(
            "name",
            format!(
                "a profile named {} exists already: edit it, or choose another name",
                profile.name
            ),
        )
        .into());
    }
    // An edit of user, host, port or database changes the keychain account: the stored
    // password moves with the profile (unless a new one is given) and the old entry goes.
    if let Some(old) = previous
        .as_deref()
        .and_then(|n| list.iter().find(|p| p.name == n))
    {
        let (from, to) = (old.secret_account(), profile.secret_account());
        if from != to {
            let old_secret = Secret::new(from);
            if password.as_deref().is_none_or(str::is_empty) {
                if let Some(pw) = old_secret.get()? {
                    Secret::new(to).set_keychain(&pw)?;
                }
            }
            let _ = old_secret.delete();
        }
        if old.name != profile.name {
            if let Ok(mut m) = s.session_passwords.lock() {
                if let Some(pw) = m.remove(&old.name) {
                    m.insert(profile.name.clone(), pw);
                }
            }
        }
    }
    if let Some(pw) = password.filter(|p| !p.is_empty()) {
        if session_only {
            if let Ok(mut m) = s.session_passwords.lock() {
                m.insert(profile.name.clone(), pw);
            }
        } else {
            Secret::new(profile.secret_account()).set_keychain(&pw)?;
        }
    }
    list.retain(|p| p.name != profile.name && Some(p.name.as_str()) != previous.as_deref());
    list.push(profile.clone());
    list.sort_by(|a, b| a.name.cmp(&b.name));
    workspace::save_profiles(&path, &list)?;
    let (_, w) = password_of(&s, &profile);
    Ok(ProfileView {
        profile,
        password: w.into(),
    })
}

/// Removes a profile and its stored password.
#[tauri::command]
pub async fn profiles_delete(s: State<'_, AppState>, name: String) -> ApiResult<()> {
    let path = s.paths.profiles();
    let mut list = workspace::load_profiles(&path)?;
    if let Some(p) = list.iter().find(|p| p.name == name) {
        let _ = Secret::new(p.secret_account()).delete();
    }
    if let Ok(mut m) = s.session_passwords.lock() {
        m.remove(&name);
    }
    list.retain(|p| p.name != name);
    Ok(workspace::save_profiles(&path, &list)?)
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
        .or_else(|| password_of(&s, &profile).0);
    let db = workspace::connect_task(profile.clone(), pw.clone()).await?;
    db.close().await;
    let replica = match workspace::connect_replica_task(profile.clone(), pw).await? {
        Some((r, _)) => {
            r.close().await;
            format!(
                "; read replica {} reached",
                profile.replica_host().unwrap_or_default()
            )
        }
        None => String::new(),
    };
    Ok(format!(
        "connected to {} as {}: the schema is current{replica}",
        profile.host, profile.user
    ))
}

/// Switches the window to a profile (`name`) or back to the local workspace (`None`).
/// The operator must log in again.
#[tauri::command]
pub async fn workspace_switch(
    s: State<'_, AppState>,
    name: Option<String>,
) -> ApiResult<WorkspaceInfo> {
    let (db, target, info, replica) = match name {
        None => {
            let path = s.paths.workspace();
            let (db, fresh) = workspace::open_local_task(path.clone()).await?;
            (
                db,
                Target::Local(path.clone()),
                WorkspaceInfo {
                    kind: "local".into(),
                    label: path.display().to_string(),
                    fresh,
                },
                None,
            )
        }
        Some(name) => {
            let p = workspace::find_profile(&s.paths.profiles(), &name)?;
            let pw = password_of(&s, &p).0;
            let db = workspace::connect_task(p.clone(), pw.clone()).await?;
            let replica = workspace::connect_replica_task(p.clone(), pw.clone()).await?;
            (
                db,
                p.target(pw.as_deref()),
                WorkspaceInfo {
                    kind: "postgres".into(),
                    label: p.name.clone(),
                    fresh: false,
                },
                replica,
            )
        }
    };
    // A profile holding an operator's own database login is already their identity.
    let operator = ncy_core::auth::identify(&db, ncy_core::auth::Client::Desktop).await?;
    s.replace_conn(Conn {
        db,
        target,
        info: info.clone(),
        operator,
        token: None,
        authenticated_at: std::time::Instant::now(),
        replica,
    })
    .await;
    Ok(info)
}
