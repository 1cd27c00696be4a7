//! Background work's share of each profile's Ayrshare rate limit, so that users' own requests
//! come first. Ayrshare allows each profile about 300 calls per 5 minutes, all callers together;
//! the reconciler (the only background caller) may use a share of that:
//!
//! - on this replica, at most `percent` of the profile's limit in any window (the limit Ayrshare
//!   last reported in `x-ratelimit-max`, else its documented 300), at least one call;
//! - on any replica, no call while Ayrshare's latest answer for the profile (to anyone's request,
//!   seen within the window) shows half of the window used or more: the other half is left to
//!   users, however many replicas run.
//!
//! Per replica and in memory, keyed like the hold-off by a hash of the profile key; entries are
//! dropped once nothing in them is recent, so memory is bounded by the profiles in use.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use secrecy::SecretString;
use tokio::time::Instant;

use super::hold_off::{Profile, header_number};

/// Ayrshare's documented limit per profile and window, used until it reports its own.
pub const ASSUMED_PROFILE_LIMIT: u64 = 300;

/// The default share of a profile's limit background work may use on one replica, in percent.
pub const DEFAULT_SHARE_PERCENT: u32 = 20;

/// The largest share that can be configured: never the whole limit.
pub const MAX_SHARE_PERCENT: u32 = 50;

/// Background work makes no call for a profile whose reported use is at this percentage of its
/// limit or above.
pub const STOP_AT_USED_PERCENT: u64 = 50;

/// The most background calls one profile's allowance can reach, whatever a header says.
const MAX_ALLOWANCE: u64 = 10_000;

/// Past this many profiles, entries with nothing recent are swept (and, if all are recent, the
/// one seen longest ago is dropped).
const MAX_ENTRIES: usize = 10_000;

/// What is known of one profile's use of its window.
#[derive(Debug, Default)]
struct Usage {
    /// This replica's background calls for the profile within the last window, oldest first.
    calls: VecDeque<Instant>,
    /// The profile's limit per window, as Ayrshare last reported it.
    limit: Option<u64>,
    /// The calls Ayrshare last reported as used in the current window, and when.
    used: Option<(u64, Instant)>,
}

impl Usage {
    fn last_seen(&self) -> Option<Instant> {
        let call = self.calls.back().copied();
        let used = self.used.map(|(_, at)| at);
        call.max(used)
    }
}

/// The share, for all profiles.
#[derive(Debug)]
pub struct BackgroundShare {
    percent: u32,
    window: Duration,
    profiles: Mutex<HashMap<Profile, Usage>>,
}

impl BackgroundShare {
    /// `percent` (clamped to 1 to [`MAX_SHARE_PERCENT`]) of each profile's limit per `window`.
    pub fn new(percent: u32, window: Duration) -> BackgroundShare {
        BackgroundShare {
            percent: percent.clamp(1, MAX_SHARE_PERCENT),
            window: window.max(Duration::from_secs(1)),
            profiles: Mutex::new(HashMap::new()),
        }
    }

    /// The most background calls for a profile whose limit is `limit` (unknown: Ayrshare's
    /// documented one) in any window on this replica: at least one.
    pub fn allowance(&self, limit: Option<u64>) -> u64 {
        let limit = limit.unwrap_or(ASSUMED_PROFILE_LIMIT);
        (limit.saturating_mul(u64::from(self.percent)) / 100).clamp(1, MAX_ALLOWANCE)
    }

    /// Whether background work may make `calls` more calls for the profile now (fewer if the
    /// allowance is smaller), or how long to wait until it may.
    pub fn room(&self, profile_key: Option<&SecretString>, calls: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let mut profiles = self.lock();
        let Some(usage) = profiles.get_mut(&Profile::of(profile_key)) else {
            return Ok(());
        };
        self.forget_old(usage, now);
        let limit = usage.limit.unwrap_or(ASSUMED_PROFILE_LIMIT);
        if let Some((used, at)) = usage.used {
            if used.saturating_mul(100) >= limit.saturating_mul(STOP_AT_USED_PERCENT) {
                // Until the report is a window old; a newer answer may show room sooner, but the
                // record waits for its next check anyway.
                return Err(self
                    .window
                    .saturating_sub(now - at)
                    .max(Duration::from_secs(1)));
            }
        }
        let allowance = self.allowance(usage.limit);
        let wanted = u64::from(calls).clamp(1, allowance);
        let made = usage.calls.len() as u64;
        if made + wanted <= allowance {
            return Ok(());
        }
        // Wait until enough of this replica's calls have left the window.
        let leaving = usize::try_from(made + wanted - allowance - 1).unwrap_or(usize::MAX);
        let until = usage.calls.get(leaving).map_or(now, |at| *at + self.window);
        Err(until
            .saturating_duration_since(now)
            .max(Duration::from_secs(1)))
    }

