//! Rendering: aligned tables for people, JSON for scripts.

use comfy_table::{presets::UTF8_BORDERS_ONLY, ContentArrangement, Table};
use serde::Serialize;

use crate::ctx::Ctx;

/// Prints `value` as JSON with `--json`, else prints what `human` renders.
pub fn emit<T: Serialize>(
    ctx: &Ctx,
    value: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        let s = human();
        if !s.is_empty() {
            println!("{}", s.trim_end());
        }
    }
    Ok(())
}

/// An aligned table with a header row.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.iter().map(|h| h.to_string()));
    for r in rows {
        t.add_row(r);
    }
    t.to_string()
}

/// Formats an optional value for a table cell.
pub fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "-".into())
}
