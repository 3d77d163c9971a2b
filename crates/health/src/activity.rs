//! Sessions: long-running transactions, idle-in-transaction sessions, blocked locks (who
//! blocks whom, from `pg_blocking_pids`), and the audited cancel / terminate actions.

use chrono::NaiveDateTime;
use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::Db;
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::guard::{privilege, read_rows, write_tx};

/// One client session that is not plain idle.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SessionInfo {
    pub pid: i64,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application: Option<String>,
    pub client_addr: Option<String>,
    /// `active`, `idle in transaction`, `idle in transaction (aborted)`, ...
    pub state: Option<String>,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    pub xact_start: Option<NaiveDateTime>,
    /// Age of the open transaction.
    pub xact_seconds: Option<f64>,
    /// Age of the current (or last) statement.
    pub query_seconds: Option<f64>,
    /// Time in the current state (for idle in transaction: how long it has been idle).
    pub state_seconds: Option<f64>,
    /// Current or last statement, cut to 1 000 characters.
    pub query: Option<String>,
    /// Sessions this one waits for (empty unless waiting on a lock).
    pub blocked_by: Vec<i64>,
}

impl SessionInfo {
    /// True for `idle in transaction` (and its aborted variant).
    pub fn idle_in_transaction(&self) -> bool {
        self.state
            .as_deref()
            .map(|s| s.starts_with("idle in transaction"))
            .unwrap_or(false)
    }
}

/// One session waiting for a lock, and the sessions holding it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BlockedSession {
    pub waiting: SessionInfo,
    /// The lock waited for: `relation`, `transactionid`, `tuple`, ...
    pub lock_type: Option<String>,
    pub lock_mode: Option<String>,
    pub relation: Option<String>,
    /// The sessions that block it (pg_blocking_pids), with what they are doing.
    pub blockers: Vec<SessionInfo>,
}

/// Sessions of the whole server, except plain idle ones and this client's own.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Activity {
    pub sessions: Vec<SessionInfo>,
    pub blocked: Vec<BlockedSession>,
}

const SESSION_COLS: &str = "a.pid::int8 AS pid, a.usename::text AS usr, a.datname::text AS dbname,
    a.application_name AS app, a.client_addr::text AS client_addr, a.state,
    a.wait_event_type, a.wait_event, a.xact_start,
    extract(epoch FROM now() - a.xact_start)::float8 AS xact_seconds,
    extract(epoch FROM now() - a.query_start)::float8 AS query_seconds,
    extract(epoch FROM now() - a.state_change)::float8 AS state_seconds,
    left(a.query, 1000) AS query,
    CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid)::text[] END AS blocked_by";

/// A session row ([`SESSION_COLS`]).
#[derive(Deserialize)]
struct SessionRow {
    pid: i64,
    usr: Option<String>,
    dbname: Option<String>,
    app: Option<String>,
    client_addr: Option<String>,
    state: Option<String>,
    wait_event_type: Option<String>,
    wait_event: Option<String>,
    xact_start: Option<NaiveDateTime>,
    xact_seconds: Option<f64>,
    query_seconds: Option<f64>,
    state_seconds: Option<f64>,
    query: Option<String>,
    /// `text[]`: the row decoder has no integer arrays (NULL: none).
    blocked_by: Vec<String>,
}

impl From<SessionRow> for SessionInfo {
    fn from(r: SessionRow) -> SessionInfo {
        SessionInfo {
            pid: r.pid,
            user: r.usr,
            database: r.dbname,
            application: r.app.filter(|s| !s.is_empty()),
            client_addr: r.client_addr,
            state: r.state,
            wait_event_type: r.wait_event_type,
            wait_event: r.wait_event,
            xact_start: r.xact_start,
            xact_seconds: r.xact_seconds,
            query_seconds: r.query_seconds,
            state_seconds: r.state_seconds,
            query: r.query,
            blocked_by: r.blocked_by.iter().filter_map(|p| p.parse().ok()).collect(),
        }
    }
}

