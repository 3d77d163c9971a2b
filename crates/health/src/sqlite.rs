//! The local SQLite workspace: health monitoring needs PostgreSQL, but the file's size and page
//! statistics are still worth showing.

use ncy_core::db::Db;
use ncy_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Size and page statistics of the local workspace file.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SqliteInfo {
    pub path: String,
    pub file_bytes: i64,
    /// Size of the `-wal` file next to it, when present.
    pub wal_bytes: Option<i64>,
    pub page_size: i64,
    pub page_count: i64,
    /// Pages on the free list (reclaimed by `VACUUM`).
    pub freelist_count: i64,
    pub journal_mode: String,
}

/// The page statistics of the workspace file.
#[derive(Deserialize)]
struct Pages {
    page_size: i64,
    page_count: i64,
    freelist_count: i64,
    journal_mode: String,
}

/// Reads [`SqliteInfo`] (None for PostgreSQL).
pub async fn read(db: &Db) -> Result<Option<SqliteInfo>> {
    let Some(path) = db.sqlite_path() else {
        return Ok(None);
    };
    let path = path.to_path_buf();
    let file_bytes = std::fs::metadata(&path)
        .map_err(|e| Error::io(format!("reading the size of {}", path.display()), e))?
        .len() as i64;
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let wal_bytes = std::fs::metadata(&wal).ok().map(|m| m.len() as i64);
    let rows = db
        .query(
            "SELECT (SELECT page_size FROM pragma_page_size()) AS page_size,
                    (SELECT page_count FROM pragma_page_count()) AS page_count,
                    (SELECT freelist_count FROM pragma_freelist_count()) AS freelist_count,
                    (SELECT journal_mode FROM pragma_journal_mode()) AS journal_mode",
            &[],
        )
        .await?;
    let p: Pages = rows
        .first()
        .ok_or_else(|| Error::db("SQLite returned no page statistics"))?
        .decode()?;
    Ok(Some(SqliteInfo {
        path: path.display().to_string(),
        file_bytes,
        wal_bytes,
        page_size: p.page_size,
        page_count: p.page_count,
        freelist_count: p.freelist_count,
        journal_mode: p.journal_mode,
    }))
}
