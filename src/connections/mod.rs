//! The connections family: a workspace's social accounts linked, checked and unlinked through
//! Ayrshare (`POST /profiles/generateJWT`, `GET /user`, `DELETE /profiles/social`), and the
//! stored state of each (workspace, platform) kept true by those routes, Ayrshare's `social`
//! webhook and posts refused because the platform is not linked. Every change of the state
//! writes its `account.connected` / `account.disconnected` event in the same transaction (the
//! store's `apply_connection`). `docs/connections.md` is the user's guide.

pub mod demo;
mod settings;
mod views;

use std::sync::Arc;

use chrono::TimeDelta;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub use settings::ConnectionSettings;
pub use views::{ConnectView, ConnectedAccount, ConnectionList, RemoveView, StatusView};

use crate::ayrshare::{AyrshareClient, CallScope};
use crate::domain::Platform;
use crate::domain::connection::{
    ChangeReason, ConnectRequest, ConnectionChange, ConnectionsQuery, Observation, SocialNotice,
    UserAnswer, judge_answer, not_linked_platforms, parse_platform, parse_remove,
    parse_workspace_query,
};
use crate::publishing::AppError;
use crate::store::{Caller, ConnectionFilter, DynStore, Workspace};

/// How long Ayrshare's linking URL lives when its answer does not say, in minutes.
const DEFAULT_EXPIRES_MIN: i64 = 5;

/// The connections use cases. Cheap to clone.
#[derive(Clone)]
pub struct Connections {
    store: DynStore,
    ayrshare: Arc<AyrshareClient>,
    /// The publisher's tracker: work that must finish (a webhook being applied) is waited for
    /// at shutdown.
    tasks: TaskTracker,
    settings: Arc<ConnectionSettings>,
}

/// What became of a verified `social` webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocialReceipt {
    Accepted { platform: Platform },
    Ignored { reason: String },
}

impl Connections {
    pub fn new(
        store: DynStore,
        ayrshare: Arc<AyrshareClient>,
        tasks: TaskTracker,
        settings: ConnectionSettings,
    ) -> Connections {
        Connections {
            store,
            ayrshare,
            tasks,
            settings: Arc::new(settings),
        }
    }

    /// The organization's workspace (its primary one when `workspace_id` is `None`); another
    /// organization's is not found.
    async fn workspace(
        &self,
        caller: Caller,
        workspace_id: Option<Uuid>,
    ) -> Result<Workspace, AppError> {
        self.store
            .find_workspace(caller.organization_id, workspace_id)
            .await?
            .ok_or_else(|| match workspace_id {
                Some(id) => AppError::NotFound(format!("no workspace with id {id}")),
                None => AppError::Internal("the organization has no primary workspace".into()),
            })
    }

    /// Refuses a write for a workspace that acts on the primary profile.
    fn own_profile(workspace: &Workspace, what: &str) -> Result<(), AppError> {
        if workspace.ayrshare_profile_key.is_some() {
            return Ok(());
        }
        Err(AppError::Conflict {
            detail: format!(
                "workspace {} has no Ayrshare profile of its own, so it acts on the Ayrshare \
                 account's primary profile, and {what} would change that profile's accounts for \
                 everyone using it; give the workspace its own profile first (a workspace made with \
                 `mosaic-social workspaces create --ayrshare-profile-key -` and the key of an \
                 Ayrshare User Profile, or POST /workspaces with create_ayrshare_profile), see \
                 docs/connections.md",
                workspace.id
            ),
            record: None,
        })
    }

    /// `POST /social/{platform}/connect`: Ayrshare's linking URL for the workspace's profile.
    pub async fn connect(
        &self,
        caller: Caller,
        platform: &str,
        body: Option<Value>,
        query: &[(String, String)],
    ) -> Result<ConnectView, AppError> {
        let platform = parse_platform(platform).map_err(AppError::Validation)?;
        let request = ConnectRequest::parse(body, query).map_err(AppError::Validation)?;
        let (domain, private_key) = self.settings.linking().map_err(AppError::NotConfigured)?;
        let workspace = self.workspace(caller, request.workspace_id).await?;
        Self::own_profile(&workspace, "linking an account")?;
        let profile_key = workspace
            .ayrshare_profile_key
            .as_ref()
            .expect("checked by own_profile");
        // Learnt first, so that the `social` webhook of the link that follows finds this
        // workspace; a failure only leaves the status route to learn it.
        if let Err(e) = self.refresh(&workspace).await {
            tracing::warn!(workspace_id = %workspace.id, error = %e, "connect: the profile's accounts could not be read first");
        }
        let mut body = json!({
            "domain": domain,
            "privateKey": private_key.expose_secret(),
            "profileKey": profile_key.expose_secret(),
        });
        if let Some(redirect) = &request.redirect_url {
            body["redirect"] = json!(redirect);
        }
        let answer = self.ayrshare.generate_jwt(&body).await;
        let fields = judge_answer(
            answer.as_ref().map_err(|e| e.failure()),
            "make a linking URL",
        )
        .map_err(|verdict| AppError::ProviderUnrecorded { verdict })?;
        let url = fields
            .get("url")
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or_else(|| AppError::ProviderUnrecorded {
                verdict: crate::domain::Verdict::ProviderError {
                    detail: "ayrshare's answer to generateJWT has no linking url".into(),
                },
            })?;
        let minutes = fields
            .get("expiresIn")
            .and_then(Value::as_i64)
            .filter(|m| (1..=43_200).contains(m))
            .unwrap_or(DEFAULT_EXPIRES_MIN);
        Ok(ConnectView {
            platform,
            workspace_id: workspace.id,
            connect_url: url.to_owned(),
            expires_at: crate::store::now_micros() + TimeDelta::minutes(minutes),
        })
    }

