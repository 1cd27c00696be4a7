//! The mock's memory: remembered posts per profile, their publication and eviction, and
//! rate-limit counters.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
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

/// What the mock remembers about one profile.
#[derive(Clone, Debug)]
struct ProfileState {
    counters: Counters,
    window_start: DateTime<Utc>,
    window_count: u64,
    /// The creation numbers of the profile's remembered posts, oldest first.
    posts: BTreeSet<u64>,
}

impl ProfileState {
    fn new(now: DateTime<Utc>) -> ProfileState {
        ProfileState {
            counters: Counters::default(),
            window_start: now,
            window_count: 0,
            posts: BTreeSet::new(),
        }
    }

    fn window_is_over(&self, now: DateTime<Utc>) -> bool {
        now - self.window_start >= RATE_WINDOW
    }

    /// Whether forgetting the profile loses nothing but its counters: it owns no remembered post
    /// and its rate window is over, so its next request would count from 1 anyway.
    fn is_idle(&self, now: DateTime<Utc>) -> bool {
        self.posts.is_empty() && self.window_is_over(now)
    }
}

/// The profile map is swept of idle profiles whenever it reaches twice its size after the last
/// sweep, but never below this size: amortised O(1) per request.
const SWEEP_MIN: usize = 64;

/// The most profiles without remembered posts kept at once, however many are in their window:
/// beyond it the sweep forgets those whose window started first (their count restarts at 1).
const MAX_POSTLESS_PROFILES: usize = 10_000;

/// Everything the mock remembers; lost when the process ends.
///
/// Posts are keyed by their creation number (`seq`); every index below refers to them by it.
pub(super) struct Store {
    /// Every remembered post, by creation number.
    posts: HashMap<u64, StoredPost>,
    /// The creation number of every remembered post, by Ayrshare id.
    ids: HashMap<String, u64>,
    /// Pending posts in the order they fall due, as `(scheduleDate, seq)`, so that publishing
    /// looks only at the posts that are due.
    due: BTreeSet<(DateTime<Utc>, u64)>,
    /// Pending posts, oldest first: forgotten only when no settled post is left.
    pending: BTreeSet<u64>,
    /// Settled posts (published, failed or deleted), oldest first: forgotten first.
    settled: BTreeSet<u64>,
    profiles: HashMap<Profile, ProfileState>,
    /// The size of `profiles` at which the next sweep of idle profiles runs.
    sweep_at: usize,
    /// The most posts remembered at once, at least 1; also the most idempotency keys.
    max_posts: usize,
    /// Every `idempotencyKey` seen and not yet forgotten, per profile.
    keys: HashSet<(Profile, String)>,
    /// The same keys, oldest first: past `max_posts` of them the oldest is forgotten.
    key_order: VecDeque<(Profile, String)>,
    next_seq: u64,
    rng: StdRng,
}

impl Store {
    pub(super) fn new(rng: StdRng, max_posts: usize) -> Store {
        Store {
            posts: HashMap::new(),
            ids: HashMap::new(),
            due: BTreeSet::new(),
            pending: BTreeSet::new(),
            settled: BTreeSet::new(),
            profiles: HashMap::new(),
            sweep_at: SWEEP_MIN,
            max_posts: max_posts.max(1),
            keys: HashSet::new(),
            key_order: VecDeque::new(),
            next_seq: 0,
            rng,
        }
    }

    /// Counts one request against the profile's 5-minute window and returns the count so far.
    /// Only for requests whose API key was accepted: it may add the profile to the map.
    pub(super) fn count_request(&mut self, profile: &Profile, now: DateTime<Utc>) -> u64 {
        self.sweep_profiles(now);
        let state = self.profile_state(profile, now);
        if state.window_is_over(now) {
            state.window_start = now;
            state.window_count = 0;
        }
        state.window_count += 1;
        state.window_count
    }

    /// The profile's count in its current window without counting a request (0 if none), for
    /// refused requests: they must not add profiles to the map.
    pub(super) fn current_count(&self, profile: &Profile, now: DateTime<Utc>) -> u64 {
        self.profiles
            .get(profile)
            .filter(|state| !state.window_is_over(now))
            .map_or(0, |state| state.window_count)
    }

