//! Long work the UI can follow (progress events) and cancel (a flag per job id).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ncy_core::work::OnProgress;
use ncy_core::{Progress, Work};
use serde::Serialize;
use tauri::{AppHandle, Emitter};

/// A `progress` event: which job, and how far it has come (core's [`Progress`]).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct JobProgress {
    pub job: String,
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub progress: Progress,
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
    /// the progress of its [`Job::work`] goes to the window as `progress` events.
    pub fn begin(&self, app: &AppHandle, id: &str) -> Job<'_> {
        let cancel = Arc::new(AtomicBool::new(false));
        self.start(id, cancel.clone());
        let (app, job) = (app.clone(), id.to_owned());
        let emit = Box::new(move |progress: Progress| {
            let job = job.clone();
            let _ = app.emit("progress", JobProgress { job, progress });
        });
        Job {
            jobs: self,
            id: id.to_owned(),
            emit,
            cancel,
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
    id: String,
    emit: Box<OnProgress<'static>>,
    cancel: Arc<AtomicBool>,
}

impl Job<'_> {
    /// What the job's work takes: progress to the window, the window's cancel.
    pub fn work(&self) -> Work<'_> {
        Work::new(&*self.emit, Some(&self.cancel))
    }
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        self.jobs.finish(&self.id);
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
