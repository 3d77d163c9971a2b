//! One contract for long work (exports, erasures, backups, sync, bulk edits, partitioning):
//! it reports [`Progress`] as it goes and stops with [`Error::Cancelled`] when asked to.
//!
//! The caller builds a [`Work`] from a progress callback and a cancel flag (either may be
//! absent); the work calls [`Work::report`] at each step and [`Work::check`] between steps.
//! A cancelled operation leaves nothing half-done: each operation documents what "nothing"
//! means for it (a rolled-back transaction, no partial file).

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::{Error, Result};

/// How far long work has come.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Progress {
    /// What the work is doing now: a table name, `"dump"`, `"sweep"`, `"AuditLog move"`, ...
    pub phase: String,
    /// Units (rows, files, steps) done in this phase.
    pub done: u64,
    /// Units expected in this phase; 0 when unknown.
    pub total: u64,
    /// Bytes written or read so far; 0 for work that counts no bytes.
    pub bytes: u64,
}

/// A progress callback: called at each step, on the worker, so it must be cheap.
pub type OnProgress<'a> = dyn Fn(Progress) + Send + Sync + 'a;

/// Where long work reports progress and looks for cancellation. `Copy`: pass it by value.
#[derive(Clone, Copy, Default)]
pub struct Work<'a> {
    progress: Option<&'a OnProgress<'a>>,
    cancel: Option<&'a AtomicBool>,
}

impl std::fmt::Debug for Work<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Work")
            .field("progress", &self.progress.is_some())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl<'a> Work<'a> {
    /// Neither progress nor cancellation.
    pub const fn none() -> Work<'static> {
        Work {
            progress: None,
            cancel: None,
        }
    }

    /// Work that reports to `progress` and stops once `cancel` is set.
    pub fn new(progress: &'a OnProgress<'a>, cancel: Option<&'a AtomicBool>) -> Self {
        Work {
            progress: Some(progress),
            cancel,
        }
    }

    /// The same, reporting to `progress`.
    pub fn with_progress(self, progress: &'a OnProgress<'a>) -> Self {
        Work {
            progress: Some(progress),
            ..self
        }
    }

    /// The same, stopping once `cancel` is set.
    pub fn with_cancel(self, cancel: &'a AtomicBool) -> Self {
        Work {
            cancel: Some(cancel),
            ..self
        }
    }

    /// Reports `done` of `total` units in `phase`.
    pub fn report(&self, phase: &str, done: u64, total: u64) {
        self.report_bytes(phase, done, total, 0);
    }

    /// Reports `done` of `total` units in `phase`, and `bytes` so far.
    pub fn report_bytes(&self, phase: &str, done: u64, total: u64, bytes: u64) {
        if let Some(p) = self.progress {
            p(Progress {
                phase: phase.to_owned(),
                done,
                total,
                bytes,
            });
        }
    }

    /// Whether the caller asked the work to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Fails with [`Error::Cancelled`] once the caller asked the work to stop.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn reports_and_cancels() {
        let seen = Mutex::new(Vec::new());
        let record = |p: Progress| seen.lock().expect("lock").push(p);
        let flag = AtomicBool::new(false);
        let w = Work::new(&record, Some(&flag));
        w.report("users", 1, 2);
        w.report_bytes("dump", 3, 0, 4096);
        assert!(w.check().is_ok());
        flag.store(true, Ordering::Relaxed);
        assert!(matches!(w.check(), Err(Error::Cancelled)));
        assert!(w.is_cancelled());
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[1],
            Progress {
                phase: "dump".into(),
                done: 3,
                total: 0,
                bytes: 4096
            }
        );
        assert_eq!(seen[0].bytes, 0);
    }

    #[test]
    fn none_reports_nothing_and_never_cancels() {
        let w = Work::none();
        w.report("x", 1, 1);
        assert!(w.check().is_ok());
        let flag = AtomicBool::new(true);
        assert!(matches!(
            w.with_cancel(&flag).check(),
            Err(Error::Cancelled)
        ));
    }
}
