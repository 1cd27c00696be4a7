//! `/social/post`: create (publish or schedule) a post, read its downstream outcome, and read the
//! tracking record.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tracing::{Instrument, Span};
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, RecordRef};
use super::extract::{Authenticated, Json, Path};
use crate::ayrshare::CallScope;
use crate::domain::outcome::{judge_create, judge_status, links};
use crate::domain::{Link, NewPost, Outcome, PlatformResult, TrackedStatus, Transition, Verdict};
use crate::store::{NewTracking, TrackingRecord, Workspace};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/social/post", post(create_post))
        .route("/social/post/{post_id}", get(get_post))
        .route("/social/post/track/{tracking_id}", get(get_tracking))
}

/// The merged answer of a create, and of a read by post id.
#[derive(Debug, Serialize)]
struct PostResponse {
    post_id: Option<String>,
    status: String,
    links: Vec<Link>,
    results: Vec<PlatformResult>,
    error: Option<Value>,
    tracking_id: Uuid,
    tracked_status: TrackedStatus,
}

/// The tracking record as `GET /social/post/track/{id}` shows it.
#[derive(Debug, Serialize)]
struct TrackingResponse {
    tracking_id: Uuid,
    workspace_id: Uuid,
    post_id: Option<String>,
    tracked_status: TrackedStatus,
    post: String,
    platforms: Vec<String>,
    media_urls: Vec<String>,
    schedule_date: Option<DateTime<Utc>>,
    links: Vec<Link>,
    results: Vec<PlatformResult>,
    error: Option<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// `POST /social/post`.
async fn create_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<Value>,
) -> Result<Json<PostResponse>, ApiError> {
    let new_post = NewPost::parse(body, Utc::now()).map_err(ApiError::Validation)?;
    let workspace = find_workspace(&state, caller.organization_id, new_post.workspace_id).await?;
    let record = NewTracking {
        id: Uuid::new_v4(),
        organization_id: caller.organization_id,
        workspace_id: workspace.id,
        api_key_id: caller.api_key_id,
        post: new_post.post.clone(),
        platforms: new_post
            .platforms
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        media_urls: new_post.media_urls.iter().map(|u| u.to_string()).collect(),
        schedule_date: new_post.schedule_date,
        extra: Value::Object(new_post.extra.clone()),
    };
    let tracking_id = record.id;

    // Writing the record, calling Ayrshare and recording its answer run as a task of their own:
    // a client hanging up drops this handler's future, and that must never happen between the
    // commit and the call, or between the call and the recording. Shutdown waits for the task.
    // In the request's span, so its log lines keep the request id.
    let work = publish(state.clone(), record, new_post, workspace).instrument(Span::current());
    let task = state.tasks.spawn(work);
    let deadline = state.ayrshare_timeout + super::RECORDING_ALLOWANCE;
    let (record, outcome) = match tokio::time::timeout(deadline, task).await {
        Ok(joined) => {
            joined.map_err(|e| ApiError::Internal(format!("publishing task failed: {e}")))??
        }
        // The database is slow: answer now, with what the record says at this moment; the
        // task goes on and records the outcome when it can.
        Err(_) => {
            return Err(ApiError::Provider {
                verdict: Verdict::TimedOut {
                    detail: "the outcome could not be recorded in time; read the tracking record \
                             later to learn it"
                        .into(),
                },
                record: RecordRef {
                    tracking_id,
                    tracked_status: TrackedStatus::Pending,
                    post_id: None,
                    results: None,
                },
            });
        }
    };
    match outcome.verdict {
        Verdict::Accepted => Ok(Json(merged_response(&record, &outcome))),
        verdict => Err(ApiError::Provider {
            record: RecordRef::new(
                &record,
                outcome.provider_response.is_some(),
                &outcome.results,
            ),
            verdict,
        }),
    }
}

/// Writes the record, sends the post to Ayrshare once, and records what came of it.
async fn publish(
    state: AppState,
    record: NewTracking,
    new_post: NewPost,
    workspace: Workspace,
) -> Result<(TrackingRecord, Outcome), ApiError> {
    let record = state.store.insert_tracking(&record).await?;
    tracing::info!(tracking_id = %record.id, "tracking record written");
    let scope = CallScope {
        profile_key: workspace.ayrshare_profile_key.as_ref(),
        involves_x: new_post.involves_x(),
    };
    let answer = state
        .ayrshare
        .create_post(scope, &new_post.ayrshare_body())
        .await;
    let outcome = judge_create(
        answer.as_ref().map_err(|e| e.failure()),
        new_post.schedule_date.is_some(),
    );
    let updated = record_with_retries(&state, record.id, Transition::CreateOutcome, &outcome).await;
    match updated {
        Ok(updated) => {
            tracing::info!(
                tracking_id = %updated.id,
                tracked_status = %updated.tracked_status,
                post_id = updated.provider_post_id.as_deref().unwrap_or(""),
                "outcome recorded"
            );
            Ok((updated, outcome))
        }
        Err(cause) => Err(ApiError::Unrecorded {
            cause,
            record: RecordRef {
                tracking_id: record.id,
                tracked_status: record.tracked_status,
                post_id: outcome.provider_post_id.clone(),
                results: outcome
                    .provider_response
                    .is_some()
                    .then(|| outcome.results.clone()),
            },
        }),
    }
}