/// A row of the activity statement: its list and place in it (with the session's columns).
#[derive(Deserialize)]
struct Place {
    part: i64,
    ord: i64,
}

/// The lock a waiting session waits for (part 1 of the activity statement).
#[derive(Deserialize)]
struct Lock {
    locktype: Option<String>,
    mode: Option<String>,
    relation: Option<String>,
}

/// The columns of [`SESSION_COLS`] by name, to select them from a CTE.
const SESSION_NAMES: &str = "pid, usr, dbname, app, client_addr, state, wait_event_type, \
    wait_event, xact_start, xact_seconds, query_seconds, state_seconds, query, blocked_by";

/// Reads [`Activity`] (at most `limit` sessions, oldest transaction first), in one statement:
/// part 0 the sessions, part 1 the sessions waiting for a lock (`ord` their place), part 2
/// the sessions blocking each of them (`ord` the waiting one's place), in pid order.
pub(crate) async fn read(db: &Db, limit: i64) -> Result<Activity> {
    let rows = read_rows(
        db,
        &format!(
            "WITH w AS MATERIALIZED (
                     SELECT row_number() OVER (ORDER BY a.query_start NULLS LAST, a.pid) AS ord,
                            {SESSION_COLS}, l.locktype, l.mode,
                            l.relation::regclass::text AS relation
                     FROM pg_stat_activity a
                     LEFT JOIN LATERAL (SELECT locktype, mode, relation FROM pg_locks
                                        WHERE pid = a.pid AND NOT granted LIMIT 1) l ON true
                     WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
                     ORDER BY a.query_start NULLS LAST, a.pid LIMIT {limit})
                 (SELECT 0 AS part,
                         row_number() OVER (ORDER BY a.xact_start NULLS LAST, a.pid) AS ord,
                         {SESSION_COLS}, NULL::text AS locktype, NULL::text AS mode,
                         NULL::text AS relation
                  FROM pg_stat_activity a
                  WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
                    AND a.state IS DISTINCT FROM 'idle'
                  ORDER BY a.xact_start NULLS LAST, a.pid LIMIT {limit})
                 UNION ALL
                 SELECT 1, ord, {SESSION_NAMES}, locktype, mode, relation FROM w
                 UNION ALL
                 SELECT 2, w.ord, {SESSION_COLS}, NULL, NULL, NULL
                 FROM w JOIN pg_stat_activity a ON a.pid::text = ANY(w.blocked_by)
                 ORDER BY 1, 2, 3"
        ),
    )
    .await?;
    let mut sessions = Vec::new();
    // The waiting sessions by their place, with their blockers once read.
    let mut waiting: Vec<(i64, BlockedSession)> = Vec::new();
    for r in &rows {
        let Place { part, ord } = r.decode()?;
        match part {
            0 => sessions.push(r.decode::<SessionRow>()?.into()),
            1 => {
                let w: SessionInfo = r.decode::<SessionRow>()?.into();
                if w.blocked_by.is_empty() {
                    continue;
                }
                let l: Lock = r.decode()?;
                waiting.push((
                    ord,
                    BlockedSession {
                        lock_type: l.locktype,
                        lock_mode: l.mode,
                        relation: l.relation,
                        waiting: w,
                        blockers: vec![],
                    },
                ));
            }
            _ => {
                if let Some((_, b)) = waiting.iter_mut().find(|(o, _)| *o == ord) {
                    b.blockers.push(r.decode::<SessionRow>()?.into());
                }
            }
        }
    }
    let blocked = waiting.into_iter().map(|(_, b)| b).collect();
    Ok(Activity { sessions, blocked })
}

/// The sessions and blocked locks of the server (`health.read`).
pub async fn sessions(db: &Db, op: &Operator) -> Result<Activity> {
    op.require(perm::HEALTH_READ)?;
    db.as_pg("listing sessions")?;
    read(db, 100).await
}

/// Which signal to send to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// `pg_cancel_backend`: stop the running statement, keep the session.
    Cancel,
    /// `pg_terminate_backend`: end the session (its transaction rolls back).
    Terminate,
}

