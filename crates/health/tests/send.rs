//! The desktop runs core calls on Tauri's async runtime: every public operation's future must
//! be `Send`. This compiles only if they are.

use std::time::Duration;

use ncy_core::auth::Operator;
use ncy_core::db::Db;
use ncy_health::logging::LoggingChange;
use ncy_health::prometheus::MetricsQuery;
use ncy_health::{activity, logging, prometheus, report, statements, ReportOptions};

fn spawn_all(db: Db, op: Operator) {
    let (d, o) = (db.clone(), op.clone());
    tokio::spawn(async move { report(&d, &o, &ReportOptions::default()).await });
    let (d, o) = (db.clone(), op.clone());
    tokio::spawn(async move { statements::top(&d, &o, 10, false).await });
    let (d, o) = (db.clone(), op.clone());
    tokio::spawn(async move { statements::reset(&d, &o).await });
    let (d, o) = (db.clone(), op.clone());
    tokio::spawn(async move { logging::current(&d, &o).await });
    let (d, o) = (db.clone(), op.clone());
    tokio::spawn(async move { logging::set(&d, &o, &LoggingChange::default()).await });
    let (d, o) = (db.clone(), op.clone());
    tokio::spawn(async move { activity::sessions(&d, &o).await });
    let (d, o) = (db.clone(), op.clone());
    tokio::spawn(async move { activity::cancel(&d, &o, 1).await });
    let (d, o) = (db.clone(), op.clone());
    tokio::spawn(async move { activity::terminate(&d, &o, 1).await });
    tokio::spawn(async move {
        let q = MetricsQuery {
            window: Duration::from_secs(60),
            step: None,
            database: None,
        };
        prometheus::metrics(&op, "http://127.0.0.1:9090", &q).await
    });
}

#[test]
fn public_operations_have_send_futures() {
    // The check is the compilation of `spawn_all` above (tokio::spawn needs Send futures).
    let _ = spawn_all as fn(Db, Operator);
}
