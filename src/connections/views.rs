//! The answers of the connections routes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::Platform;
use crate::domain::connection::LinkedAccount;
use crate::store::StoredConnection;

/// `POST /social/{platform}/connect`: where to send the person who links the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectView {
    /// This API's name of the platform asked for.
    #[schema(value_type = String, example = "x")]
    pub platform: Platform,
    pub workspace_id: Uuid,
    /// Ayrshare's linking page for the workspace's profile: open it in a browser. It offers
    /// every network; `GET /social/{platform}/status` tells what was linked.
    pub connect_url: String,
    /// When the URL stops working (Ayrshare's default: 5 minutes).
    pub expires_at: DateTime<Utc>,
}

/// `GET /social/{platform}/status`: what Ayrshare says now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusView {
    #[schema(value_type = String, example = "x")]
    pub platform: Platform,
    pub workspace_id: Uuid,
    pub connected: bool,
    /// The linked account; absent when not connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<LinkedAccount>,
}

/// `DELETE /social/{platform}/remove`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RemoveView {
    /// `true`: Ayrshare unlinked it (or nothing was linked).
    pub success: bool,
    #[schema(value_type = String, example = "x")]
    pub platform: Platform,
    pub workspace_id: Uuid,
}

/// One linked account, from the stored state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectedAccount {
    pub social_connection_id: Uuid,
    pub workspace_id: Uuid,
    #[schema(value_type = String, example = "x")]
    pub platform: Platform,
    /// The account's display name.
    pub account_name: Option<String>,
    pub account_username: Option<String>,
    pub profile_url: Option<String>,
    /// When it was linked (as this service learnt it).
    pub connected_at: Option<DateTime<Utc>>,
}

impl From<StoredConnection> for ConnectedAccount {
    fn from(c: StoredConnection) -> Self {
        ConnectedAccount {
            social_connection_id: c.id,
            workspace_id: c.workspace_id,
            platform: c.platform,
            account_name: c.state.account.display_name,
            account_username: c.state.account.username,
            profile_url: c.state.account.profile_url,
            connected_at: c.state.linked_at,
        }
    }
}

/// `GET /social/connections`: a page of the organization's linked accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectionList {
    /// Oldest link first, at most `limit` (100).
    pub connected_accounts: Vec<ConnectedAccount>,
    /// Pass it back as `after` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
