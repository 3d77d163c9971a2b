//! `ncy-admin backup key create | import | show`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use ncy_core::Error;

use super::text::key_text;
use crate::ctx::Ctx;
use crate::output::emit;

/// `backup key ...`: the age keys of encrypted backups.
#[derive(Subcommand, Debug)]
pub enum Key {
    /// Make a new key in the OS keychain and encrypt new backups to it; prints its recipient.
    /// Older keys stay in the keychain for older backups.
    Create,
    /// Store the identity of an age identity file in the keychain (to restore on this
    /// machine backups made elsewhere).
    Import {
        /// An age identity file (AGE-SECRET-KEY-1… lines, as age-keygen writes it).
        file: PathBuf,
        /// Also make it the default key of new encrypted backups.
        #[arg(long)]
        default: bool,
    },
    /// The recipient new encrypted backups go to.
    Show,
}

pub(super) fn run_key(ctx: &Ctx, k: Key) -> Result<()> {
    use ncy_backup::crypt;
    match k {
        Key::Create => {
            let k = crypt::create_key()?;
            emit(ctx, &k, || key_text(&k))
        }
        Key::Import { file, default } => {
            let k = crypt::import_key(&file, default)?;
            emit(ctx, &k, || key_text(&k))
        }
        Key::Show => match crypt::default_recipient()? {
            Some(recipient) => {
                let k = ncy_backup::BackupKey {
                    recipient,
                    default: true,
                };
                emit(ctx, &k, || key_text(&k))
            }
            None => Err(Error::not_found(
                "backup key",
                "default (run `ncy-admin backup key create`)",
            )
            .into()),
        },
    }
}
