//! The mock's memory: remembered posts per profile, their publication, and rate-limit counters.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::platforms::{self, Counters, Platform};
use super::reply::ApiError;
use super::scenario::Outcome;
use super::validate::PostRequest;

/// Where the mock reads the time; tests swap it for a clock they can move.
pub(super) type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The header that picks a User Profile.
const PROFILE_HEADER: &str = "profile-key";

/// The length of Ayrshare's rate-limit window.
const RATE_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// How far ahead the `scheduled` scenario schedules a post that has no `scheduleDate`.
pub(super) const DEFAULT_SCHEDULE_DELAY: TimeDelta = TimeDelta::hours(1);

/// The profile a request acts on: a `Profile-Key`, or the Primary Profile without one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Profile(Option<String>);

impl Profile {
    /// Reads the `Profile-Key` header (any case); a blank value means the Primary Profile.
    pub(super) fn from_headers(headers: &HeaderMap) -> Profile {
        let key = headers
            .get(PROFILE_HEADER)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
            .filter(|key| !key.is_empty());
        Profile(key)
    }

    /// A stable 32-hex-digit user reference id, like Ayrshare's `refId`.
    fn ref_id(&self) -> String {
        let key = self.0.as_deref().unwrap_or("\0primary");
        format!(
            "{:016x}{:016x}",
            fnv1a(key, 0xcbf2_9ce4_8422_2325),
            fnv1a(key, 0x6c62_272e_07bb_0142)
        )
    }
}

fn fnv1a(text: &str, offset: u64) -> u64 {
    text.bytes().fold(offset, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The lifecycle of a remembered post, as `GET /api/post/{id}` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PostStatus {
    Pending,
    Success,
    Error,
    Deleted,
}

impl PostStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            PostStatus::Pending => "pending",
            PostStatus::Success => "success",
            PostStatus::Error => "error",
            PostStatus::Deleted => "deleted",
        }
    }
}

/// A post the mock accepted, published or not.
#[derive(Clone, Debug)]
pub(super) struct StoredPost {
    pub(super) id: String,
    profile: Profile,
    /// Creation order, to list history newest first even within one second.
    seq: u64,
    pub(super) text: String,
    platforms: Vec<Platform>,
    media_urls: Vec<String>,
    schedule_date: Option<DateTime<Utc>>,
    notes: Option<String>,
    created: DateTime<Utc>,
    /// Whether the creation answer said `scheduled`.
    scheduled: bool,
    outcome: Outcome,
    pub(super) status: PostStatus,
    post_ids: Vec<Value>,
    errors: Vec<Value>,
}

impl StoredPost {
    fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.status == PostStatus::Pending && self.schedule_date.is_none_or(|due| due <= now)
    }

    /// The answer to the `POST /api/post` that created this post.
    pub(super) fn creation_answer(&self) -> (StatusCode, Value) {
        if self.status == PostStatus::Pending {
            let body = json!({
                "status": "scheduled",
                "scheduleDate": self.schedule_date.map(format_time),
                "id": self.id,
                "refId": self.profile.ref_id(),
                "post": self.text,
                "postIds": [],
                "errors": [],
            });
            return (StatusCode::OK, body);
        }
        let body = json!({
            "status": self.status.as_str(),
            "errors": self.errors,
            "postIds": self.post_ids,
            "id": self.id,
            "refId": self.profile.ref_id(),
            "post": self.text,
        });
        // Ayrshare answers 400 when no network took the post, 200 when at least one did.
        let http = if self.post_ids.is_empty() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        (http, body)
    }

    /// The body of `GET /api/post/{id}` and `GET /api/history/{id}`.
    pub(super) fn status_answer(&self) -> Value {
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
        });
        if let Some(due) = self.schedule_date {
            body["scheduleDate"] = json!(format_time(due));
        }
        if let Some(notes) = &self.notes {
            body["notes"] = json!(notes);
        }
        body
    }
}

/// Formats a time as Ayrshare does: UTC, `Z`, fractional seconds only when present.
fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// What the mock remembers about one profile besides its posts.
#[derive(Clone, Debug)]
struct ProfileState {
    counters: Counters,
    window_start: DateTime<Utc>,
    window_count: u64,
}

/// Everything the mock remembers; lost when the process ends.
pub(super) struct Store {
    posts: HashMap<String, StoredPost>,
    profiles: HashMap<Profile, ProfileState>,
    next_seq: u64,
    rng: StdRng,
}

impl Store {
    pub(super) fn new(rng: StdRng) -> Store {
        Store {
            posts: HashMap::new(),
            profiles: HashMap::new(),
            next_seq: 0,
            rng,
        }
    }

    /// Counts one request against the profile's 5-minute window and returns the count so far.
    pub(super) fn count_request(&mut self, profile: &Profile, now: DateTime<Utc>) -> u64 {
        let state = self.profile_state(profile, now);
        if now - state.window_start >= RATE_WINDOW {
            state.window_start = now;
            state.window_count = 0;
        }
        state.window_count += 1;
        state.window_count
    }

