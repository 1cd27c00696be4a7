//! Keeping the stored secrets sealed under the current key: the startup step that seals the
//! profile keys still in plain text (written before encryption existed) and refuses to go on
//! without `SECRETS_KEY` once anything is sealed, and `mosaic-social secrets rotate`, which
//! re-seals every stored secret under the current key.
//!
//! Both walk the secret columns a page at a time and rewrite each row with a conditional update
//! (`where id = $1 and <column> = <the value read>`): any number of replicas starting at once
//! on one database, or a rotation running beside them, seal each row once, and none of them
//! overwrites a value another has just written. Running either again changes nothing.

use crate::secrets::{Keyring, is_envelope};
use crate::store::{DynStore, SecretColumn, StoreError};

/// Rows read per page.
const PAGE: i64 = 200;

/// Why the stored secrets cannot be used as they are; `Display` is the one line to print.
#[derive(Debug, thiserror::Error)]
pub enum UpkeepError {
    #[error(
        "SECRETS_KEY is not set, but the database holds secrets encrypted under it ({0}): set \
         SECRETS_KEY to the key they were sealed with (see docs/secrets.md)"
    )]
    NoKey(&'static str),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a pass over the stored secrets did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpkeepReport {
    /// Values (re)written under the current key.
    pub sealed: u64,
    /// Values already under the current key, or changed by someone else meanwhile.
    pub unchanged: u64,
    /// Values that could not be opened, as `table.column row id: why` (no secret in it).
    pub failed: Vec<String>,
}

/// At startup, after the SQL migrations. With a key: seals every profile key still in plain
/// text. Without one: refuses when anything is sealed (nothing could be read), and otherwise
/// warns that plain profile keys remain (they keep working, unencrypted, until a key is set).
pub async fn at_startup(
    store: &DynStore,
    keyring: Option<&Keyring>,
) -> Result<UpkeepReport, UpkeepError> {
    let Some(keyring) = keyring else {
        for column in SecretColumn::ALL {
            if store.any_sealed_secret(column).await? {
                return Err(UpkeepError::NoKey(column.name()));
            }
        }
        if !store
            .stored_secrets(SecretColumn::ProfileKey, None, 1)
            .await?
            .is_empty()
        {
            tracing::warn!(
                "SECRETS_KEY is not set: workspaces' Ayrshare profile keys stay in plain text in \
                 the database; set SECRETS_KEY and restart to encrypt them (docs/secrets.md)"
            );
        }
        return Ok(UpkeepReport::default());
    };
    let report = walk(store, keyring, SecretColumn::ProfileKey, |stored| {
        !is_envelope(stored)
    })
    .await?;
    if report.sealed > 0 {
        store.scrub_replaced_secrets().await?;
        tracing::info!(sealed = report.sealed, "plain-text profile keys encrypted");
    }
    Ok(report)
}

/// `secrets rotate`: every stored secret not under the current key (under the previous one,
/// or a profile key in plain text) is opened and sealed again under the current key.
pub async fn rotate(store: &DynStore, keyring: &Keyring) -> Result<UpkeepReport, UpkeepError> {
    let mut total = UpkeepReport::default();
    for column in SecretColumn::ALL {
        let report = walk(store, keyring, column, |stored| {
            keyring.needs_rotation(stored)
        })
        .await?;
        total.sealed += report.sealed;
        total.unchanged += report.unchanged;
        total.failed.extend(report.failed);
    }
    if total.sealed > 0 {
        store.scrub_replaced_secrets().await?;
    }
    Ok(total)
}

/// Seals again, under the current key, each value of `column` that `wanted` picks.
async fn walk(
    store: &DynStore,
    keyring: &Keyring,
    column: SecretColumn,
    wanted: impl Fn(&str) -> bool,
) -> Result<UpkeepReport, UpkeepError> {
    let mut report = UpkeepReport::default();
    let mut after = None;
    loop {
        let page = store.stored_secrets(column, after, PAGE).await?;
        let Some((last, _)) = page.last() else {
            return Ok(report);
        };
        after = Some(*last);
        let full = page.len() as i64 == PAGE;
        for (id, stored) in page {
            if !wanted(&stored) {
                report.unchanged += 1;
                continue;
            }
            let aad = column.aad(id);
            let plain = if is_envelope(&stored) {
                match keyring.decrypt(&stored, &aad) {
                    Ok(plain) => plain,
                    Err(e) => {
                        report
                            .failed
                            .push(format!("{} row {id}: {e}", column.name()));
                        continue;
                    }
                }
            } else {
                secrecy::SecretString::from(stored.clone())
            };
            let sealed = keyring.encrypt(secrecy::ExposeSecret::expose_secret(&plain), &aad);
            if store
                .replace_stored_secret(column, id, &stored, &sealed)
                .await?
            {
                report.sealed += 1;
            } else {
                report.unchanged += 1;
            }
        }
        if !full {
            return Ok(report);
        }
    }
}
