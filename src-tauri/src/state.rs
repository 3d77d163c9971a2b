//! What the app holds between commands: the open workspace and the logged-in operator.

use ncy_core::auth::{Client, Operator};
use ncy_core::db::{Db, Target};
use serde::Serialize;
use tokio::sync::RwLock;

use crate::error::{ApiError, ApiResult, DesktopErrorCode};
use ncy_core::app::{Paths, Profiles, SessionPasswords};

/// Which database the window works on.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WorkspaceInfo {
    /// `local` (embedded SQLite), `postgres` (a profile) or `offline` (a profile's offline
    /// cache: reads, and task edits queued for the next "Sync now").
    pub kind: String,
    /// The file path or the profile name.
    pub label: String,
    /// True when the local workspace was created and seeded at this start.
    pub fresh: bool,
}

/// The `application_name` the window's connections carry.
pub const APP: &str = "ncy-desktop";

impl WorkspaceInfo {
    /// The local workspace at `path`.
    pub fn local(path: &std::path::Path, fresh: bool) -> Self {
        WorkspaceInfo {
            kind: "local".into(),
            label: path.display().to_string(),
            fresh,
        }
    }

    /// True for a PostgreSQL profile.
    pub fn is_postgres(&self) -> bool {
        self.kind == "postgres"
    }

    /// True for a profile's offline cache.
    pub fn is_offline(&self) -> bool {
        self.kind == "offline"
    }
}

/// An open workspace and, after login, its operator.
pub struct Conn {
    pub db: Db,
    /// Where `db` was opened from (backups need it; a PostgreSQL URL holds the password, so
    /// it stays in memory).
    pub target: Target,
    pub info: WorkspaceInfo,
    pub operator: Option<Operator>,
    /// The session token of the login (kept in memory only; deleted at logout).
    pub token: Option<String>,
    /// When an operator's own database login (no session row) last proved itself: the
    /// connection, or the last step-up.
    pub authenticated_at: std::time::Instant,
    /// The profile's read replica and its URL (in memory: it holds the password), if any.
    pub replica: Option<(Db, String)>,
}

/// Tauri-managed state.
pub struct AppState {
    pub paths: Paths,
    pub conn: RwLock<Option<Conn>>,
    /// Session-only database passwords (profile name → password) when no keychain runs.
    pub session_passwords: SessionPasswords,
    /// Cancel flags of running long jobs.
    pub jobs: crate::jobs::Jobs,
}

impl AppState {
    /// A state with no workspace open yet.
    pub fn new(paths: Paths) -> Self {
        AppState {
            paths,
            conn: RwLock::new(None),
            session_passwords: SessionPasswords::default(),
            jobs: crate::jobs::Jobs::default(),
        }
    }