    /// Reads the profile's accounts (`GET /user`) and brings the stored state of every platform
    /// of ours up to date with it, noting the profile's `refId`.
    async fn refresh(&self, workspace: &Workspace) -> Result<UserAnswer, AppError> {
        let scope = CallScope {
            profile_key: workspace.ayrshare_profile_key.as_ref(),
            involves_x: false,
        };
        let answer = self.ayrshare.get_user(scope).await;
        let fields = judge_answer(
            answer.as_ref().map_err(|e| e.failure()),
            "read the profile's linked accounts",
        )
        .map_err(|verdict| AppError::ProviderUnrecorded { verdict })?;
        let user = UserAnswer::read(&Value::Object(fields)).unwrap_or_default();
        let now = crate::store::now_micros();
        if let Some(ref_id) = &user.ref_id {
            self.store
                .remember_ref_id(workspace.organization_id, workspace.id, ref_id, now)
                .await?;
        }
        for platform in Platform::ALL {
            let observation = match user.account(platform) {
                Some(account) => Observation::Connected(account.clone()),
                None => Observation::Disconnected,
            };
            self.store
                .apply_connection(&ConnectionChange {
                    organization_id: workspace.organization_id,
                    workspace_id: workspace.id,
                    platform,
                    observation,
                    reason: ChangeReason::StatusCheck,
                    at: now,
                })
                .await?;
        }
        Ok(user)
    }

    /// `GET /social/{platform}/status`: whether the platform is linked now, from Ayrshare (a
    /// workspace without a profile of its own reads the primary profile); the stored state is
    /// refreshed from the answer.
    pub async fn status(
        &self,
        caller: Caller,
        platform: &str,
        query: &[(String, String)],
    ) -> Result<StatusView, AppError> {
        let platform = parse_platform(platform).map_err(AppError::Validation)?;
        let workspace_id = parse_workspace_query(query).map_err(AppError::Validation)?;
        let workspace = self.workspace(caller, workspace_id).await?;
        let user = self.refresh(&workspace).await?;
        let account = user.account(platform).cloned();
        Ok(StatusView {
            platform,
            workspace_id: workspace.id,
            connected: account.is_some(),
            account,
        })
    }

    /// `DELETE /social/{platform}/remove`: unlinks the platform from the workspace's own
    /// profile (never without a `Profile-Key`, which would unlink the primary profile's).
    pub async fn remove(
        &self,
        caller: Caller,
        platform: &str,
        body: Option<Value>,
        query: &[(String, String)],
    ) -> Result<RemoveView, AppError> {
        let platform = parse_platform(platform).map_err(AppError::Validation)?;
        let workspace_id = parse_remove(body, query).map_err(AppError::Validation)?;
        let workspace = self.workspace(caller, workspace_id).await?;
        Self::own_profile(&workspace, "unlinking an account")?;
        let scope = CallScope {
            profile_key: workspace.ayrshare_profile_key.as_ref(),
            involves_x: false,
        };
        let answer = self
            .ayrshare
            .unlink_social(scope, &json!({"platform": platform.ayrshare_name()}))
            .await;
        judge_answer(
            answer.as_ref().map_err(|e| e.failure()),
            "unlink the account",
        )
        .map_err(|verdict| AppError::ProviderUnrecorded { verdict })?;
        self.store
            .apply_connection(&ConnectionChange {
                organization_id: workspace.organization_id,
                workspace_id: workspace.id,
                platform,
                observation: Observation::Disconnected,
                reason: ChangeReason::Removed,
                at: crate::store::now_micros(),
            })
            .await?;
        Ok(RemoveView {
            success: true,
            platform,
            workspace_id: workspace.id,
        })
    }