impl Signal {
    fn function(self) -> &'static str {
        match self {
            Signal::Cancel => "pg_cancel_backend",
            Signal::Terminate => "pg_terminate_backend",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Signal::Cancel => "health.cancel_query",
            Signal::Terminate => "health.terminate_session",
        }
    }
}

/// The outcome of [`signal`].
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SignalResult {
    pub signal: Signal,
    /// The session as it was just before the signal.
    pub session: SessionInfo,
}

/// Cancels the running statement of session `pid` (`health.configure`, audited).
pub async fn cancel(db: &Db, op: &Operator, pid: i64) -> Result<SignalResult> {
    signal(db, op, pid, Signal::Cancel).await
}

/// Terminates session `pid` (`health.configure`, audited).
pub async fn terminate(db: &Db, op: &Operator, pid: i64) -> Result<SignalResult> {
    signal(db, op, pid, Signal::Terminate).await
}

/// Sends `sig` to client session `pid`. The AuditLog row is written first in the same
/// transaction; the signal itself cannot be rolled back, so a failure to commit afterwards is
/// reported as an error naming the signal that was sent.
pub async fn signal(db: &Db, op: &Operator, pid: i64, sig: Signal) -> Result<SignalResult> {
    op.require(perm::HEALTH_CONFIGURE)?;
    db.as_pg("cancelling or terminating a session")?;
    if !(1..=i32::MAX as i64).contains(&pid) {
        return Err(Error::invalid(
            "pid",
            "give a process id from pg_stat_activity",
        ));
    }
    /// What decides whether `pid` may be signalled, beside its session's columns.
    #[derive(Deserialize)]
    struct Target {
        backend_type: Option<String>,
        own: bool,
    }
    /// The outcome of `pg_cancel_backend` / `pg_terminate_backend`.
    #[derive(Deserialize)]
    struct Signalled {
        ok: bool,
    }
    let mut tx = write_tx(db).await?;
    let r = tx
        .query_opt(
            &format!(
                "SELECT {SESSION_COLS}, a.backend_type, (a.pid = pg_backend_pid()) AS own
                 FROM pg_stat_activity a WHERE a.pid = $1"
            ),
            &params![pid],
        )
        .await?
        .ok_or_else(|| Error::not_found("session (pid)", pid))?;
    let target: Target = r.decode()?;
    if target.own {
        return Err(Error::invalid("pid", "that is this client's own session"));
    }
    let kind = target.backend_type.unwrap_or_default();
    // An empty type means the role may not see that session's details (no pg_read_all_stats):
    // let the server decide whether it may be signalled.
    if !kind.is_empty() && kind != "client backend" {
        return Err(Error::invalid(
            "pid",
            format!(
                "{pid} is a `{kind}` server process, not a client session; refusing to signal it"
            ),
        ));
    }
    let s: SessionInfo = r.decode::<SessionRow>()?.into();
    audit::record(
        &mut tx,
        op,
        Entry {
            action: sig.action(),
            table: "pg_stat_activity",
            target_id: None,
            old: Some(json!({
                "pid": s.pid, "user": s.user, "database": s.database,
                "application": s.application, "state": s.state,
            })),
            new: None,
        },
    )
    .await?;
    let Signalled { ok } = tx
        .query_one(
            &format!("SELECT {}($1::int) AS ok", sig.function()),
            &params![pid],
        )
        .await
        .map_err(|e| {
            privilege(
                e,
                "signal that session",
                "connect as a superuser, or GRANT pg_signal_backend TO the role (superuser sessions can only be signalled by a superuser)",
            )
        })?
        .decode()?;
    if !ok {
        return Err(Error::not_found("session (pid)", pid));
    }
    tx.commit().await.map_err(|e| {
        Error::db(format!(
            "{} was sent to session {pid} but its audit row could not be committed: {e}",
            sig.function()
        ))
    })?;
    Ok(SignalResult {
        signal: sig,
        session: s,
    })
}
