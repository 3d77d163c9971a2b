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
        .set_header(
            headers
                .iter()
                .map(|h| comfy_table::Cell::new(h).add_attribute(comfy_table::Attribute::Bold)),
        );
    for r in rows {
        t.add_row(r.into_iter().map(|c| {
            let cell = comfy_table::Cell::new(truncate(&c, 120));
            match c.as_str() {
                "SUSPENDED" | "INACTIVE" | "CANCELLED" => cell.fg(comfy_table::Color::Red),
                "ACTIVE" | "DONE" => cell.fg(comfy_table::Color::Green),
                "PENDING" | "REVIEW" => cell.fg(comfy_table::Color::Yellow),
                _ if c.ends_with(" OVERDUE") => cell.fg(comfy_table::Color::Red),
                _ => cell,
            }
        }));
    }
    t.to_string()
}

/// Shortens long cell text (the JSON output keeps everything).
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

/// Formats an optional value for a table cell.
pub fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "-".into())
}

/// Prints a keyset page; the next cursor goes to stderr for people, into the JSON for scripts.
pub fn emit_page<T: Serialize>(
    ctx: &Ctx,
    page: &ncy_core::admin::Page<T>,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    emit(ctx, page, human)?;
    if !ctx.json() {
        match &page.next_cursor {
            Some(c) => eprintln!("{} shown; next page: --after {c}", page.items.len()),
            None => eprintln!("{} shown; end of list", page.items.len()),
        }
    }
    Ok(())
}

/// A progress bar on stderr when it is a terminal and output is for people; hidden otherwise.
pub fn progress(ctx: &Ctx, total: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if ctx.json() || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = if total > 0 {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}
