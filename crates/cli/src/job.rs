//! Long work run from the command line: a progress bar on stderr that follows the work's
//! [`Progress`], and Ctrl-C to cancel it (core's one progress/cancel contract, [`Work`]).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use indicatif::ProgressBar;
use ncy_core::work::OnProgress;
use ncy_core::{Progress, Work};

use crate::ctx::Ctx;

/// A running job: its bar (hidden with `--json` or off a terminal) and its cancel flag. The
/// bar is cleared when the job is dropped.
pub struct Job {
    bar: ProgressBar,
    draw: Box<OnProgress<'static>>,
    cancel: Arc<AtomicBool>,
}

impl Job {
    /// Starts `what`; the first Ctrl-C asks the work to stop at its next safe point.
    pub fn start(ctx: &Ctx, what: &str) -> Job {
        Job::with_cancel(ctx, what, crate::exit::cancel_on_ctrl_c())
    }

    /// Starts `what` with a cancel flag of the caller's.
    pub fn with_cancel(ctx: &Ctx, what: &str, cancel: Arc<AtomicBool>) -> Job {
        let bar = crate::output::progress(ctx, 0, what);
        let b = bar.clone();
        let draw = Box::new(move |p: Progress| {
            b.set_length(p.total.max(p.done));
            b.set_position(p.done);
            b.set_message(message(&p));
        });
        Job { bar, draw, cancel }
    }

    /// What the work takes: progress to the bar, cancel from Ctrl-C.
    pub fn work(&self) -> Work<'_> {
        Work::new(&*self.draw, Some(&self.cancel))
    }

    /// The bar, to print above it (`suspend`) or clear it before a prompt.
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The bar's message: the phase, and the bytes so far when the work counts them.
fn message(p: &Progress) -> String {
    if p.bytes > 0 {
        format!("{} {}", p.phase, human_bytes(p.bytes))
    } else {
        p.phase.clone()
    }
}

/// A byte count for people: `512 B`, `1.5 kB`, `2.3 MB`, `1.02 GB`.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.2} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.1} kB", n / 1e3),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_shows_bytes_only_when_counted() {
        let p = |bytes| Progress {
            phase: "dump".into(),
            done: 1,
            total: 2,
            bytes,
        };
        assert_eq!(message(&p(0)), "dump");
        assert_eq!(message(&p(1_500)), "dump 1.5 kB");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(2_300_000), "2.3 MB");
        assert_eq!(human_bytes(1_020_000_000), "1.02 GB");
    }
}
