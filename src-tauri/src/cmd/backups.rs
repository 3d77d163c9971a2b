//! Backups screen: each command calls one `ncy-backup` function as the logged-in operator.

use chrono::NaiveDateTime;
use ncy_backup::{
    BackupList, BackupRef, Backups, CreateOptions, PitrReadiness, PrunePlan, PrunePolicy,
    RestoreOptions, RestorePlan, RestoreReport, Snapshot, Verification,
};
use std::path::Path;
use tauri::{AppHandle, State};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::state::{not_postgres, AppState};

async fn backups(s: &AppState) -> ApiResult<(Backups, ncy_core::auth::Operator)> {
    let (db, target, op) = s.session_target().await?;
    // The folder backups_create writes to: verify, restore and prune refuse rows naming
    // files elsewhere.
    Ok((Backups::new(db, &target)?.with_dir(s.paths.backups()), op))
}

/// The same, where pg_dump reads the profile's read replica when it has one (the snapshot is
/// recorded on the primary).
async fn backups_reading_replica(s: &AppState) -> ApiResult<(Backups, ncy_core::auth::Operator)> {
    let (b, op) = backups(s).await?;
    Ok(match s.replica().await {
        Some((r, url)) => (b.with_replica(r, &url)?, op),
        None => (b, op),
    })
}

#[tauri::command]
pub async fn backups_list(s: State<'_, AppState>, after: Option<String>) -> ApiResult<BackupList> {
    let (b, op) = backups(&s).await?;
    Ok(b.list(&op, after.as_deref(), 100).await?)
}

/// Takes a backup into `<data dir>/backups`, emitting `progress` for `job` (cancellable);
/// with `encrypt`, encrypted with age to the keychain's default backup key.
#[tauri::command]
pub async fn backups_create(
    app: AppHandle,
    s: State<'_, AppState>,
    job: String,
    encrypt: Option<bool>,
) -> ApiResult<Snapshot> {
    let (b, op) = backups_reading_replica(&s).await?;
    let job = s.jobs.begin(&app, &job);
    let opts = CreateOptions::new(s.paths.backups()).encrypted(encrypt.unwrap_or(false));
    Ok(b.create(&op, &opts, job.work()).await?)
}

/// Proves a backup restorable (checksum, read, test restore, counts) and records the result.
#[tauri::command]
pub async fn backups_verify(
    app: AppHandle,
    s: State<'_, AppState>,
    job: String,
    id: Uuid,
) -> ApiResult<Verification> {
    let (b, op) = backups(&s).await?;
    let job = s.jobs.begin(&app, &job);
    let r = b.verify(&op, &BackupRef::Id(id), job.work()).await;
    Ok(r?)
}

/// What prune keeps and deletes under the policy; with `dry_run` nothing is deleted (the
/// preview), else the files and rows go, audited (`BACKUP_PRUNE`). The newest verified backup
/// is always kept.
#[tauri::command]
pub async fn backups_prune(
    s: State<'_, AppState>,
    keep_days: i64,
    keep_last: Option<u64>,
    dry_run: bool,
) -> ApiResult<PrunePlan> {
    if !dry_run {
        s.destructive().await?;
    }
    let (b, op) = backups(&s).await?;
    let policy = PrunePolicy {
        keep_days,
        keep_last,
    };
    Ok(b.prune(&op, &policy, dry_run).await?)
}

/// Where a local restore goes: a relative name lands under `<data dir>/restores/`; an
/// absolute path is used as given.
fn local_restore_path(data: &Path, into: &str) -> ApiResult<String> {
    let into = into.trim();
    let p = Path::new(into);
    if into.is_empty() || p.is_absolute() {
        return Ok(into.to_owned());
    }
    let out = data.join("restores").join(p);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ncy_core::Error::io(format!("creating {}", dir.display()), e))?;
    }
    Ok(out.to_string_lossy().into_owned())
}

/// Restores backup `id` into a new database (PostgreSQL) or file (local workspace), emitting
/// `progress` for `job` (cancellable). Replacing an existing one needs `force`; the window
/// asks for the database name typed before passing it.
#[tauri::command]
#[allow(clippy::too_many_arguments)] // each parameter is one named IPC argument
pub async fn backups_restore(
    app: AppHandle,
    s: State<'_, AppState>,
    job: String,
    id: Uuid,
    into: String,
    force: bool,
    no_owner: bool,
    tables: Option<Vec<String>>,
) -> ApiResult<RestoreReport> {
    s.destructive().await?;
    let (b, op) = backups(&s).await?;
    let opts = restore_options(&s, &b, into, force, no_owner, tables)?;
    let job = s.jobs.begin(&app, &job);
    let id = id.to_string();
    Ok(ncy_approvals::gated::restore_backup(&b, &op, &id, &opts, job.work()).await?)
}

/// The restore's options: a bare local file name goes to the restores folder of the data
/// directory; `tables` restores only those (PostgreSQL).
fn restore_options(
    s: &AppState,
    b: &Backups,
    into: String,
    force: bool,
    no_owner: bool,
    tables: Option<Vec<String>>,
) -> ApiResult<RestoreOptions> {
    let into = if b.db().pg().is_some() {
        into.trim().to_owned()
    } else {
        local_restore_path(&s.paths.data, &into)?
    };
    Ok(RestoreOptions {
        into,
        force,
        no_owner,
        tables: tables.unwrap_or_default(),
    })
}

/// What a restore with these options would do (created or replaced, tables and rows at
/// backup time, notes), shown before it runs.
#[tauri::command]
pub async fn backups_restore_plan(
    s: State<'_, AppState>,
    id: Uuid,
    into: String,
    force: bool,
    no_owner: bool,
    tables: Option<Vec<String>>,
) -> ApiResult<RestorePlan> {
    let (b, op) = backups(&s).await?;
    let opts = restore_options(&s, &b, into, force, no_owner, tables)?;
    Ok(b.restore_plan(&op, &BackupRef::Id(id), &opts).await?)
}

/// Point-in-time recovery readiness of the PostgreSQL server (WAL archiving state).
#[tauri::command]
pub async fn backups_pitr(s: State<'_, AppState>) -> ApiResult<PitrReadiness> {
    if s.postgres().await.is_err() {
        return Err(not_postgres());
    }
    let (b, op) = backups(&s).await?;
    Ok(b.pitr_readiness(&op).await?)
}

/// The PostgreSQL 12+ recovery script for the DBA, recovering to `target` (UTC).
#[tauri::command]
pub async fn backups_recovery_script(
    s: State<'_, AppState>,
    target: NaiveDateTime,
) -> ApiResult<String> {
    let (b, op) = backups(&s).await?;
    let readiness = b.pitr_readiness(&op).await?;
    Ok(ncy_backup::pitr::recovery_script(&readiness, target)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_local_restore_name_lands_in_the_restores_dir() {
        let d = tempfile::tempdir().unwrap();
        let p = local_restore_path(d.path(), " copy.db ").unwrap();
        assert_eq!(p, d.path().join("restores/copy.db").to_string_lossy());
        assert!(d.path().join("restores").is_dir());
        assert_eq!(
            local_restore_path(d.path(), "/tmp/x.db").unwrap(),
            "/tmp/x.db"
        );
        let nested = local_restore_path(d.path(), "a/x.db").unwrap();
        assert_eq!(nested, d.path().join("restores/a/x.db").to_string_lossy());
        assert!(d.path().join("restores/a").is_dir());
        assert_eq!(local_restore_path(d.path(), "").unwrap(), "");
    }
}
