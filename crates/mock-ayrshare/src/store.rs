//! The mock's memory: remembered posts per profile, their publication and eviction, idempotency
//! keys, profile settings and rate-limit counters.

use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;

use super::accounts::{Accounts, SocialEvent};
use super::comments::Comments;
use super::faults::Fault;
use super::linking::Links;
use super::platforms::Platform;
use super::platforms::{self, Counters};
use super::post::{PostStatus, StoredPost};
use super::profile::{Profile, ProfileSettings};
use super::reply::ApiError;
use super::reply::{
    CODE_ALREADY_DELETED, CODE_ALREADY_RETRIED, CODE_CANNOT_DELETE, CODE_NOT_RETRYABLE,
    CODE_NOT_UPDATABLE, CODE_STILL_ON_NETWORK,
};
use super::scenario::Outcome;
use super::validate::{PostRequest, PostUpdate};
use super::webhook::WebhookTarget;

/// Where the mock reads the time; tests swap it for a clock they can move.
pub(super) type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The length of Ayrshare's rate-limit window.
pub(super) const RATE_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// How far ahead the `scheduled` and `paused` scenarios schedule a post without `scheduleDate`.
pub(super) const DEFAULT_SCHEDULE_DELAY: TimeDelta = TimeDelta::hours(1);

/// How long a post sent again with `PUT /api/post/retry` stays `pending` (on the mock's clock).
pub(super) const RETRY_DELAY: TimeDelta = TimeDelta::seconds(5);

/// The webhook actions the mock delivers.
pub(super) const HOOK_ACTIONS: [&str; 2] = ["scheduled", "social"];

/// The most profiles with settings (`PUT /mock/profiles/{key}`) remembered at once.
pub(super) const MAX_PROFILE_SETTINGS: usize = 10_000;

/// What keeps a new post from being published as soon as it is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Hold {
    /// Nothing: published at once, or at its `scheduleDate`.
    None,
    /// Waits for `approved: true` (`requiresApproval`).
    Approval,
    /// Scheduled and paused (`scheduledPause`).
    Paused,
    /// Published this long after it was due, reading `processing` meanwhile (TikTok).
    Processing(TimeDelta),
}

/// A post published outside the request that created it (scheduled, approved, processed): the
/// event a `scheduled` webhook reports.
#[derive(Clone, Debug)]
pub(super) struct Published {
    pub(super) post: StoredPost,
    /// Whether it went through `processing` (TikTok's asynchronous publishing).
    pub(super) after_processing: bool,
}

/// Whether a publication goes in the outbox for the webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Announce {
    /// Published during the request that created it: its answer tells, no webhook.
    No,
    /// Published later (scheduled, approved): a `scheduled` webhook.
    Yes,
    /// Published after `processing` (TikTok): a `scheduled` webhook with a `subAction`.
    AfterProcessing,
}

/// The text of a `randomPost`.
pub(super) fn random_text(rng: &mut impl rand::Rng) -> String {
    let tag: u32 = rng.random_range(1000..10_000);
    format!("A random post from the Ayrshare mock #{tag}")
}

/// A post as `create` would answer it, remembered nowhere (`--forget`): published at once
/// unless it is due later or held, and then never published.
pub(super) fn unremembered(
    profile: &Profile,
    request: PostRequest,
    outcome: Outcome,
    hold: Hold,
    now: DateTime<Utc>,
) -> StoredPost {
    let mut rng = rand::rng();
    let id = platforms::ayrshare_id(&mut rng);
    let text = request
        .text
        .clone()
        .unwrap_or_else(|| random_text(&mut rng));
    let mut post = StoredPost::new(id, text, profile, request, outcome, hold, now);
    let due_later = post.schedule_date.is_some_and(|due| due > now);
    match hold {
        Hold::Approval => post.status = PostStatus::AwaitingApproval,
        Hold::Paused => post.status = PostStatus::Paused,
        Hold::Processing(_) if !due_later => post.status = PostStatus::Processing,
        Hold::Processing(_) | Hold::None if due_later => {}
        Hold::Processing(_) | Hold::None => {
            post.publish(&mut rng, &mut Counters::default(), now, &[]);
        }
    }
    post
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

/// A profile's request count in its current rate window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RateCount {
    pub(super) count: u64,
    /// When the window ends and the count starts again from 1.
    pub(super) window_end: DateTime<Utc>,
}

