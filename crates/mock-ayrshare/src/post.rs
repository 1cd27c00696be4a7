//! A remembered post: its lifecycle, how it is published, and the JSON answers that show it.

use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rand::Rng;
use serde_json::{Map, Value, json};

use super::platforms::{self, Counters, Platform};
use super::profile::Profile;
use super::scenario::Outcome;
use super::store::{DEFAULT_SCHEDULE_DELAY, Hold};
use super::validate::PostRequest;

/// The lifecycle of a remembered post, as `GET /api/post/{id}` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PostStatus {
    /// Scheduled, waiting for its `scheduleDate`.
    Pending,
    /// Scheduled and paused (`scheduledPause`): not published until resumed.
    Paused,
    /// Waiting for `approved: true` (`requiresApproval`).
    AwaitingApproval,
    /// Accepted and being published asynchronously (TikTok): published when its time comes.
    Processing,
    Success,
    Error,
    Deleted,
}

impl PostStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            PostStatus::Pending => "pending",
            PostStatus::Paused => "paused",
            PostStatus::AwaitingApproval => "awaiting approval",
            PostStatus::Processing => "processing",
            PostStatus::Success => "success",
            PostStatus::Error => "error",
            PostStatus::Deleted => "deleted",
        }
    }

    /// Whether the post has reached its end: published (or failed) or deleted.
    pub(super) fn is_settled(self) -> bool {
        matches!(
            self,
            PostStatus::Success | PostStatus::Error | PostStatus::Deleted
        )
    }
}

/// A post the mock accepted, published or not.
#[derive(Clone, Debug)]
pub(super) struct StoredPost {
    pub(super) id: String,
    pub(super) profile: Profile,
    pub(super) text: String,
    pub(super) platforms: Vec<Platform>,
    pub(super) media_urls: Vec<String>,
    pub(super) schedule_date: Option<DateTime<Utc>>,
    pub(super) notes: Option<String>,
    pub(super) created: DateTime<Utc>,
    /// Whether the creation answer said `scheduled`.
    pub(super) scheduled: bool,
    pub(super) outcome: Outcome,
    pub(super) status: PostStatus,
    pub(super) post_ids: Vec<Value>,
    pub(super) errors: Vec<Value>,
    /// The post's key in the store's due index, while it is `Pending` or `Processing`.
    pub(super) due_at: Option<DateTime<Utc>>,
    /// When the post was published (or failed), once it was.
    pub(super) published_at: Option<DateTime<Utc>>,
    /// Update fields that are only shown back (`disableComments`, `youTubeOptions`).
    pub(super) shown: Map<String, Value>,
    /// Whether `PUT /api/post/retry` sent it again (allowed once).
    pub(super) retried: bool,
    /// Whether its next publication is that retry: only the networks that failed are tried.
    pub(super) retrying: bool,
}

impl StoredPost {
    /// A new post with id `id`, still `Pending` and not yet filed anywhere: the caller decides
    /// whether it is due later, held or published now. A paused post without a future
    /// `scheduleDate` is scheduled an hour ahead.
    pub(super) fn new(
        id: String,
        text: String,
        profile: &Profile,
        request: PostRequest,
        outcome: Outcome,
        hold: Hold,
        now: DateTime<Utc>,
    ) -> StoredPost {
        let mut schedule_date = request.schedule_date;
        if hold == Hold::Paused && schedule_date.is_none_or(|due| due <= now) {
            schedule_date = Some(now + DEFAULT_SCHEDULE_DELAY);
        }
        StoredPost {
            id,
            profile: profile.clone(),
            text,
            platforms: request.platforms,
            media_urls: request.media_urls,
            schedule_date,
            notes: request.notes,
            // Ayrshare reports creation times in whole seconds.
            created: now.trunc_subsecs(0),
            scheduled: schedule_date.is_some_and(|due| due > now),
            outcome,
            status: PostStatus::Pending,
            post_ids: Vec::new(),
            errors: Vec::new(),
            due_at: None,
            published_at: None,
            shown: Map::new(),
            retried: false,
            retrying: false,
        }
    }

    /// The answer to the `POST /api/post` that created this post (unwrapped).
    pub(super) fn creation_answer(&self, title: &str) -> (StatusCode, Value) {
        let mut body = match self.status {
            PostStatus::Pending | PostStatus::Paused => json!({
                "status": "scheduled",
                "scheduleDate": self.schedule_date.map(format_time),
                "postIds": [],
                "errors": [],
            }),
            // Accepted, yet published nowhere so far: a success that names no platform.
            PostStatus::AwaitingApproval | PostStatus::Processing => json!({
                "status": "success",
                "postIds": [],
                "errors": [],
            }),
            PostStatus::Success | PostStatus::Error | PostStatus::Deleted => json!({
                "status": if self.errors.is_empty() { "success" } else { "error" },
                "errors": self.errors,
                "postIds": self.post_ids,
            }),
        };
        body["id"] = json!(self.id);
        body["refId"] = json!(self.profile.ref_id());
        body["profileTitle"] = json!(title);
        body["post"] = json!(self.text);
        // Ayrshare answers 400 when no network took a published post, 200 otherwise.
        let failed_everywhere = self.published_at.is_some() && self.post_ids.is_empty();
        let http = if failed_everywhere {
            super::faults::failed_everywhere_status(&self.errors)
        } else {
            StatusCode::OK
        };
        (http, body)
    }

