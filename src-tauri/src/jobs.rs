//! Long work the UI can follow (progress events) and cancel (a flag per job id).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tauri::{AppHandle, Emitter};

/// A `progress` event: which job, what phase, how far.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Progress {
    pub job: String,
    pub phase: String,
    pub done: u64,
    pub total: u64,
}

impl Progress {
    /// A progress event.
    pub fn new(job: &str, phase: &str, done: u64, total: u64) -> Self {
        Progress {
            job: job.into(),
            phase: phase.into(),
            done,
            total,
        }
    }
}

/// Cancel flags of running jobs.
#[derive(Default)]
pub struct Jobs(Mutex<HashMap<String, Arc<AtomicBool>>>);

impl Jobs {
    /// Registers a running job.
    pub fn start(&self, job: &str, flag: Arc<AtomicBool>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(job.to_owned(), flag);
        }
    }

    /// Forgets a finished job.
    pub fn finish(&self, job: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(job);
        }
    }

    /// Registers job `id` for the lifetime of the returned guard: the UI can cancel it, and
    /// its progress goes to the window as `progress` events.
    pub fn begin(&self, app: &AppHandle, id: &str) -> Job<'_> {
        let cancel = Arc::new(AtomicBool::new(false));
        self.start(id, cancel.clone());
        Job {
            jobs: self,
            reporter: Reporter {
                app: app.clone(),
                id: id.to_owned(),
                cancel,
            },
        }
    }

    /// Asks a job to stop; false when no such job runs.
    pub fn cancel(&self, job: &str) -> bool {
        match self.0.lock() {
            Ok(m) => m
                .get(job)
                .map(|f| f.store(true, Ordering::SeqCst))
                .is_some(),
            Err(_) => false,
        }
    }
}

/// A running job; forgotten when dropped (after its work ended, whichever way).
pub struct Job<'a> {
    jobs: &'a Jobs,
    reporter: Reporter,
}

impl std::ops::Deref for Job<'_> {
    type Target = Reporter;
    fn deref(&self) -> &Reporter {
        &self.reporter
    }
}

impl Job<'_> {
    /// An owned handle for work that runs on another thread.
    pub fn reporter(&self) -> Reporter {
        self.reporter.clone()
    }
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        self.jobs.finish(&self.reporter.id);
    }
}

/// What a job's work needs: where progress goes and the cancel flag it must honour.
#[derive(Clone)]
pub struct Reporter {
    app: AppHandle,
    id: String,
    /// Set when the user cancels.
    pub cancel: Arc<AtomicBool>,
}

impl Reporter {
    /// Sends one `progress` event.
    pub fn emit(&self, phase: &str, done: u64, total: u64) {
        let _ = self
            .app
            .emit("progress", Progress::new(&self.id, phase, done, total));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_sets_the_flag_of_a_running_job_only() {
        let jobs = Jobs::default();
        let f = Arc::new(AtomicBool::new(false));
        jobs.start("a", f.clone());
        assert!(!jobs.cancel("b"));
        assert!(jobs.cancel("a"));
        assert!(f.load(Ordering::SeqCst));
        jobs.finish("a");
        assert!(!jobs.cancel("a"));
    }
}