/// Everything the mock remembers; lost when the process ends.
///
/// Posts are keyed by their creation number (`seq`); every index below refers to them by it.
pub(super) struct Store {
    /// Every remembered post, by creation number.
    posts: HashMap<u64, StoredPost>,
    /// The creation number of every remembered post, by Ayrshare id.
    ids: HashMap<String, u64>,
    /// Pending and processing posts in the order they fall due, as `(due_at, seq)`, so that
    /// publishing looks only at the posts that are due.
    due: BTreeSet<(DateTime<Utc>, u64)>,
    /// Unsettled posts (pending, paused, awaiting approval, processing), oldest first:
    /// forgotten only when no settled post is left.
    pending: BTreeSet<u64>,
    /// Settled posts (published, failed or deleted), oldest first: forgotten first.
    settled: BTreeSet<u64>,
    /// How long a pending post that was created with the `processing` scenario processes once due.
    processing: HashMap<u64, TimeDelta>,
    profiles: HashMap<Profile, ProfileState>,
    /// The size of `profiles` at which the next sweep of idle profiles runs.
    sweep_at: usize,
    /// The most posts remembered at once, at least 1; also the most idempotency keys.
    max_posts: usize,
    /// Every `idempotencyKey` seen and not yet forgotten, per profile.
    keys: HashSet<(Profile, String)>,
    /// The same keys, oldest first: past `max_posts` of them the oldest is forgotten.
    key_order: VecDeque<(Profile, String)>,
    /// What `PUT /mock/profiles/{key}` set, by profile.
    settings: HashMap<Profile, ProfileSettings>,
    /// Webhooks registered with `POST /api/hook/webhook`, by profile and action.
    hooks: HashMap<(Profile, &'static str), WebhookTarget>,
    /// Posts published outside their creating request, not yet handed to the webhook sender.
    outbox: Vec<Published>,
    /// Links and unlinks not yet handed to the webhook sender.
    social_outbox: Vec<SocialEvent>,
    /// Created profiles, linked accounts and faults.
    pub(super) accounts: Accounts,
    /// Comments on the remembered posts.
    pub(super) comments: Comments,
    /// The linking pages handed out by `generateJWT`.
    pub(super) links: Links,
    next_seq: u64,
    rng: StdRng,
}

impl Store {
    pub(super) fn new(rng: StdRng, max_posts: usize, now: DateTime<Utc>) -> Store {
        Store {
            posts: HashMap::new(),
            ids: HashMap::new(),
            due: BTreeSet::new(),
            pending: BTreeSet::new(),
            settled: BTreeSet::new(),
            processing: HashMap::new(),
            profiles: HashMap::new(),
            sweep_at: SWEEP_MIN,
            max_posts: max_posts.max(1),
            keys: HashSet::new(),
            key_order: VecDeque::new(),
            settings: HashMap::new(),
            hooks: HashMap::new(),
            outbox: Vec::new(),
            social_outbox: Vec::new(),
            accounts: Accounts::new(now),
            comments: Comments::default(),
            links: Links::default(),
            next_seq: 0,
            rng,
        }
    }

    // ---- rate limits ----