    /// The date `/history` filters and sorts by: the `scheduleDate`, else when it was created.
    pub(super) fn publish_date(&self) -> DateTime<Utc> {
        self.schedule_date.unwrap_or(self.created)
    }

    /// The body of `GET /api/post/{id}` and `GET /api/history/{id}`.
    pub(super) fn status_answer(&self, title: &str) -> Value {
        let mut body = json!({
            "id": self.id,
            "status": self.status.as_str(),
            "post": self.text,
            "platforms": self.platforms.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "mediaUrls": self.media_urls,
            "postIds": self.post_ids,
            "errors": self.errors,
            "created": format_time(self.created),
            "type": if self.scheduled { "scheduled" } else { "now" },
            "refId": self.profile.ref_id(),
            "profileTitle": title,
        });
        if let Some(due) = self.schedule_date {
            body["scheduleDate"] = json!(format_time(due));
        }
        if let Some(notes) = &self.notes {
            body["notes"] = json!(notes);
        }
        for (key, value) in &self.shown {
            body[key] = value.clone();
        }
        body
    }

    /// Publishes the post to its networks according to its outcome; a network in `blocked`
    /// (faults, unlinked accounts) fails with the error given there. A retry tries only the
    /// networks that failed before.
    pub(super) fn publish(
        &mut self,
        rng: &mut impl Rng,
        counters: &mut Counters,
        now: DateTime<Utc>,
        blocked: &[(Platform, Value)],
    ) {
        let kept: Vec<Value> = if self.retrying {
            self.post_ids.clone()
        } else {
            Vec::new()
        };
        let mut post_ids = Vec::new();
        let mut errors = Vec::new();
        for (index, &platform) in self.platforms.iter().enumerate() {
            if let Some(entry) = kept
                .iter()
                .find(|entry| entry["platform"] == platform.name())
            {
                post_ids.push(entry.clone());
                continue;
            }
            if let Some((_, error)) = blocked.iter().find(|(p, _)| *p == platform) {
                errors.push(error.clone());
                continue;
            }
            match self.outcome {
                Outcome::Duplicate => errors.push(duplicate_error(platform, &self.text)),
                Outcome::Partial if index > 0 => errors.push(not_linked_error(platform)),
                Outcome::Success | Outcome::Partial => {
                    post_ids.push(platforms::post_id_entry(platform, rng, counters));
                }
            }
        }
        self.post_ids = post_ids;
        self.errors = errors;
        self.status = if self.errors.is_empty() {
            PostStatus::Success
        } else {
            PostStatus::Error
        };
        self.due_at = None;
        self.published_at = Some(now);
        self.retrying = false;
    }
}

impl StoredPost {
    /// The native post id the post got on `platform`, if it was published there.
    pub(super) fn native_id(&self, platform: Platform) -> Option<&Value> {
        self.post_ids
            .iter()
            .find(|entry| entry["platform"] == platform.name())
            .map(|entry| &entry["id"])
    }

    /// The `postIds` entry of `platform`, if the post was published there.
    pub(super) fn post_id_entry(&self, platform: Platform) -> Option<&Value> {
        self.post_ids
            .iter()
            .find(|entry| entry["platform"] == platform.name())
    }
}

/// An answer in the form Ayrshare uses for User Profiles: `{"status", "posts": [answer]}`. In
/// that form a post that failed anywhere is an HTTP 400.
pub(super) fn wrap(http: StatusCode, answer: Value) -> (StatusCode, Value) {
    let http = if answer["status"] == "error" {
        StatusCode::BAD_REQUEST
    } else {
        http
    };
    (
        http,
        json!({"status": answer["status"].clone(), "posts": [answer]}),
    )
}

/// Formats a time as Ayrshare does: UTC, `Z`, fractional seconds only when present.
pub(super) fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The `errors[]` item of a network that is not linked to the profile (Ayrshare code 156).
fn not_linked_error(platform: Platform) -> Value {
    super::faults::Fault::NotLinked.error_entry("post", platform)
}

/// The `errors[]` item of a network that refused the text as a duplicate.
fn duplicate_error(platform: Platform, text: &str) -> Value {
    match platform {
        Platform::Twitter => json!({
            "action": "post",
            "status": "error",
            "code": 110,
            "message": "Status is a duplicate.",
            "post": text,
            "platform": "twitter",
        }),
        Platform::Facebook => json!({
            "action": "post",
            "status": "error",
            "code": 107,
            "message": "Facebook Error: This status update is identical to the last one you posted. \
                        Try posting something different, or delete your previous update.",
            "platform": "facebook",
        }),
        other => json!({
            "action": "post",
            "status": "error",
            "code": 137,
            "message": format!(
                "{} Error: duplicate or similar content posted within the same 48 hours.",
                other.display_name()
            ),
            "platform": other.name(),
        }),
    }
}
