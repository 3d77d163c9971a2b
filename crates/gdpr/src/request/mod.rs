//! The request workflow: intake, queue, identity verification, extension, rejection,
//! completion. Due date = received + 1 calendar month (Art. 12(3)); an extension adds one or
//! two more months with a recorded reason. The platform's own values are read as ours:
//! type `DELETE` is an erasure, status `PENDING` is received.
//!
//! In three files: `model.rs` (kinds, states, the deadline and the [`Request`] row),
//! `workflow.rs` (the steps that change a request), `queue.rs` (the queue, its dashboard and
//! one request's detail).

mod model;
mod queue;
mod workflow;

pub(crate) use model::lock;
pub use model::{due_date, is_overdue, load, parse_id, Request, RequestKind, RequestState};
pub(crate) use queue::owned_orgs;
pub use queue::{
    dashboard, list, show, Dashboard, HistoryEntry, Queue, QueueFilter, RequestDetail,
};
pub(crate) use workflow::require_verified;
pub use workflow::{
    begin_verification, complete, create, extend, reject, verify_identity, NewRequest,
};
