//! PostgreSQL verification: checksum, `pg_restore --list`, a full test restore into a scratch
//! database (dropped afterwards, extensions the role cannot create left out) and a per-table
//! row count comparison.

use std::path::Path;
use std::time::Instant;

use ncy_core::db::now;
use ncy_core::{Error, Result};
use sqlx::PgPool;

use crate::crypt::{Archive, Keys};
use crate::extensions;
use crate::pg::{
    counts_of, create_database, drop_database, pg_restore_into, pool_server_info, short_id,
};
use crate::pgconn::PgConn;
use crate::snapshot::Snapshot;
use crate::stream::sha256_file;
use crate::tools;
use crate::{counts, Verification, Work};

/// Checksum, `pg_restore --list`, test restore into a scratch database, count comparison.
pub(crate) async fn verify(
    pool: &PgPool,
    conn: &PgConn,
    snap: &Snapshot,
    keys: &Keys,
    hooks: Work<'_>,
) -> Result<Verification> {
    let path = Path::new(&snap.path);
    let mut v = Verification {
        snapshot_id: Some(snap.id),
        path: snap.path.clone(),
        ok: false,
        checksum_ok: false,
        expected_sha256: snap.sha256.clone(),
        actual_sha256: None,
        readable: false,
        entries: 0,
        scratch_database: None,
        restore_ms: None,
        tables: vec![],
        problems: vec![],
        skipped_extensions: vec![],
        verified_at: now(),
    };
    if !path.is_file() {
        v.problems
            .push(format!("the backup file {} is missing", path.display()));
        return Ok(v);
    }
    // The checksum and pg_restore's listing each read the whole file: both at once.
    let listing = async {
        // A wrong or missing key is an error, not a failed verification: the backup may be fine.
        let archive = Archive::open(path, keys, snap.encrypted_to.as_deref()).await?;
        let info = pool_server_info(pool).await?;
        let tool = tools::locate("pg_restore", info.major)?;
        let toc = extensions::toc(&tool, conn, &archive).await;
        Ok::<_, Error>((archive, tool, toc))
    };
    let (hashed, listed) = tokio::join!(sha256_file(path, "checksum", hooks), listing);
    let (size, sum) = hashed?;
    v.checksum_ok = snap.sha256.as_deref() == Some(sum.as_str());
    if size as i64 != snap.size {
        v.problems.push(format!(
            "the file is {size} bytes, {} were written: it was truncated or altered",
            snap.size
        ));
    }
    match &snap.sha256 {
        None => v
            .problems
            .push("no checksum was recorded for this backup: it cannot be proven unaltered".into()),
        Some(expected) if !v.checksum_ok => v.problems.push(format!(
            "checksum mismatch: recorded {expected}, file has {sum}: the file was altered or corrupted"
        )),
        _ => {}
    }
    v.actual_sha256 = Some(sum);

    let (archive, tool, toc) = listed?;
    let toc = match toc {
        Ok(toc) => {
            v.readable = true;
            v.entries = extensions::entries(&toc);
            Some(toc)
        }
        Err(e) => {
            v.problems.push(e.to_string());
            None
        }
    };
    if !(v.checksum_ok && v.readable) {
        return Ok(v);
    }

    let scratch = format!("ncy_verify_{}", short_id());
    create_database(pool, &scratch).await?;
    v.scratch_database = Some(scratch.clone());
    let started = Instant::now();
    let tables = snap.table_counts.as_ref().map(|c| c.len()).unwrap_or(0) as u64;
    let outcome = async {
        let skipped = pg_restore_into(
            &tool,
            conn,
            pool,
            &scratch,
            &archive,
            toc.as_deref(),
            true,
            tables,
            hooks,
        )
        .await?;
        let restore_ms = started.elapsed().as_millis() as i64;
        hooks.report_bytes("compare", 0, tables, 0);
        let actual = counts_of(pool, &scratch).await?;
        Ok::<_, Error>((restore_ms, actual, skipped))
    }
    .await;
    let dropped = drop_database(pool, &scratch).await;
    match outcome {
        Ok((ms, actual, skipped)) => {
            v.restore_ms = Some(ms);
            v.skipped_extensions = skipped;
            if snap.table_counts.is_none() {
                v.problems.push(
                    "no row counts were recorded with this backup: the restore cannot be compared"
                        .into(),
                );
            }
            v.tables = counts::compare(snap.table_counts.as_ref(), &actual);
            for t in v.tables.iter().filter(|t| !t.ok) {
                v.problems.push(format!(
                    "table {}: {} rows at backup time, {} after restore",
                    t.table,
                    t.expected.map_or("no".into(), |n| n.to_string()),
                    t.actual.map_or("none".into(), |n| n.to_string())
                ));
            }
        }
        Err(Error::Cancelled) => return Err(Error::Cancelled),
        Err(e) => v.problems.push(format!("test restore failed: {e}")),
    }
    dropped?;
    v.ok = v.problems.is_empty();
    hooks.report_bytes("done", tables, tables, 0);
    Ok(v)
}