/// Ayrshare has acted by now, so losing its answer would leave a lie in the database: a brief
/// database hiccup is retried (the update is conditional on the state, so repeating it is safe).
async fn record_with_retries(
    state: &AppState,
    id: Uuid,
    transition: Transition,
    outcome: &Outcome,
) -> Result<TrackingRecord, String> {
    let mut delay = std::time::Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match state.store.record_outcome(id, transition, outcome).await {
            Ok(record) => return Ok(record),
            Err(e) if attempt >= 4 => return Err(e.to_string()),
            Err(e) => {
                tracing::warn!(tracking_id = %id, attempt, error = %e, "recording the outcome failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
        }
    }
}

/// `GET /social/post/{post_id}`: asks Ayrshare, and brings the record up to date when the post
/// has settled.
async fn get_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(post_id): Path<String>,
) -> Result<Json<PostResponse>, ApiError> {
    // No id of ours contains U+0000, and Postgres could not even compare one.
    if post_id.contains('\0') {
        return Err(ApiError::NotFound(format!(
            "no post with id {}",
            post_id.escape_debug()
        )));
    }
    let record = state
        .store
        .find_tracking_by_post_id(caller.organization_id, &post_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no post with id {post_id}")))?;
    let workspace =
        find_workspace(&state, caller.organization_id, Some(record.workspace_id)).await?;
    let scope = CallScope {
        profile_key: workspace.ayrshare_profile_key.as_ref(),
        involves_x: record.platforms.iter().any(|p| p == "x"),
    };
    let answer = state.ayrshare.get_post(scope, &post_id).await;
    let outcome = judge_status(
        answer.as_ref().map_err(|e| e.failure()),
        record.tracked_status,
        &record.results,
    );
    if outcome.verdict != Verdict::Accepted {
        return Err(ApiError::Provider {
            record: RecordRef::new(&record, answer.is_ok(), &outcome.results),
            verdict: outcome.verdict,
        });
    }
    let record = if outcome.tracked_status.is_some() {
        state
            .store
            .record_outcome(record.id, Transition::Refresh, &outcome)
            .await?
    } else {
        record
    };
    let mut response = merged_response(&record, &outcome);
    // What Ayrshare says now, even when the record keeps an earlier state.
    response.post_id = Some(post_id);
    Ok(Json(response))
}

/// `GET /social/post/track/{tracking_id}`: the record, from the database only.
async fn get_tracking(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tracking_id): Path<String>,
) -> Result<Json<TrackingResponse>, ApiError> {
    let id = Uuid::parse_str(&tracking_id)
        .map_err(|_| ApiError::field("tracking_id", format!("'{tracking_id}' is not a uuid")))?;
    let record = state
        .store
        .find_tracking(caller.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no tracking record with id {id}")))?;
    Ok(Json(TrackingResponse {
        tracking_id: record.id,
        workspace_id: record.workspace_id,
        links: links(&record.results),
        post_id: record.provider_post_id,
        tracked_status: record.tracked_status,
        post: record.post,
        platforms: record.platforms,
        media_urls: record.media_urls,
        schedule_date: record.schedule_date,
        results: record.results,
        error: record.error,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }))
}

async fn find_workspace(
    state: &AppState,
    organization_id: Uuid,
    workspace_id: Option<Uuid>,
) -> Result<Workspace, ApiError> {
    state
        .store
        .find_workspace(organization_id, workspace_id)
        .await?
        .ok_or_else(|| match workspace_id {
            Some(id) => ApiError::NotFound(format!("no workspace with id {id}")),
            None => ApiError::Internal(format!(
                "organization {organization_id} has no primary workspace"
            )),
        })
}

/// The merged response: Ayrshare's answer, with our tracking fields.
fn merged_response(record: &TrackingRecord, outcome: &Outcome) -> PostResponse {
    let status = outcome.provider_status.clone().unwrap_or_else(|| {
        match outcome.tracked_status.unwrap_or(record.tracked_status) {
            TrackedStatus::Scheduled => "scheduled",
            TrackedStatus::Posted => "success",
            _ => "error",
        }
        .to_owned()
    });
    PostResponse {
        post_id: outcome
            .provider_post_id
            .clone()
            .or_else(|| record.provider_post_id.clone()),
        status,
        links: links(&outcome.results),
        results: outcome.results.clone(),
        error: outcome.error.clone(),
        tracking_id: record.id,
        tracked_status: record.tracked_status,
    }
}
