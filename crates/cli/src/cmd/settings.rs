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
}

pub async fn run(ctx: &mut Ctx, c: Settings) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    match c {
        Settings::List => {
            let s = settings::list(&db, &op).await?;
            emit(ctx, &s, || {
                table(
                    &["key", "value", "description"],
                    s.iter()
                        .map(|x| {
                            vec![
                                x.key.clone(),
                                if x.value.is_null() {
                                    "(default)".into()
                                } else {
                                    x.value.to_string()
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
    }
}