    fn profile_state(&mut self, profile: &Profile, now: DateTime<Utc>) -> &mut ProfileState {
        self.profiles
            .entry(profile.clone())
            .or_insert_with(|| ProfileState::new(now))
    }

    /// Forgets idle profiles once the map has doubled since the last sweep, and the oldest
    /// windows of post-less profiles beyond [`MAX_POSTLESS_PROFILES`].
    fn sweep_profiles(&mut self, now: DateTime<Utc>) {
        if self.profiles.len() < self.sweep_at {
            return;
        }
        self.profiles.retain(|_, state| !state.is_idle(now));
        let mut starts: Vec<DateTime<Utc>> = self
            .profiles
            .values()
            .filter(|state| state.posts.is_empty())
            .map(|state| state.window_start)
            .collect();
        if starts.len() > MAX_POSTLESS_PROFILES {
            let excess = starts.len() - MAX_POSTLESS_PROFILES;
            let (_, &mut cutoff, _) = starts.select_nth_unstable(excess - 1);
            self.profiles
                .retain(|_, state| !state.posts.is_empty() || state.window_start > cutoff);
        }
        self.sweep_at = (self.profiles.len() * 2).max(SWEEP_MIN);
    }

    /// Spends `key` for `profile`: `false` if the profile used it before (and the key is still
    /// remembered). Past `max_posts` remembered keys the oldest is forgotten, so a very old key
    /// may be used again: the same bound as the posts, first in, first out.
    fn claim_key(&mut self, profile: &Profile, key: &str) -> bool {
        let entry = (profile.clone(), key.to_owned());
        if self.keys.contains(&entry) {
            return false;
        }
        while self.key_order.len() >= self.max_posts {
            if let Some(oldest) = self.key_order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
        self.keys.insert(entry.clone());
        self.key_order.push_back(entry);
        true
    }

    /// Remembers a new post and publishes it at once unless it is due later. Posts already due
    /// are published first; then, at the bound, the oldest posts are forgotten to make room.
    /// A post whose `idempotencyKey` the profile used before is refused and nothing happens.
    pub(super) fn create(
        &mut self,
        profile: &Profile,
        request: PostRequest,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<&StoredPost, ApiError> {
        if let Some(key) = &request.idempotency_key {
            if !self.claim_key(profile, key) {
                return Err(ApiError::idempotency_key_used(key));
            }
        }
        self.publish_due(now);
        while self.posts.len() >= self.max_posts && self.forget_oldest() {}
        let id = self.unused_id();
        let text = request.text.unwrap_or_else(|| self.random_text());
        let due_later = request.schedule_date.filter(|due| *due > now);
        self.next_seq += 1;
        let seq = self.next_seq;
        let post = StoredPost {
            id: id.clone(),
            profile: profile.clone(),
            text,
            platforms: request.platforms,
            media_urls: request.media_urls,
            schedule_date: request.schedule_date,
            notes: request.notes,
            // Ayrshare reports creation times in whole seconds.
            created: now.trunc_subsecs(0),
            scheduled: due_later.is_some(),
            outcome,
            status: PostStatus::Pending,
            post_ids: Vec::new(),
            errors: Vec::new(),
        };
        self.posts.insert(seq, post);
        self.ids.insert(id, seq);
        self.profile_state(profile, now).posts.insert(seq);
        match due_later {
            Some(due) => {
                self.due.insert((due, seq));
                self.pending.insert(seq);
            }
            None => self.settle(seq, now),
        }
        Ok(&self.posts[&seq])
    }

    fn unused_id(&mut self) -> String {
        loop {
            let id = platforms::ayrshare_id(&mut self.rng);
            if !self.ids.contains_key(&id) {
                return id;
            }
        }
    }

    fn random_text(&mut self) -> String {
        let tag: u32 = rand::Rng::random_range(&mut self.rng, 1000..10_000);
        format!("A random post from the Ayrshare mock #{tag}")
    }

    /// Publishes every pending post whose `scheduleDate` has passed, in the order they fell due,
    /// with its creation outcome. Looks only at the due posts: O(due · log n).
    pub(super) fn publish_due(&mut self, now: DateTime<Utc>) {
        while let Some(&(due, seq)) = self.due.first() {
            if due > now {
                break;
            }
            self.due.pop_first();
            self.pending.remove(&seq);
            self.settle(seq, now);
        }
    }

    /// Publishes the pending post `seq` and files it among the settled ones.
    fn settle(&mut self, seq: u64, now: DateTime<Utc>) {
        let Some(post) = self.posts.get_mut(&seq) else {
            return;
        };
        // The profile is always there (it owns the post); `entry` merely avoids a panic path.
        let state = self
            .profiles
            .entry(post.profile.clone())
            .or_insert_with(|| ProfileState::new(now));
        publish(post, &mut self.rng, &mut state.counters);
        self.settled.insert(seq);
    }

    /// Forgets the oldest settled post, or the oldest pending one when none is settled.
    /// Returns `false` when there is nothing to forget.
    fn forget_oldest(&mut self) -> bool {
        let Some(seq) = self
            .settled
            .pop_first()
            .or_else(|| self.pending.pop_first())
        else {
            return false;
        };
        if let Some(post) = self.posts.remove(&seq) {
            if let Some(due) = post.schedule_date {
                self.due.remove(&(due, seq));
            }
            self.ids.remove(&post.id);
            if let Some(state) = self.profiles.get_mut(&post.profile) {
                state.posts.remove(&seq);
            }
        }
        true
    }

    /// The creation number of the post `id` if `profile` owns it.
    fn owned(&self, profile: &Profile, id: &str) -> Result<u64, ApiError> {
        self.ids
            .get(id)
            .copied()
            .filter(|seq| {
                self.posts
                    .get(seq)
                    .is_some_and(|post| &post.profile == profile)
            })
            .ok_or_else(|| ApiError::post_not_found(id))
    }

    /// The post `id` if `profile` owns it.
    pub(super) fn get(&self, profile: &Profile, id: &str) -> Result<&StoredPost, ApiError> {
        let seq = self.owned(profile, id)?;
        Ok(&self.posts[&seq])
    }

    /// Marks the post `id` deleted; a pending post is thereby never published.
    pub(super) fn delete(&mut self, profile: &Profile, id: &str) -> Result<(), ApiError> {
        let seq = self.owned(profile, id)?;
        let Some(post) = self.posts.get_mut(&seq) else {
            return Err(ApiError::post_not_found(id));
        };
        if post.status == PostStatus::Pending {
            if let Some(due) = post.schedule_date {
                self.due.remove(&(due, seq));
            }
            self.pending.remove(&seq);
            self.settled.insert(seq);
        }
        post.status = PostStatus::Deleted;
        Ok(())
    }

    /// The profile's posts, newest first: all but deleted ones, or only those with `status`.
    pub(super) fn history(
        &self,
        profile: &Profile,
        status: Option<&str>,
        limit: usize,
    ) -> Vec<&StoredPost> {
        let Some(state) = self.profiles.get(profile) else {
            return Vec::new();
        };
        state
            .posts
            .iter()
            .rev()
            .filter_map(|seq| self.posts.get(seq))
            .filter(|post| match status {
                Some(wanted) => post.status.as_str() == wanted,
                None => post.status != PostStatus::Deleted,
            })
            .take(limit)
            .collect()
    }

    /// How many profiles the mock remembers (posts, counters or a rate window).
    #[cfg(test)]
    pub(super) fn profile_count(&self) -> usize {
        self.profiles.len()
    }

    /// How many idempotency keys the mock remembers.
    #[cfg(test)]
    pub(super) fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// How many posts the mock remembers, and how many of them wait in the due index.
    #[cfg(test)]
    pub(super) fn post_counts(&self) -> (usize, usize) {
        (self.posts.len(), self.due.len())
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
