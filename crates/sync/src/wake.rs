//! Waking a watching client when the server records a change: `LISTEN ncy_sync`, which the
//! change feed notifies at every commit that records changes (migration 0021). Through a
//! transaction-mode pooler (no session to listen on) or when listening fails, the client
//! falls back to polling at its interval.

use std::time::Duration;

use ncy_core::db::PgDb;
use sqlx::postgres::PgListener;

/// The channel the change feed notifies.
pub const CHANNEL: &str = "ncy_sync";

/// A listener on the server's change channel, or none (polling).
pub struct Wakeup {
    listener: Option<PgListener>,
}

impl Wakeup {
    /// Listens on `server` (one pooled connection kept for it); none through a pooler, or
    /// when the server refuses.
    pub async fn listen(server: &PgDb) -> Wakeup {
        let listener = if server.pooled() {
            None
        } else {
            match PgListener::connect_with(server.pool()).await {
                Ok(mut l) => l.listen(CHANNEL).await.ok().map(|_| l),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for changes; polling instead");
                    None
                }
            }
        };
        Wakeup { listener }
    }

    /// No listener: [`Wakeup::wait`] only waits (polling).
    pub fn polling() -> Wakeup {
        Wakeup { listener: None }
    }

    /// True when changes wake the client (else it polls).
    pub fn listening(&self) -> bool {
        self.listener.is_some()
    }

    /// Waits at most `timeout`; true as soon as the server notifies a change (notifications
    /// already queued are taken too: one pull serves them all).
    pub async fn wait(&mut self, timeout: Duration) -> bool {
        let Some(l) = self.listener.as_mut() else {
            tokio::time::sleep(timeout).await;
            return false;
        };
        match tokio::time::timeout(timeout, l.recv()).await {
            Ok(Ok(_)) => {
                while l.next_buffered().is_some() {}
                true
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "lost the change listener; polling instead");
                self.listener = None;
                false
            }
            Err(_) => false,
        }
    }
}
