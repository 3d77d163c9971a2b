//! Recording a committed push batch in the cache.

use std::collections::HashSet;

use ncy_core::db::{format_ts, now};
use ncy_core::{params, Result};
use uuid::Uuid;

use super::batch::Applied;
use crate::cache::{set_state, Cache};
use crate::outbox::{self, Entry};
use crate::tables;
use crate::Ctl;

/// Records a committed batch in the cache in one cache transaction: outcomes, conflicts, and
/// the rows as the server has them now (a repeat is harmless: only pending entries change).
pub(super) async fn record_local(
    cache: &Cache,
    entries: &[Entry],
    a: &Applied,
    ctl: Ctl<'_>,
) -> Result<()> {
    let present: HashSet<&str> = a
        .rows
        .iter()
        .filter_map(|r| r.first().and_then(|v| v.as_deref()))
        .collect();
    let mut ids: Vec<String> = entries.iter().map(|e| e.row_id.to_string()).collect();
    ids.sort();
    ids.dedup();
    let mut ltx = cache.db.begin().await?;
    crate::cache::writer_on(&mut ltx).await?;
    let at = now();
    for (e, o) in entries.iter().zip(&a.outcomes) {
        let n = ltx
            .execute(
                r#"UPDATE "SyncOutbox" SET "status" = $2, "pushed_at" = $3 WHERE "mutation_id" = $1 AND "status" = 'pending'"#,
                &params![e.mutation_id, o.status.as_str(), at],
            )
            .await?;
        if n == 0 {
            continue;
        }
        for c in &o.conflicts {
            ltx.execute(
                r#"INSERT INTO "SyncConflict" ("id", "mutation_id", "table_name", "row_id", "field", "base", "mine", "theirs", "reason", "created_at")
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
                &params![
                    Uuid::new_v4(),
                    e.mutation_id,
                    e.table.as_str(),
                    e.row_id,
                    c.field.as_str(),
                    c.base.clone(),
                    c.mine.clone(),
                    c.theirs.clone(),
                    o.reason.clone().unwrap_or_else(|| "conflict".into()),
                    at
                ],
            )
            .await?;
        }
    }
    for id in ids.iter().filter(|i| !present.contains(i.as_str())) {
        ltx.execute(
            r#"DELETE FROM "Task" WHERE "id" = $1"#,
            &params![id.as_str()],
        )
        .await?;
    }
    crate::initial::store_rows(&mut ltx, &tables::TASK, &a.rows)?;
    outbox::rebase(&mut ltx, Some(&ids)).await?;
    set_state(&mut ltx, "last_push_at", &format_ts(&at)).await?;
    crate::cache::writer_off(&mut ltx).await?;
    ctl.fault("push:before-local-commit")?;
    ltx.commit().await?;
    Ok(())
}