    /// Counts one request against the profile's 5-minute window and returns the count so far.
    /// Only for requests whose API key was accepted: it may add the profile to the map.
    pub(super) fn count_request(&mut self, profile: &Profile, now: DateTime<Utc>) -> RateCount {
        self.sweep_profiles(now);
        let state = self.profile_state(profile, now);
        if state.window_is_over(now) {
            state.window_start = now;
            state.window_count = 0;
        }
        state.window_count += 1;
        RateCount {
            count: state.window_count,
            window_end: state.window_start + RATE_WINDOW,
        }
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

    // ---- profile settings ----

    /// The settings of `profile` (defaults if none were set).
    pub(super) fn settings(&self, profile: &Profile) -> ProfileSettings {
        self.settings.get(profile).cloned().unwrap_or_default()
    }

    /// The `profileTitle` of `profile`: set with `PUT /mock/profiles/{key}`, else the title it
    /// was created with, else its default.
    pub(super) fn title(&self, profile: &Profile) -> String {
        self.settings
            .get(profile)
            .and_then(|settings| settings.title.clone())
            .or_else(|| self.accounts.registered_title(profile).map(str::to_owned))
            .unwrap_or_else(|| profile.default_title())
    }

    /// Replaces the settings of `profile`; refused when [`MAX_PROFILE_SETTINGS`] other
    /// profiles already have some.
    pub(super) fn set_settings(
        &mut self,
        profile: &Profile,
        settings: ProfileSettings,
    ) -> Result<(), ApiError> {
        if settings == ProfileSettings::default() {
            self.settings.remove(profile);
            return Ok(());
        }
        if !self.settings.contains_key(profile) && self.settings.len() >= MAX_PROFILE_SETTINGS {
            return Err(ApiError::mock(format!(
                "too many profiles with settings (at most {MAX_PROFILE_SETTINGS}): reset some \
                 with PUT /mock/profiles/{{profile_key}} and {{}}"
            )));
        }
        self.settings.insert(profile.clone(), settings);
        Ok(())
    }

    // ---- webhooks ----

    /// Registers the `action` webhook of `profile`, replacing any earlier one; refused when
    /// [`MAX_PROFILE_SETTINGS`] other profiles already have one.
    pub(super) fn set_hook(
        &mut self,
        profile: &Profile,
        action: &'static str,
        target: WebhookTarget,
    ) -> Result<(), ApiError> {
        let key = (profile.clone(), action);
        if !self.hooks.contains_key(&key) && self.hooks.len() >= MAX_PROFILE_SETTINGS {
            return Err(ApiError::mock(format!(
                "too many profiles with a webhook (at most {MAX_PROFILE_SETTINGS}): unregister some"
            )));
        }
        self.hooks.insert(key, target);
        Ok(())
    }

    /// Unregisters the `action` webhook of `profile`; `false` if it had none.
    pub(super) fn remove_hook(&mut self, profile: &Profile, action: &'static str) -> bool {
        self.hooks.remove(&(profile.clone(), action)).is_some()
    }

    /// The `action` webhook registered by `profile` itself.
    pub(super) fn hook(&self, profile: &Profile, action: &'static str) -> Option<&WebhookTarget> {
        self.hooks.get(&(profile.clone(), action))
    }

    /// Where the `action` events of `profile` go: its own webhook, else the Primary Profile's.
    pub(super) fn hook_for(
        &self,
        profile: &Profile,
        action: &'static str,
    ) -> Option<&WebhookTarget> {
        self.hook(profile, action)
            .or_else(|| self.hook(&Profile::default(), action))
    }

    /// A fresh id for one webhook event (the same across its retries).
    pub(super) fn new_hook_id(&mut self) -> String {
        platforms::ayrshare_id(&mut self.rng)
    }

    // ---- idempotency keys ----

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

    // ---- posts ----

    /// Remembers a new post and publishes it at once unless it is due later or held. Posts
    /// already due are published first; then, at the bound, the oldest posts are forgotten to
    /// make room. A post whose `idempotencyKey` the profile used before is refused and nothing
    /// happens.
    pub(super) fn create(
        &mut self,
        profile: &Profile,
        request: PostRequest,
        outcome: Outcome,
        hold: Hold,
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
        let text = request
            .text
            .clone()
            .unwrap_or_else(|| random_text(&mut self.rng));
        let post = StoredPost::new(id.clone(), text, profile, request, outcome, hold, now);
        let due_later = post.schedule_date.filter(|due| *due > now);
        self.next_seq += 1;
        let seq = self.next_seq;
        self.posts.insert(seq, post);
        self.ids.insert(id, seq);
        self.profile_state(profile, now).posts.insert(seq);
        self.pending.insert(seq);
        match (hold, due_later) {
            (Hold::Approval, _) => self.set_status(seq, PostStatus::AwaitingApproval),
            (Hold::Paused, _) => self.set_status(seq, PostStatus::Paused),
            (Hold::Processing(delay), Some(due)) => {
                self.processing.insert(seq, delay);
                self.make_due(seq, due);
            }
            (Hold::Processing(delay), None) => self.start_processing(seq, delay, now),
            (Hold::None, Some(due)) => self.make_due(seq, due),
            (Hold::None, None) => self.settle(seq, now, Announce::No),
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

    /// Sets the status of an unsettled post, taking it out of the due index.
    fn set_status(&mut self, seq: u64, status: PostStatus) {
        if let Some(post) = self.posts.get_mut(&seq) {
            if let Some(due) = post.due_at.take() {
                self.due.remove(&(due, seq));
            }
            post.status = status;
        }
    }

    /// Makes the post `seq` pending, due at `due`.
    fn make_due(&mut self, seq: u64, due: DateTime<Utc>) {
        self.set_status(seq, PostStatus::Pending);
        if let Some(post) = self.posts.get_mut(&seq) {
            post.due_at = Some(due);
            self.due.insert((due, seq));
        }
    }

    /// Makes the post `seq` read `processing` until `delay` from now, when it is published.
    fn start_processing(&mut self, seq: u64, delay: TimeDelta, now: DateTime<Utc>) {
        self.set_status(seq, PostStatus::Processing);
        if let Some(post) = self.posts.get_mut(&seq) {
            let done = now + delay;
            post.due_at = Some(done);
            self.due.insert((done, seq));
        }
    }

    /// Publishes every post that is due, in the order they fell due, with its creation outcome;
    /// a post created under `processing` reads `processing` for its delay first. Looks only at
    /// the due posts: O(due · log n).
    pub(super) fn publish_due(&mut self, now: DateTime<Utc>) {
        while let Some(&(due, seq)) = self.due.first() {
            if due > now {
                break;
            }
            let processing_delay = self.processing.remove(&seq);
            let status = self.posts.get(&seq).map(|post| post.status);
            match (status, processing_delay) {
                (Some(PostStatus::Pending), Some(delay)) => self.start_processing(seq, delay, due),
                (Some(PostStatus::Processing), _) => {
                    self.settle(seq, now, Announce::AfterProcessing);
                }
                _ => self.settle(seq, now, Announce::Yes),
            }
        }
    }

    /// The earliest time a remembered post falls due, for the publishing timer.
    pub(super) fn next_due(&self) -> Option<DateTime<Utc>> {
        self.due.first().map(|&(due, _)| due)
    }

    /// Publishes the unsettled post `seq`, files it among the settled ones and, when that
    /// happens outside its creating request, puts it in the outbox for the webhooks.
    fn settle(&mut self, seq: u64, now: DateTime<Utc>, announce: Announce) {
        let Some(post) = self.posts.get_mut(&seq) else {
            return;
        };
        if let Some(due) = post.due_at.take() {
            self.due.remove(&(due, seq));
        }
        self.processing.remove(&seq);
        let blocked: Vec<(Platform, Value)> = post
            .platforms
            .iter()
            .filter_map(|&platform| {
                let fault = self.accounts.block(&post.profile, platform)?;
                Some((platform, fault.error_entry("post", platform)))
            })
            .collect();
        // The profile is always there (it owns the post); `entry` merely avoids a panic path.
        let state = self
            .profiles
            .entry(post.profile.clone())
            .or_insert_with(|| ProfileState::new(now));
        post.publish(&mut self.rng, &mut state.counters, now, &blocked);
        if announce != Announce::No {
            self.outbox.push(Published {
                post: post.clone(),
                after_processing: announce == Announce::AfterProcessing,
            });
        }
        self.pending.remove(&seq);
        self.settled.insert(seq);
    }

    /// Takes the posts published outside their creating request since the last call.
    pub(super) fn take_published(&mut self) -> Vec<Published> {
        std::mem::take(&mut self.outbox)
    }

    /// The ids of the posts published outside their creating request since the last
    /// [`Store::take_published`].
    pub(super) fn published_ids(&self) -> Vec<String> {
        self.outbox.iter().map(|p| p.post.id.clone()).collect()
    }

    /// Queues a link or unlink for the `social` webhook.
    pub(super) fn announce_social(&mut self, event: SocialEvent) {
        self.social_outbox.push(event);
    }

    /// Takes the links and unlinks since the last call.
    pub(super) fn take_social(&mut self) -> Vec<SocialEvent> {
        std::mem::take(&mut self.social_outbox)
    }

    /// The fault that refuses a whole request of `profile` acting on `platforms`: a suspended
    /// profile, or a suspended account on one of them.
    pub(super) fn suspension(&self, profile: &Profile, platforms: &[Platform]) -> Option<ApiError> {
        if self.accounts.suspended(profile) {
            return Some(Fault::suspended(None));
        }
        platforms
            .iter()
            .find(|&&platform| self.accounts.block(profile, platform) == Some(Fault::Suspended))
            .map(|&platform| Fault::suspended(Some(platform)))
    }

    /// `PUT /api/post/retry`: sends a failed post again, once. It reads `pending` for
    /// [`RETRY_DELAY`], then the networks that failed are tried again (those that succeeded keep
    /// their result) and the `scheduled` webhook reports the outcome.
    pub(super) fn retry(
        &mut self,
        profile: &Profile,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<&StoredPost, ApiError> {
        let seq = self.owned(profile, id)?;
        let post = &self.posts[&seq];
        if post.status != PostStatus::Error {
            return Err(ApiError::refused(
                "retry",
                CODE_NOT_RETRYABLE,
                format!(
                    "Post cannot be retried: only a post whose status is \"error\" can be. This post is {:?}.",
                    post.status.as_str()
                ),
            ));
        }
        if post.retried {
            return Err(ApiError::refused(
                "retry",
                CODE_ALREADY_RETRIED,
                "Post already retried: a post can be retried only once.",
            ));
        }
        if let Some(post) = self.posts.get_mut(&seq) {
            post.retried = true;
            post.retrying = true;
            post.outcome = Outcome::Success;
        }
        self.settled.remove(&seq);
        self.pending.insert(seq);
        self.make_due(seq, now + RETRY_DELAY);
        Ok(&self.posts[&seq])
    }

    /// Forgets everything about `profile`: its posts (and their comments), idempotency keys,
    /// rate window, settings, webhooks, creation, links, faults and linking pages.
    pub(super) fn forget_profile(&mut self, profile: &Profile) {
        let seqs: Vec<u64> = self
            .profiles
            .get(profile)
            .map(|state| state.posts.iter().copied().collect())
            .unwrap_or_default();
        for seq in seqs {
            self.pending.remove(&seq);
            self.settled.remove(&seq);
            self.forget(seq);
        }
        self.profiles.remove(profile);
        self.keys.retain(|(owner, _)| owner != profile);
        self.key_order.retain(|(owner, _)| owner != profile);
        self.settings.remove(profile);
        self.hooks.retain(|(owner, _), _| owner != profile);
        self.accounts.forget(profile);
        self.links.forget(profile);
        self.outbox
            .retain(|published| &published.post.profile != profile);
        self.social_outbox.retain(|event| &event.profile != profile);
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
        self.forget(seq);
        true
    }

    /// Forgets the post `seq` (already out of `settled` and `pending`) and its comments.
    fn forget(&mut self, seq: u64) {
        if let Some(post) = self.posts.remove(&seq) {
            if let Some(due) = post.due_at {
                self.due.remove(&(due, seq));
            }
            self.ids.remove(&post.id);
            self.comments.forget_post(&post.id);
            if let Some(state) = self.profiles.get_mut(&post.profile) {
                state.posts.remove(&seq);
            }
        }
        self.processing.remove(&seq);
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

    /// The comments, the accounts and the random source, for the comment routes.
    pub(super) fn comment_parts(&mut self) -> (&mut Comments, &Accounts, &mut StdRng) {
        (&mut self.comments, &self.accounts, &mut self.rng)
    }

    /// The random source, for ids made outside the store.
    pub(super) fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// The post `id` if `profile` owns it.
    pub(super) fn get(&self, profile: &Profile, id: &str) -> Result<&StoredPost, ApiError> {
        let seq = self.owned(profile, id)?;
        Ok(&self.posts[&seq])
    }

    /// Marks the post `id` deleted, whatever its state (the `deleted` scenario).
    pub(super) fn delete(&mut self, profile: &Profile, id: &str) -> Result<(), ApiError> {
        let seq = self.owned(profile, id)?;
        self.mark_deleted(seq);
        Ok(())
    }

    /// `DELETE /api/post` of one post: an unsettled post is cancelled (never published), a
    /// published one deleted from its networks, or only marked deleted with `manual`. Refused,
    /// changing nothing, when it is already deleted, when a network cannot delete it
    /// (Instagram, TikTok), or when `manual` is sent while it still exists on a network that can.
    /// Returns the answer.
    pub(super) fn delete_post(
        &mut self,
        profile: &Profile,
        id: &str,
        manual: bool,
    ) -> Result<Value, ApiError> {
        let seq = self.owned(profile, id)?;
        let post = &self.posts[&seq];
        if post.status == PostStatus::Deleted {
            return Err(ApiError::refused(
                "delete",
                CODE_ALREADY_DELETED,
                "Post already deleted.",
            ));
        }
        let published: Vec<(Platform, Value)> = post
            .platforms
            .iter()
            .filter_map(|&platform| post.native_id(platform).map(|id| (platform, id.clone())))
            .collect();
        let mut answer = json!({"status": "success", "id": id});
        if manual {
            if let Some((platform, _)) = published.iter().find(|(p, _)| p.can_delete_published()) {
                return Err(ApiError::refused(
                    "delete",
                    CODE_STILL_ON_NETWORK,
                    format!(
                        "The post still exists on {}: markManualDeleted is only for a post \
                         already deleted by hand on its network. Delete it without \
                         markManualDeleted.",
                        platform.display_name()
                    ),
                ));
            }
            answer["markManualDeleted"] = json!(true);
        } else {
            let undeletable: Vec<&(Platform, Value)> = published
                .iter()
                .filter(|(platform, _)| !platform.can_delete_published())
                .collect();
            if let Some((first, _)) = undeletable.first() {
                let message = format!(
                    "{} does not allow deleting a published post through its API. Delete it \
                     in the {} app, then send markManualDeleted: true.",
                    first.display_name(),
                    first.display_name()
                );
                let mut error = ApiError::refused("delete", CODE_CANNOT_DELETE, message);
                for (platform, native) in undeletable {
                    let entry = json!({
                        "action": "delete",
                        "status": "error",
                        "code": CODE_CANNOT_DELETE,
                        "id": native,
                        "message": format!(
                            "{} does not allow deleting a published post through its API.",
                            platform.display_name()
                        ),
                    });
                    error = error.with(platform.name(), entry);
                }
                return Err(error);
            }
            for (platform, native) in &published {
                answer[platform.name()] =
                    json!({"action": "delete", "status": "success", "id": native});
            }
        }
        self.mark_deleted(seq);
        Ok(answer)
    }

    /// `PATCH /api/post`: changes a post that is still pending, paused or awaiting approval.
    /// A `scheduleDate` in the past (or an approval without a future date) publishes it at once.
    pub(super) fn update(
        &mut self,
        profile: &Profile,
        id: &str,
        update: PostUpdate,
        now: DateTime<Utc>,
    ) -> Result<&StoredPost, ApiError> {
        let seq = self.owned(profile, id)?;
        let post = &self.posts[&seq];
        let status = post.status;
        let updatable = matches!(
            status,
            PostStatus::Pending | PostStatus::Paused | PostStatus::AwaitingApproval
        );
        if !updatable {
            return Err(ApiError::refused(
                "update",
                CODE_NOT_UPDATABLE,
                format!(
                    "Post cannot be updated: only a scheduled post that has not been sent yet, \
                     or a post awaiting approval, can be updated. This post is {:?}.",
                    status.as_str()
                ),
            ));
        }
        if update.scheduled_pause.is_some() && status == PostStatus::AwaitingApproval {
            return Err(ApiError::refused(
                "update",
                CODE_NOT_UPDATABLE,
                "Post cannot be paused: only a scheduled post can be paused; this one is awaiting approval.",
            ));
        }
        if let Some(post) = self.posts.get_mut(&seq) {
            if let Some(notes) = update.notes {
                post.notes = Some(notes);
            }
            post.shown.extend(update.shown);
            if let Some(date) = update.schedule_date {
                post.schedule_date = Some(date);
                post.scheduled = post.scheduled || date > now;
            }
        }
        let schedule_date = self.posts[&seq].schedule_date;
        let release = match status {
            PostStatus::AwaitingApproval => update.approved == Some(true),
            PostStatus::Paused => update.scheduled_pause == Some(false),
            _ => update.scheduled_pause != Some(true),
        };
        if !release {
            if status == PostStatus::Pending {
                self.set_status(seq, PostStatus::Paused);
            }
            return Ok(&self.posts[&seq]);
        }
        match schedule_date.filter(|due| *due > now) {
            Some(due) => self.make_due(seq, due),
            None => match self.processing.remove(&seq) {
                Some(delay) => self.start_processing(seq, delay, now),
                None => self.settle(seq, now, Announce::Yes),
            },
        }
        Ok(&self.posts[&seq])
    }

    fn mark_deleted(&mut self, seq: u64) {
        let Some(post) = self.posts.get(&seq) else {
            return;
        };
        if !post.status.is_settled() {
            self.pending.remove(&seq);
            self.settled.insert(seq);
            self.processing.remove(&seq);
        }
        self.set_status(seq, PostStatus::Deleted);
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

    /// The profile's posts (as [`Store::history`]) whose publish date (`scheduleDate`, else
    /// `created`) lies from `from` to `until` (both included, either open), newest publish date
    /// first, then newest created.
    pub(super) fn history_between(
        &self,
        profile: &Profile,
        status: Option<&str>,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Vec<&StoredPost> {
        let mut posts = self.history(profile, status, usize::MAX);
        posts.retain(|post| {
            let date = post.publish_date();
            from.is_none_or(|from| from <= date) && until.is_none_or(|until| date <= until)
        });
        // Stable: posts of one date stay newest created first.
        posts.sort_by_key(|post| std::cmp::Reverse(post.publish_date()));
        posts.truncate(limit);
        posts
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