    fn profile_state(&mut self, profile: &Profile, now: DateTime<Utc>) -> &mut ProfileState {
        self.profiles
            .entry(profile.clone())
            .or_insert_with(|| ProfileState {
                counters: Counters::default(),
                window_start: now,
                window_count: 0,
            })
    }

    /// Remembers a new post and publishes it at once unless it is due later.
    pub(super) fn create(
        &mut self,
        profile: &Profile,
        request: PostRequest,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> &StoredPost {
        let id = self.unused_id();
        let text = request.text.unwrap_or_else(|| self.random_text());
        let scheduled = request.schedule_date.is_some_and(|due| due > now);
        self.next_seq += 1;
        let post = StoredPost {
            id: id.clone(),
            profile: profile.clone(),
            seq: self.next_seq,
            text,
            platforms: request.platforms,
            media_urls: request.media_urls,
            schedule_date: request.schedule_date,
            notes: request.notes,
            // Ayrshare reports creation times in whole seconds.
            created: now.trunc_subsecs(0),
            scheduled,
            outcome,
            status: PostStatus::Pending,
            post_ids: Vec::new(),
            errors: Vec::new(),
        };
        self.posts.insert(id.clone(), post);
        self.publish_due(now);
        &self.posts[&id]
    }

    fn unused_id(&mut self) -> String {
        loop {
            let id = platforms::ayrshare_id(&mut self.rng);
            if !self.posts.contains_key(&id) {
                return id;
            }
        }
    }

    fn random_text(&mut self) -> String {
        let tag: u32 = rand::Rng::random_range(&mut self.rng, 1000..10_000);
        format!("A random post from the Ayrshare mock #{tag}")
    }

    /// Publishes every pending post whose `scheduleDate` has passed, with its creation outcome.
    pub(super) fn publish_due(&mut self, now: DateTime<Utc>) {
        let due: Vec<String> = self
            .posts
            .values()
            .filter(|post| post.is_due(now))
            .map(|post| post.id.clone())
            .collect();
        for id in due {
            let Some(post) = self.posts.get_mut(&id) else {
                continue;
            };
            let state = self
                .profiles
                .entry(post.profile.clone())
                .or_insert_with(|| ProfileState {
                    counters: Counters::default(),
                    window_start: now,
                    window_count: 0,
                });
            publish(post, &mut self.rng, &mut state.counters);
        }
    }

    /// The post `id` if `profile` owns it.
    pub(super) fn get(&self, profile: &Profile, id: &str) -> Result<&StoredPost, ApiError> {
        self.posts
            .get(id)
            .filter(|post| &post.profile == profile)
            .ok_or_else(|| ApiError::post_not_found(id))
    }

    /// Marks the post `id` deleted; a pending post is thereby never published.
    pub(super) fn delete(&mut self, profile: &Profile, id: &str) -> Result<(), ApiError> {
        match self.posts.get_mut(id) {
            Some(post) if &post.profile == profile => {
                post.status = PostStatus::Deleted;
                Ok(())
            }
            _ => Err(ApiError::post_not_found(id)),
        }
    }

    /// The profile's posts, newest first: all but deleted ones, or only those with `status`.
    pub(super) fn history(
        &self,
        profile: &Profile,
        status: Option<&str>,
        limit: usize,
    ) -> Vec<&StoredPost> {
        let mut posts: Vec<&StoredPost> = self
            .posts
            .values()
            .filter(|post| &post.profile == profile)
            .filter(|post| match status {
                Some(wanted) => post.status.as_str() == wanted,
                None => post.status != PostStatus::Deleted,
            })
            .collect();
        posts.sort_by_key(|post| std::cmp::Reverse(post.seq));
        posts.truncate(limit);
        posts
    }
}

/// Sends a post to its networks according to its outcome.
fn publish(post: &mut StoredPost, rng: &mut StdRng, counters: &mut Counters) {
    let (succeeding, failing): (&[Platform], &[Platform]) = match post.outcome {
        Outcome::Success => (&post.platforms, &[]),
        Outcome::Partial => post.platforms.split_at(1),
        Outcome::Duplicate => (&[], &post.platforms),
    };
    let post_ids = succeeding
        .iter()
        .map(|&platform| platforms::post_id_entry(platform, rng, counters))
        .collect();
    let errors = failing
        .iter()
        .map(|&platform| match post.outcome {
            Outcome::Duplicate => duplicate_error(platform, &post.text),
            _ => not_linked_error(platform),
        })
        .collect();
    post.post_ids = post_ids;
    post.errors = errors;
    post.status = if post.errors.is_empty() {
        PostStatus::Success
    } else {
        PostStatus::Error
    };
}

/// The `errors[]` item of a network that is not linked to the profile (Ayrshare code 156).
fn not_linked_error(platform: Platform) -> Value {
    json!({
        "action": "post",
        "status": "error",
        "code": 156,
        "message": format!(
            "{} is not linked. Please confirm the account is linked on the Social Accounts page.",
            platform.display_name()
        ),
        "platform": platform.name(),
    })
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
