//! Creating a workspace's own Ayrshare profile, write-ahead. Ayrshare shows a profile's key in
//! its answer to `POST /profiles` only, so the workspace row is written first (`creating`, with
//! the title the profile will get), then Ayrshare is called, then the key is sealed and stored
//! (`created`). An answer that never came (a timeout, a broken connection, a 5xx, a crash before
//! the commit) leaves the row `creating`; the retry (same `Idempotency-Key`, or the same name)
//! looks the title up with `GET /profiles?title=` before anything else: a profile found there
//! cannot give its key again, so the workspace becomes `orphaned` and the caller is told what to
//! do; none found means no profile was made and the create is sent again. Replicas race on a
//! claim of the row, so one create at a time is ever in flight for a workspace.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use secrecy::SecretString;
use serde_json::Value;
use uuid::Uuid;

use crate::ayrshare::AyrshareClient;
use crate::domain::Verdict;
use crate::domain::connection::judge_answer;
use crate::publishing::AppError;
use crate::store::{DynStore, ProfileCreate, ProfileSettle};

/// The longest title sent: the mock's (and a careful reading of Ayrshare's) bound.
const MAX_TITLE_CHARS: usize = 200;

/// The title a workspace's profile gets: the service, the workspace's id (unique, so that
/// `GET /profiles?title=` finds this profile and no other) and its name (for a person reading
/// Ayrshare's dashboard), cut to fit.
pub fn profile_title(workspace_id: Uuid, name: &str) -> String {
    let head = format!("mosaic-social workspace {workspace_id}: ");
    let room = MAX_TITLE_CHARS - head.chars().count();
    format!("{head}{}", name.chars().take(room).collect::<String>())
}

/// What one profile create needs. Cheap to clone.
#[derive(Clone)]
pub struct ProfileCreator {
    pub store: DynStore,
    pub ayrshare: Arc<AyrshareClient>,
    /// How long one attempt holds the row: past it (a crashed replica) another may take it.
    pub claim_for: Duration,
}

impl ProfileCreator {
    /// The claim's end, from now.
    pub fn claim_until(&self) -> chrono::DateTime<chrono::Utc> {
        crate::store::now_micros()
            + TimeDelta::from_std(self.claim_for).unwrap_or(TimeDelta::minutes(1))
    }

    /// A retry of a create that did not finish (`creating`) or whose profile was orphaned: takes
    /// the row, asks Ayrshare whether the titled profile exists, and creates it only if not.
    pub async fn resume(&self, organization_id: Uuid, row: &ProfileCreate) -> Result<(), AppError> {
        let title = row.profile_title.clone().unwrap_or_default();
        let claimed = self
            .store
            .claim_profile_create(
                organization_id,
                row.workspace_id,
                crate::store::now_micros(),
                self.claim_until(),
            )
            .await?;
        if !claimed {
            return Err(AppError::Conflict {
                detail: format!(
                    "workspace {}'s Ayrshare profile is being created by an earlier request; \
                     send this one again in {} seconds",
                    row.workspace_id,
                    self.claim_for.as_secs().max(1)
                ),
                record: None,
            });
        }
        let answer = self.ayrshare.find_profiles(&title).await;
        let found = match judge_answer(
            answer.as_ref().map_err(|e| e.failure()),
            "look up the workspace's profile by title",
        ) {
            Ok(fields) => fields,
            Err(verdict) => {
                self.settle(organization_id, row.workspace_id, ProfileSettle::Released)
                    .await?;
                return Err(AppError::ProviderUnrecorded { verdict });
            }
        };
        let existing = found
            .get("profiles")
            .and_then(Value::as_array)
            .and_then(|profiles| {
                profiles
                    .iter()
                    .find(|p| p.get("title").and_then(Value::as_str) == Some(title.as_str()))
            });
        if let Some(profile) = existing {
            let ref_id = profile
                .get("refId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            self.settle(
                organization_id,
                row.workspace_id,
                ProfileSettle::Orphaned {
                    ref_id: ref_id.clone(),
                },
            )
            .await?;
            return Err(orphaned(row.workspace_id, &title, ref_id.as_deref()));
        }
        self.create(organization_id, row.workspace_id, &title).await
    }