    /// The saved connection profiles and their passwords.
    pub fn profiles(&self) -> Profiles<'_> {
        Profiles::new(self.paths.profiles(), &self.session_passwords)
    }

    /// Opens the local workspace (created and seeded on first start) or the profile called
    /// `name` (with its read replica) and makes it the open workspace.
    pub async fn open(&self, name: Option<&str>) -> ApiResult<WorkspaceInfo> {
        let conn = self.connect(name).await?;
        let info = conn.info.clone();
        self.replace_conn(conn).await;
        Ok(info)
    }

    /// Opens the local workspace unless a workspace is open; the check and the opening hold
    /// the lock together, so the start-up call and the window's first call open it once.
    pub async fn open_default(&self) -> ApiResult<()> {
        let mut g = self.conn.write().await;
        if g.is_none() {
            *g = Some(self.connect(None).await?);
        }
        Ok(())
    }

    /// A connection to the local workspace or the profile called `name`; a profile holding an
    /// operator's own database login is already their identity.
    async fn connect(&self, name: Option<&str>) -> ApiResult<Conn> {
        let (db, target, info, replica) = match name {
            None => {
                let path = self.paths.workspace();
                let (db, fresh) = ncy_core::app::open_local(&path).await?;
                let info = WorkspaceInfo::local(&path, fresh);
                (db, Target::Local(path), info, None)
            }
            Some(name) => {
                let profiles = self.profiles();
                let p = profiles.find(name)?;
                let pw = profiles.password(&p).0;
                let db = ncy_core::app::connect_profile(&p, pw.as_deref(), APP).await?;
                let replica = ncy_core::app::connect_replica(&p, pw.as_deref(), APP).await?;
                let info = WorkspaceInfo {
                    kind: "postgres".into(),
                    label: p.name.clone(),
                    fresh: false,
                };
                (db, p.target(pw.as_deref()), info, replica)
            }
        };
        let operator = ncy_core::auth::identify(&db, Client::Desktop).await?;
        Ok(Conn {
            db,
            target,
            info,
            operator,
            token: None,
            authenticated_at: std::time::Instant::now(),
            replica,
        })
    }

    /// Makes profile `name`'s offline cache the open workspace, as `op` (the operator last
    /// seen online).
    pub async fn open_offline(
        &self,
        name: &str,
        cache: ncy_sync::Cache,
        op: Operator,
    ) -> WorkspaceInfo {
        let info = WorkspaceInfo {
            kind: "offline".into(),
            label: format!("{name} (offline cache)"),
            fresh: false,
        };
        self.replace_conn(Conn {
            db: cache.db,
            target: Target::Local(cache.path),
            info: info.clone(),
            operator: Some(op),
            token: None,
            authenticated_at: std::time::Instant::now(),
            replica: None,
        })
        .await;
        info
    }

    /// Where the open workspace was opened from.
    pub async fn target(&self) -> Option<Target> {
        self.conn.read().await.as_ref().map(|c| c.target.clone())
    }

    /// Records a proof of the operator's own database login (the connection, a step-up).
    pub async fn authenticated_now(&self) {
        if let Some(c) = self.conn.write().await.as_mut() {
            c.authenticated_at = std::time::Instant::now();
        }
    }

    /// Keeps the operator and the session token of a login for later commands.
    pub async fn signed_in(&self, operator: Operator, token: String) {
        if let Some(c) = self.conn.write().await.as_mut() {
            c.operator = Some(operator);
            c.token = Some(token);
        }
    }

    /// The database and the logged-in operator, checked again at every call: a suspended,
    /// revoked or expired operator is refused at the next click, not at the next start.
    pub async fn session(&self) -> ApiResult<(Db, Operator)> {
        let (db, op, token, offline) = {
            let g = self.conn.read().await;
            let c = g.as_ref().ok_or_else(no_workspace)?;
            let op = c.operator.clone().ok_or_else(ApiError::not_logged_in)?;
            (c.db.clone(), op, c.token.clone(), c.info.is_offline())
        };
        if offline {
            return Ok((db, op));
        }
        let fresh = match token {
            Some(t) => ncy_core::auth::authenticate(&db, &t, Client::Desktop).await?,
            None => ncy_core::auth::identify(&db, Client::Desktop)
                .await?
                .ok_or_else(ApiError::not_logged_in)?,
        };
        Ok((db, fresh))
    }

    /// Makes `conn` the open workspace, closing the one it replaces.
    pub async fn replace_conn(&self, conn: Conn) {
        let mut g = self.conn.write().await;
        if let Some(old) = g.replace(conn) {
            old.db.close().await;
            if let Some((r, _)) = old.replica {
                r.close().await;
            }
        }
    }

    /// [`AppState::session`] for heavy reads: the store is the profile's read replica when it
    /// has one (the operator is still checked on the primary).
    pub async fn read_session(&self) -> ApiResult<(Db, Operator)> {
        let (db, op) = self.session().await?;
        Ok((self.reader(&db).await, op))
    }

    /// Where heavy reads go: the profile's read replica when it has one, else `primary`.
    pub async fn reader(&self, primary: &Db) -> Db {
        self.replica()
            .await
            .map(|(r, _)| r)
            .unwrap_or_else(|| primary.clone())
    }

    /// The profile's read replica and its URL, if any.
    pub async fn replica(&self) -> Option<(Db, String)> {
        self.conn
            .read()
            .await
            .as_ref()
            .and_then(|c| c.replica.clone())
    }

    /// The offline cache when the window works on one (its edits go through the outbox).
    pub async fn offline_cache(&self) -> Option<ncy_sync::Cache> {
        let g = self.conn.read().await;
        let c = g.as_ref()?;
        match (&c.target, c.info.is_offline()) {
            (Target::Local(path), true) => Some(ncy_sync::Cache {
                db: c.db.clone(),
                path: path.clone(),
            }),
            _ => None,
        }
    }

    /// The open database (before login).
    pub async fn db(&self) -> ApiResult<(Db, WorkspaceInfo)> {
        let g = self.conn.read().await;
        let c = g.as_ref().ok_or_else(no_workspace)?;
        Ok((c.db.clone(), c.info.clone()))
    }

    /// The current workspace description, if one is open.
    pub async fn info(&self) -> Option<WorkspaceInfo> {
        self.conn.read().await.as_ref().map(|c| c.info.clone())
    }

    /// The database, its target and the operator.
    pub async fn session_target(&self) -> ApiResult<(Db, Target, Operator)> {
        let (db, op) = self.session().await?;
        let g = self.conn.read().await;
        let c = g.as_ref().ok_or_else(no_workspace)?;
        Ok((db, c.target.clone(), op))
    }

    /// [`Self::destructive`] when `destructive`, else [`Self::session`].
    pub async fn session_for(&self, destructive: bool) -> ApiResult<(Db, Operator)> {
        if destructive {
            self.destructive().await
        } else {
            self.session().await
        }
    }

    /// [`AppState::session`] for a destructive action: refused with `step_up` when the
    /// operator's last authentication is older than
    /// [`STEP_UP_MINUTES`](ncy_core::auth::step_up::STEP_UP_MINUTES); the window then asks
    /// for the password (`session_step_up`) and tries again.
    pub async fn destructive(&self) -> ApiResult<(Db, Operator)> {
        use ncy_core::auth::step_up::{require_recent, STEP_UP_MINUTES};
        let (db, op) = self.session().await?;
        if op.session_id.is_some() {
            require_recent(&db, &op, STEP_UP_MINUTES).await?;
        } else {
            let at = self.conn.read().await.as_ref().map(|c| c.authenticated_at);
            let max = std::time::Duration::from_secs(STEP_UP_MINUTES as u64 * 60);
            if at.is_some_and(|t| t.elapsed() > max) {
                return Err(ncy_core::Error::StepUpRequired {
                    minutes: STEP_UP_MINUTES,
                }
                .into());
            }
        }
        Ok((db, op))
    }

    /// Requires a PostgreSQL workspace (for server-only screens).
    pub async fn postgres(&self) -> ApiResult<(Db, Operator)> {
        let (db, op) = self.session().await?;
        if db.pg().is_none() {
            return Err(not_postgres());
        }
        Ok((db, op))
    }
}

fn no_workspace() -> ApiError {
    ApiError::new(
        DesktopErrorCode::NoWorkspace,
        "no workspace is open: open the local workspace or connect a PostgreSQL profile",
    )
}

/// The error of server-only screens on the local workspace.
/// A change the offline cache cannot take (it could never be pushed).
pub fn offline_refused() -> ApiError {
    ApiError::new(
        DesktopErrorCode::Offline,
        "working offline: the cache takes only task edits (queued for the next Sync now); connect to the server for this",
    )
}

pub fn not_postgres() -> ApiError {
    ApiError::new(
        DesktopErrorCode::NotPostgres,
        "not connected to PostgreSQL: this screen needs a server. Add a profile under Connections and switch to it",
    )
}
