//! `ncy-admin settings list | set KEY VALUE`.

use anyhow::Result;
use clap::Subcommand;
use ncy_core::admin::settings;

use crate::ctx::Ctx;
use crate::output::{emit, table};

#[derive(Subcommand, Debug)]
pub enum Settings {
    /// Global settings with their current values.
    List,
    /// Set a global setting (JSON or plain text value), e.g. `auth.lockout.minutes 30`.
    Set { key: String, value: String },
    /// Remove a global setting so its default applies again, e.g. `auth.lockout.minutes`.
    Reset { key: String },
}

pub async fn run(ctx: &mut Ctx, c: Settings) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    match c {
        Settings::List => {
            let s = settings::list(&db, &op).await?;
            emit(ctx, &s, || {
                table(
                    &["key", "value", "range", "description"],
                    s.iter()
                        .map(|x| {
                            vec![
                                x.key.clone(),
                                match (&x.value, x.default) {
                                    (serde_json::Value::Null, Some(d)) => format!("{d} (default)"),
                                    (serde_json::Value::Null, None) => "(unset)".into(),
                                    (v, _) => v.to_string(),
                                },
                                match (x.min, x.max) {
                                    (Some(a), Some(b)) => format!("{a}..{b}"),
                                    _ => String::new(),
                                },
                                x.description.clone().unwrap_or_default(),
                            ]
                        })
                        .collect(),
                )
            })
        }
        Settings::Set { key, value } => {
            let s = settings::set(&db, &op, &key, &value).await?;
            emit(ctx, &s, || format!("{} = {}", s.key, s.value))
        }
        Settings::Reset { key } => {
            let s = settings::reset(&db, &op, &key).await?;
            emit(ctx, &s, || match s.default {
                Some(d) => format!("{} reset: the default, {d}, applies", s.key),
                None => format!("{} removed", s.key),
            })
        }
    }
}