    /// Counts one background call for the profile, made now.
    pub fn spend(&self, profile_key: Option<&SecretString>) {
        let now = Instant::now();
        let mut profiles = self.lock();
        let usage = profiles.entry(Profile::of(profile_key)).or_default();
        self.forget_old(usage, now);
        usage.calls.push_back(now);
        while usage.calls.len() as u64 > MAX_ALLOWANCE {
            usage.calls.pop_front();
        }
        self.bound(&mut profiles, now);
    }

    /// Learns the profile's use of its window from one of Ayrshare's answers (to any request):
    /// `x-ratelimit-max` with `x-ratelimit-count` (or `x-ratelimit-remaining`).
    pub fn observe(&self, profile_key: Option<&SecretString>, headers: &HeaderMap) {
        let limit = header_number(headers, "x-ratelimit-max").filter(|max| *max > 0);
        let used = header_number(headers, "x-ratelimit-count").or_else(|| {
            let remaining = header_number(headers, "x-ratelimit-remaining")?;
            Some(limit?.saturating_sub(remaining))
        });
        if limit.is_none() && used.is_none() {
            return;
        }
        let now = Instant::now();
        let mut profiles = self.lock();
        let usage = profiles.entry(Profile::of(profile_key)).or_default();
        if limit.is_some() {
            usage.limit = limit;
        }
        if let Some(used) = used {
            usage.used = Some((used, now));
        }
        self.bound(&mut profiles, now);
    }

    /// The number of profiles in the map.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no profile is in the map.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops what is older than a window: calls that no longer count, a report that may be of
    /// a window gone by.
    fn forget_old(&self, usage: &mut Usage, now: Instant) {
        while usage
            .calls
            .front()
            .is_some_and(|at| now - *at >= self.window)
        {
            usage.calls.pop_front();
        }
        if usage.used.is_some_and(|(_, at)| now - at >= self.window) {
            usage.used = None;
        }
    }