    /// `POST /profiles` for a row this request holds, then the key stored. Runs to its end even
    /// if the caller goes away (the caller spawns it on the shutdown-tracked tasks).
    pub async fn create(
        &self,
        organization_id: Uuid,
        workspace_id: Uuid,
        title: &str,
    ) -> Result<(), AppError> {
        let answer = self.ayrshare.create_profile(title).await;
        let fields = match judge_answer(
            answer.as_ref().map_err(|e| e.failure()),
            "create the workspace's profile",
        ) {
            Ok(fields) => fields,
            Err(Verdict::Rejected { detail }) => {
                // A definite refusal: no profile exists, so the row is taken back.
                self.settle(organization_id, workspace_id, ProfileSettle::Refused)
                    .await?;
                return Err(AppError::ProviderUnrecorded {
                    verdict: Verdict::Rejected {
                        detail: format!("{detail}; no workspace was created"),
                    },
                });
            }
            Err(verdict) => {
                self.settle(organization_id, workspace_id, ProfileSettle::Released)
                    .await?;
                return Err(AppError::ProviderUnrecorded {
                    verdict: unanswered(verdict, workspace_id, title),
                });
            }
        };
        let ref_id = fields
            .get("refId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(key) = fields.get("profileKey").and_then(Value::as_str) else {
            // Made, yet no key came: as lost as an answer that never came.
            self.settle(
                organization_id,
                workspace_id,
                ProfileSettle::Orphaned {
                    ref_id: ref_id.clone(),
                },
            )
            .await?;
            return Err(orphaned(workspace_id, title, ref_id.as_deref()));
        };
        self.settle(
            organization_id,
            workspace_id,
            ProfileSettle::Created {
                profile_key: SecretString::from(key.to_owned()),
                ref_id: ref_id.clone(),
            },
        )
        .await?;
        if let Some(ref_id) = ref_id {
            self.store
                .remember_ref_id(
                    organization_id,
                    workspace_id,
                    &ref_id,
                    crate::store::now_micros(),
                )
                .await?;
        }
        Ok(())
    }

    async fn settle(
        &self,
        organization_id: Uuid,
        workspace_id: Uuid,
        settle: ProfileSettle,
    ) -> Result<(), AppError> {
        self.store
            .settle_profile_create(organization_id, workspace_id, settle)
            .await
            .map_err(AppError::from)
    }
}

/// The answer to a create whose answer did not come: what happened and how to retry safely.
fn unanswered(verdict: Verdict, workspace_id: Uuid, title: &str) -> Verdict {
    let retry = format!(
        "workspace {workspace_id} is kept as `creating`; send the same request again (same \
         Idempotency-Key, or the same name): it first looks for a profile titled '{title}' in \
         Ayrshare, so no second profile is made"
    );
    let verdict = match verdict {
        Verdict::TimedOut { detail } => Verdict::TimedOut {
            detail: detail.trim_end_matches("; try again").to_owned(),
        },
        other => other,
    };
    match verdict {
        Verdict::TimedOut { detail } => Verdict::TimedOut {
            detail: format!("{detail}; {retry}"),
        },
        Verdict::Unavailable { detail } => Verdict::Unavailable {
            detail: format!("{detail}; {retry}"),
        },
        Verdict::ProviderError { detail } => Verdict::ProviderError {
            detail: format!("{detail}; {retry}"),
        },
        other => other,
    }
}

/// The error of a workspace whose profile exists at Ayrshare without its key here.
pub fn orphaned(workspace_id: Uuid, title: &str, ref_id: Option<&str>) -> AppError {
    let ref_id = ref_id.map(|r| format!(" (refId {r})")).unwrap_or_default();
    AppError::Conflict {
        detail: format!(
            "workspace {workspace_id}'s Ayrshare profile '{title}'{ref_id} was created, but the \
             answer carrying its key was lost, and Ayrshare shows a key only once; the workspace \
             is `orphaned`. Delete that profile in Ayrshare's dashboard and send this request \
             again (it then creates a new profile), or, if you hold the profile's key, give it \
             to a workspace with `mosaic-social workspaces create --ayrshare-profile-key -`"
        ),
        record: None,
    }
}

/// One line for the command line: a provider's verdict by its detail.
pub fn describe(error: &AppError) -> String {
    match error {
        AppError::ProviderUnrecorded {
            verdict:
                Verdict::TimedOut { detail }
                | Verdict::Unavailable { detail }
                | Verdict::ProviderError { detail }
                | Verdict::Rejected { detail },
        } => format!("ayrshare: {detail}"),
        other => other.to_string(),
    }
}
