//! NCY Admin offline cache and sync.
//!
//! - [`cache`]: the encrypted SQLite cache of one PostgreSQL profile (key in the OS keychain),
//!   its sync state, and the offline operator (permissions as last seen online).
//! - [`initial`]: the first sync, streamed per table with keyset checkpoints (cancel, resume).
//! - [`pull`]: incremental pull from the trigger-fed change feed, bounded by snapshot xmin.
//! - [`outbox`]: offline edits through the core task operations, recorded as mutations.
//! - [`push`]: each mutation in its own server transaction, idempotent, merged 3-way per field.
//! - [`conflicts`]: conflicts kept with base / mine / theirs, and their resolution.
//! - [`prune`]: retention of the server's change feed (caches older than it rebuild).

// `&params![..]` (a Vec) is the core's calling convention for SQL parameters.
#![allow(clippy::useless_vec)]

pub mod cache;
pub mod conflicts;
pub mod copy;
pub mod initial;
pub mod outbox;
pub mod prune;
pub mod pull;
pub mod push;
pub mod queue;
mod rows;
pub mod tables;
pub mod wake;

use ncy_core::{Error, Result};

pub use cache::{Cache, Status};
pub use conflicts::{Conflict, Resolution};
pub use outbox::edit_task;

/// Progress of long work (phase, rows or mutations done, total): core's one contract.
pub use ncy_core::{Progress, Work};

/// A crash point hook: returning `true` at a named point makes the operation stop there as if
/// the process had died (tests use it to kill push and pull between steps).
pub type FaultHook = dyn Fn(&str) -> bool + Send + Sync;

/// How a long sync operation reports progress, is cancelled, and (in tests) is crashed.
#[derive(Clone, Copy, Default)]
pub struct Ctl<'a> {
    /// Where progress goes and the cancel flag the operation honours.
    pub work: Work<'a>,
    /// Crash points, for tests.
    pub fault: Option<&'a FaultHook>,
    /// Rows per batch of the first sync (default [`initial::BATCH`]), and a fixed number of
    /// outbox entries per push batch (default: adaptive from [`push::FIRST_BATCH`]).
    pub batch: Option<usize>,
}

impl<'a> From<Work<'a>> for Ctl<'a> {
    fn from(work: Work<'a>) -> Self {
        Ctl {
            work,
            ..Default::default()
        }
    }
}

impl Ctl<'_> {
    pub(crate) fn report(&self, phase: &str, done: u64, total: u64) {
        self.work.report(phase, done, total);
    }

    pub(crate) fn check_cancel(&self) -> Result<()> {
        self.work.check()
    }

    pub(crate) fn fault(&self, point: &str) -> Result<()> {
        if self.fault.map(|f| f(point)).unwrap_or(false) {
            return Err(Error::db(format!("simulated crash at {point}")));
        }
        Ok(())
    }
}

/// Pushes the outbox, then pulls (`sync run`).
pub async fn run(
    server: &ncy_core::db::PgDb,
    cache: &Cache,
    op: &ncy_core::auth::Operator,
    ctl: Ctl<'_>,
) -> Result<(push::PushReport, pull::PullReport)> {
    let p = push::push(server, cache, op, ctl).await?;
    let q = pull::pull(server, cache, op, ctl).await?;
    Ok((p, q))
}

#[cfg(test)]
mod send_tests {
    //! The desktop shell runs these futures on a multi-threaded runtime: they must be `Send`
    //! (sqlx's `raw_sql` is not, so no `Tx::batch` on PostgreSQL in this crate).
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[allow(dead_code)]
    fn futures_are_send(server: &ncy_core::db::PgDb, cache: &Cache, op: &ncy_core::auth::Operator) {
        let f = |_: &str| false;
        let ctl = Ctl {
            fault: Some(&f),
            ..Default::default()
        };
        assert_send(&pull::pull(server, cache, op, ctl));
        assert_send(&push::push(server, cache, op, ctl));
        assert_send(&initial::initial_sync(server, cache, ctl));
        assert_send(&run(server, cache, op, ctl));
        assert_send(&edit_task(
            cache,
            op,
            uuid::Uuid::nil(),
            &Default::default(),
        ));
        assert_send(&conflicts::resolve(
            cache,
            op,
            uuid::Uuid::nil(),
            &Resolution::Mine,
        ));
    }
}