    fn bound(&self, profiles: &mut HashMap<Profile, Usage>, now: Instant) {
        if profiles.len() <= MAX_ENTRIES {
            return;
        }
        profiles.retain(|_, usage| {
            usage
                .last_seen()
                .is_some_and(|seen| now - seen < self.window)
        });
        while profiles.len() > MAX_ENTRIES {
            let Some(oldest) = profiles
                .iter()
                .min_by_key(|(_, usage)| usage.last_seen())
                .map(|(p, _)| *p)
            else {
                break;
            };
            profiles.remove(&oldest);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Profile, Usage>> {
        // The map holds no invariant a panicking holder could break: carry on with it.
        self.profiles.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    const WINDOW: Duration = Duration::from_secs(300);

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// Spends calls while there is room; how many it could.
    fn spend_all(share: &BackgroundShare, key: Option<&SecretString>) -> u32 {
        let mut made = 0;
        while share.room(key, 1).is_ok() {
            share.spend(key);
            made += 1;
            assert!(made <= 1_000, "no bound");
        }
        made
    }

    #[test]
    fn the_allowance_is_the_share_of_the_limit_and_at_least_one_call() {
        let share = BackgroundShare::new(20, WINDOW);
        assert_eq!(share.allowance(None), 60);
        assert_eq!(share.allowance(Some(150)), 30);
        assert_eq!(share.allowance(Some(3)), 1);
        assert_eq!(share.allowance(Some(u64::MAX)), MAX_ALLOWANCE);
        // Never more than half, never nothing.
        assert_eq!(BackgroundShare::new(100, WINDOW).allowance(None), 150);
        assert_eq!(BackgroundShare::new(0, WINDOW).allowance(None), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_profile_gets_its_share_per_window_and_others_theirs() {
        let share = BackgroundShare::new(20, WINDOW);
        let a = SecretString::from("PROFILE-A");
        assert_eq!(spend_all(&share, Some(&a)), 60);
        assert_eq!(
            spend_all(&share, None),
            60,
            "the primary profile has its own"
        );
        let wait = share.room(Some(&a), 1).unwrap_err();
        assert_eq!(wait, WINDOW);
        tokio::time::advance(Duration::from_secs(299)).await;
        assert!(share.room(Some(&a), 1).is_err());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(spend_all(&share, Some(&a)), 60);
    }

    #[tokio::test(start_paused = true)]
    async fn room_for_several_calls_waits_until_that_many_left_the_window() {
        let share = BackgroundShare::new(20, WINDOW);
        share.observe(None, &headers(&[("x-ratelimit-max", "50")]));
        // Allowance 10: spend 8, one a second.
        for _ in 0..8 {
            share.spend(None);
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert!(share.room(None, 2).is_ok());
        // Five more than the 2 left: the third-oldest call must leave first.
        assert_eq!(share.room(None, 5), Err(WINDOW - Duration::from_secs(6)));
        // A request larger than the allowance asks for the whole allowance.
        assert_eq!(share.room(None, 100), Err(WINDOW - Duration::from_secs(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_reported_limit_scales_the_share_and_half_a_window_used_stops_it() {
        let share = BackgroundShare::new(20, WINDOW);
        share.observe(
            None,
            &headers(&[("x-ratelimit-max", "30"), ("x-ratelimit-count", "3")]),
        );
        assert_eq!(spend_all(&share, None), 6);

        // Someone else's requests used half the window: none for background work, on any
        // replica that saw it.
        let other = BackgroundShare::new(20, WINDOW);
        other.observe(
            None,
            &headers(&[("x-ratelimit-max", "30"), ("x-ratelimit-count", "15")]),
        );
        assert_eq!(other.room(None, 1), Err(WINDOW));
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(other.room(None, 1), Err(Duration::from_secs(200)));
        // A newer answer with room left lets it go again.
        other.observe(
            None,
            &headers(&[("x-ratelimit-max", "30"), ("x-ratelimit-count", "2")]),
        );
        assert!(other.room(None, 1).is_ok());
        // `remaining` tells the same.
        other.observe(
            None,
            &headers(&[("x-ratelimit-max", "30"), ("x-ratelimit-remaining", "10")]),
        );
        assert!(other.room(None, 1).is_err());
        // A report a window old says nothing any more.
        tokio::time::advance(WINDOW).await;
        assert!(other.room(None, 1).is_ok());
    }

    #[test]
    fn answers_without_rate_headers_leave_nothing_behind() {
        let share = BackgroundShare::new(20, WINDOW);
        share.observe(Some(&SecretString::from("P")), &HeaderMap::new());
        share.observe(None, &headers(&[("x-ratelimit-max", "lots")]));
        assert!(share.is_empty());
        share.observe(None, &headers(&[("x-ratelimit-count", "1")]));
        assert_eq!(share.len(), 1);
        assert!(!share.is_empty());
    }

    #[test]
    fn a_limit_of_zero_is_no_limit_reported() {
        let share = BackgroundShare::new(20, WINDOW);
        share.observe(
            None,
            &headers(&[("x-ratelimit-max", "0"), ("x-ratelimit-count", "0")]),
        );
        assert_eq!(spend_all(&share, None), 60);
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_limit_gives_at_most_the_largest_allowance() {
        let share = BackgroundShare::new(50, WINDOW);
        share.observe(None, &headers(&[("x-ratelimit-max", "1000000000")]));
        for _ in 0..MAX_ALLOWANCE {
            share.spend(None);
        }
        assert_eq!(share.room(None, 1), Err(WINDOW));
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_stays_bounded_keeps_the_newest_and_holds_no_profile_key() {
        let share = BackgroundShare::new(20, WINDOW);
        // An odd number past the bound: the last sweep leaves exactly the bound.
        for i in 0..MAX_ENTRIES + 21 {
            share.spend(Some(&SecretString::from(format!("SECRET-PROFILE-{i}"))));
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        assert_eq!(share.len(), MAX_ENTRIES);
        assert!(!format!("{share:?}").contains("SECRET-PROFILE"));
        // The newest profile kept its calls: 59 more spend its 60.
        let newest = SecretString::from(format!("SECRET-PROFILE-{}", MAX_ENTRIES + 20));
        for _ in 0..59 {
            share.spend(Some(&newest));
        }
        assert!(share.room(Some(&newest), 1).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn profiles_with_nothing_recent_are_swept_first() {
        let share = BackgroundShare::new(20, WINDOW);
        for i in 0..MAX_ENTRIES {
            share.spend(Some(&SecretString::from(format!("OLD-{i}"))));
        }
        tokio::time::advance(WINDOW).await;
        share.spend(Some(&SecretString::from("NEW")));
        assert_eq!(share.len(), 1);
    }
}
