//! Every column that keeps a secret, read and rewritten one row at a time: what the startup
//! step that seals plain profile keys and `mosaic-social secrets rotate` walk through
//! (`crate::secrets_upkeep`). Each rewrite is conditional on the value read, so that replicas
//! (or a rotation beside a starting server) doing the same row at once change it once.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreError;

/// A column holding secrets, with the associated data each of its values is sealed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretColumn {
    /// `workspaces.ayrshare_profile_key`: plain text before encryption existed.
    ProfileKey,
    /// `webhook_endpoints.secret`.
    EndpointSecret,
    /// `webhook_endpoints.previous_secret` (sealed with the endpoint's `secret_aad`, so that a
    /// rotation moves the envelope as it is).
    EndpointPreviousSecret,
}

impl SecretColumn {
    pub const ALL: [SecretColumn; 3] = [
        SecretColumn::ProfileKey,
        SecretColumn::EndpointSecret,
        SecretColumn::EndpointPreviousSecret,
    ];

    /// `table.column`, for messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            SecretColumn::ProfileKey => "workspaces.ayrshare_profile_key",
            SecretColumn::EndpointSecret => "webhook_endpoints.secret",
            SecretColumn::EndpointPreviousSecret => "webhook_endpoints.previous_secret",
        }
    }

    pub(super) fn table(self) -> &'static str {
        match self {
            SecretColumn::ProfileKey => "workspaces",
            SecretColumn::EndpointSecret | SecretColumn::EndpointPreviousSecret => {
                "webhook_endpoints"
            }
        }
    }

    pub(super) fn column(self) -> &'static str {
        match self {
            SecretColumn::ProfileKey => "ayrshare_profile_key",
            SecretColumn::EndpointSecret => "secret",
            SecretColumn::EndpointPreviousSecret => "previous_secret",
        }
    }

    /// The associated data of the value in row `id`.
    pub fn aad(self, id: Uuid) -> Vec<u8> {
        match self {
            SecretColumn::ProfileKey => super::profile_key_aad(id),
            SecretColumn::EndpointSecret | SecretColumn::EndpointPreviousSecret => {
                super::secret_aad(id)
            }
        }
    }

    /// `select id, <column> from <table> where <column> is not null and id > $1 order by id
    /// limit $2` (the names come from this enum, never from input).
    /// `cast` types the parameter where the backend needs it (Postgres: `::uuid`).
    pub(super) fn page_sql(self, cast: &str) -> String {
        format!(
            "select id, {c} from {t} where {c} is not null and ($1{cast} is null or id > $1) \
             order by id limit $2",
            c = self.column(),
            t = self.table()
        )
    }

    /// `update <table> set <column> = $3 where id = $1 and <column> = $2`.
    pub(super) fn replace_sql(self) -> String {
        format!(
            "update {t} set {c} = $3 where id = $1 and {c} = $2",
            c = self.column(),
            t = self.table()
        )
    }

    /// Whether any value of the column is an envelope (`enc:...`).
    pub(super) fn any_sealed_sql(self) -> String {
        format!(
            "select exists (select 1 from {t} where {c} like 'enc:%')",
            c = self.column(),
            t = self.table()
        )
    }
}

/// The storage of secret columns as a whole.
#[async_trait]
pub trait StoredSecretStore: Send + Sync {
    /// The non-null values of `column`, by row id, strictly after `after`; at most `limit`.
    async fn stored_secrets(
        &self,
        column: SecretColumn,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<(Uuid, String)>, StoreError>;
    /// Writes `new` in row `id` if it still holds `old`; whether it did.
    async fn replace_stored_secret(
        &self,
        column: SecretColumn,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError>;
    /// Whether any value of `column` is sealed.
    async fn any_sealed_secret(&self, column: SecretColumn) -> Result<bool, StoreError>;
    /// After values were replaced: drops what the database still keeps of the old ones where
    /// it can. SQLite copies the write-ahead log into the file (whose overwritten cells
    /// `secure_delete` zeroes) and empties it; Postgres keeps old row versions until `VACUUM`
    /// reuses their space (see docs/secrets.md), so nothing is done there.
    async fn scrub_replaced_secrets(&self) -> Result<(), StoreError>;
}