    /// `GET /social/connections`: the organization's linked accounts, from the stored state
    /// only (no Ayrshare call), a page at a time.
    pub async fn list(
        &self,
        caller: Caller,
        query: &[(String, String)],
    ) -> Result<ConnectionList, AppError> {
        let query = ConnectionsQuery::parse(query).map_err(AppError::Validation)?;
        if let Some(id) = query.workspace_id {
            self.workspace(caller, Some(id)).await?;
        }
        let mut found = self
            .store
            .list_connections(
                caller.organization_id,
                ConnectionFilter {
                    workspace_id: query.workspace_id,
                    platform: query.platform,
                },
                query.after,
                i64::from(query.limit) + 1,
            )
            .await?;
        let next_cursor = if found.len() > query.limit as usize {
            found.truncate(query.limit as usize);
            found.last().and_then(|last| {
                Some(
                    crate::domain::connection::ConnectionPosition {
                        linked_at: last.state.linked_at?,
                        id: last.id,
                    }
                    .encode(),
                )
            })
        } else {
            None
        };
        Ok(ConnectionList {
            connected_accounts: found.into_iter().map(ConnectedAccount::from).collect(),
            next_cursor,
        })
    }

    /// A verified `social` webhook payload: answered at once, applied in the background to
    /// every workspace known to act on its profile (its `refId`). A link is completed with the
    /// account Ayrshare's `GET /user` describes.
    pub fn receive_social(&self, payload: &Map<String, Value>) -> SocialReceipt {
        let notice = match SocialNotice::read(payload) {
            Ok(notice) => notice,
            Err(reason) => {
                tracing::info!(outcome = "ignored", %reason, "ayrshare social webhook ignored");
                return SocialReceipt::Ignored { reason };
            }
        };
        let platform = notice.platform;
        tracing::info!(outcome = "accepted", platform = %platform, reason = notice.reason.as_str(), "ayrshare social webhook accepted");
        let connections = self.clone();
        self.tasks
            .spawn(async move { connections.apply_social(notice).await });
        SocialReceipt::Accepted { platform }
    }

    async fn apply_social(&self, notice: SocialNotice) {
        let owners = match self.store.find_profile_owners(&notice.ref_id).await {
            Ok(owners) => owners,
            Err(e) => {
                tracing::warn!(error = %e, "ayrshare social webhook: the workspaces could not be read; the status route will catch up");
                return;
            }
        };
        if owners.is_empty() {
            tracing::info!(
                outcome = "unknown_profile",
                "ayrshare social webhook for a profile no workspace is known to use"
            );
            return;
        }
        let mut observation = notice.observation.clone();
        // Every owner of one refId acts on the same profile: one read describes the account for
        // all of them.
        if matches!(observation, Observation::Connected(_)) {
            let first = owners[0];
            if let Ok(Some(workspace)) = self
                .store
                .find_workspace(first.organization_id, Some(first.workspace_id))
                .await
            {
                let scope = CallScope {
                    profile_key: workspace.ayrshare_profile_key.as_ref(),
                    involves_x: false,
                };
                let answer = self.ayrshare.get_user(scope).await;
                // What Ayrshare says now wins over the notice: deliveries are applied
                // concurrently, and an unlink that followed the link may be applied first.
                if let Ok(fields) = judge_answer(answer.as_ref().map_err(|e| e.failure()), "read")
                    && let Some(user) = UserAnswer::read(&Value::Object(fields))
                {
                    observation = match user.account(notice.platform) {
                        Some(account) => Observation::Connected(account.clone()),
                        None => Observation::Disconnected,
                    };
                }
            }
        }
        // Ayrshare's current state contradicted the notice: it is what a status read would say.
        let reason = if matches!(
            (&observation, &notice.observation),
            (Observation::Disconnected, Observation::Connected(_))
        ) {
            ChangeReason::StatusCheck
        } else {
            notice.reason
        };
        let at = crate::store::now_micros();
        for owner in owners {
            let change = ConnectionChange {
                organization_id: owner.organization_id,
                workspace_id: owner.workspace_id,
                platform: notice.platform,
                observation: observation.clone(),
                reason,
                at,
            };
            match self.store.apply_connection(&change).await {
                Ok(applied) => tracing::info!(
                    workspace_id = %owner.workspace_id,
                    platform = %notice.platform,
                    event = applied.event.as_ref().map(|(_, kind)| *kind).unwrap_or("none"),
                    "ayrshare social webhook applied"
                ),
                Err(e) => {
                    tracing::warn!(workspace_id = %owner.workspace_id, error = %e, "ayrshare social webhook could not be applied")
                }
            }
        }
    }
}

/// A post whose Ayrshare answer says some of its platforms are not linked (code 156): their
/// stored connections become disconnected (`post_refused`), off the post's path.
pub fn note_refused_post(
    store: &DynStore,
    tasks: &TaskTracker,
    organization_id: Uuid,
    workspace_id: Uuid,
    error: Option<&Value>,
) {
    let platforms = not_linked_platforms(error);
    if platforms.is_empty() {
        return;
    }
    let store = store.clone();
    tasks.spawn(async move {
        let at = crate::store::now_micros();
        for platform in platforms {
            let change = ConnectionChange {
                organization_id,
                workspace_id,
                platform,
                observation: Observation::Disconnected,
                reason: ChangeReason::PostRefused,
                at,
            };
            if let Err(e) = store.apply_connection(&change).await {
                tracing::warn!(%workspace_id, platform = %platform, error = %e, "a post refused as not linked could not update the connection");
            }
        }
    });
}
