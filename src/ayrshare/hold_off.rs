//! The per-profile hold-off: after Ayrshare answers 429 for a User Profile (or its rate-limit
//! headers show the profile's window used up), no call is made for that profile until the window
//! has passed. Ayrshare suspends a profile that collects too many 429s, so a 429 must not be
//! answered by more calls.
//!
//! Per replica and in memory: each replica learns a profile's state from its own answers. The
//! map is keyed by a hash of the profile key (never the key), and expired entries are dropped,
//! so memory is bounded by the profiles held at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use chrono::DateTime;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// Ayrshare's rate-limit window, used when an answer does not say how long to wait.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// The longest hold any answer can set: a malformed or hostile header must not stop a profile
/// for days.
pub const MAX_HOLD: Duration = Duration::from_secs(3600);

/// Past this many held profiles, expired entries are swept (and, if all are live, the one
/// ending soonest is dropped), so memory stays bounded.
const MAX_ENTRIES: usize = 10_000;

/// Which Ayrshare profile a call is for: the SHA-256 of its `Profile-Key`, or the account's
/// primary profile (no `Profile-Key`). Never the key itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    Primary,
    Keyed([u8; 32]),
}

impl Profile {
    /// The profile a call with this `Profile-Key` (or none) goes to.
    pub fn of(profile_key: Option<&SecretString>) -> Profile {
        match profile_key {
            None => Profile::Primary,
            Some(key) => Profile::Keyed(Sha256::digest(key.expose_secret().as_bytes()).into()),
        }
    }
}

/// The profiles held off, each until an instant (tokio's clock, so tests can pause time).
#[derive(Debug)]
pub struct HoldOff {
    window: Duration,
    held: Mutex<HashMap<Profile, Instant>>,
}

impl HoldOff {
    /// `window` is how long a 429 without `Retry-After` holds a profile (Ayrshare's: 5 minutes).
    pub fn new(window: Duration) -> HoldOff {
        HoldOff {
            window: window.min(MAX_HOLD),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// How long the profile is still held, or `None` when calls may go.
    pub fn remaining(&self, profile_key: Option<&SecretString>) -> Option<Duration> {
        let profile = Profile::of(profile_key);
        let now = Instant::now();
        let mut held = self.lock();
        match held.get(&profile) {
            Some(until) if *until > now => Some(*until - now),
            Some(_) => {
                held.remove(&profile);
                None
            }
            None => None,
        }
    }

    /// Learns from one answer of Ayrshare for the profile; returns the hold it set, if any.
    pub fn observe(
        &self,
        profile_key: Option<&SecretString>,
        http_status: u16,
        headers: &HeaderMap,
    ) -> Option<Duration> {
        let hold = hold_for(http_status, headers, self.window, SystemTime::now())?;
        let until = Instant::now() + hold;
        let mut held = self.lock();
        let entry = held.entry(Profile::of(profile_key)).or_insert(until);
        // A hold is never shortened by a later answer.
        *entry = (*entry).max(until);
        if held.len() > MAX_ENTRIES {
            sweep(&mut held, Instant::now());
        }
        Some(hold)
    }

    /// The number of profiles in the map (held or expired but not yet swept).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no profile is in the map.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Profile, Instant>> {
        // The map holds no invariant a panicking holder could break: carry on with it.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn sweep(held: &mut HashMap<Profile, Instant>, now: Instant) {
    held.retain(|_, until| *until > now);
    while held.len() > MAX_ENTRIES {
        let Some(soonest) = held
            .iter()
            .min_by_key(|(_, until)| **until)
            .map(|(p, _)| *p)
        else {
            break;
        };
        held.remove(&soonest);
    }
}

/// How long an answer says the profile must wait, or `None` when it may go on:
/// - a 429: its `Retry-After` (seconds or an HTTP date), else `x-ratelimit-reset`, else `window`;
/// - `x-ratelimit-count` at or over `x-ratelimit-max`, or `x-ratelimit-remaining` at 0: the
///   window is used up, so the next call would get a 429; held until `x-ratelimit-reset`, else
///   for `window` (Ayrshare does not say when its window started: waiting a whole one is safe).
///
/// Every hold is at least a second and at most [`MAX_HOLD`].
pub fn hold_for(
    http_status: u16,
    headers: &HeaderMap,
    window: Duration,
    now: SystemTime,
) -> Option<Duration> {
    let number = |name: &str| header_number(headers, name);
    let reset = number("x-ratelimit-reset").map(|n| reset_delay(n, now));
    let hold = if http_status == 429 {
        retry_after(headers, now).or(reset).unwrap_or(window)
    } else {
        let used_up = match (number("x-ratelimit-count"), number("x-ratelimit-max")) {
            (Some(count), Some(max)) if max > 0 => count >= max,
            _ => false,
        };
        if !(used_up || number("x-ratelimit-remaining") == Some(0)) {
            return None;
        }
        reset.unwrap_or(window)
    };
    Some(hold.clamp(Duration::from_secs(1), MAX_HOLD))
}

/// A header's value as a whole non-negative number (a fraction is cut), or `None`.
pub(super) fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n as u64)
}

/// `x-ratelimit-reset` is, depending on the API, seconds from now or a Unix time in seconds or
/// milliseconds; the size of the number tells which.
fn reset_delay(value: u64, now: SystemTime) -> Duration {
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let at = if value >= 1_000_000_000_000 {
        Duration::from_millis(value)
    } else if value >= 1_000_000_000 {
        Duration::from_secs(value)
    } else {
        return Duration::from_secs(value);
    };
    at.saturating_sub(since_epoch)
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = SystemTime::from(DateTime::parse_from_rfc2822(text).ok()?);
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const WINDOW: Duration = DEFAULT_WINDOW;

    fn hold(status: u16, pairs: &[(&'static str, &str)]) -> Option<Duration> {
        hold_for(status, &headers(pairs), WINDOW, SystemTime::now())
    }

    #[test]
    fn a_429_holds_for_retry_after_else_the_reset_else_the_window() {
        assert_eq!(
            hold(429, &[("retry-after", "42")]),
            Some(Duration::from_secs(42))
        );
        assert_eq!(
            hold(429, &[("x-ratelimit-reset", "17")]),
            Some(Duration::from_secs(17))
        );
        assert_eq!(hold(429, &[]), Some(WINDOW));
        assert_eq!(hold(429, &[("retry-after", "soon")]), Some(WINDOW));
        // Never zero, never for days.
        assert_eq!(
            hold(429, &[("retry-after", "0")]),
            Some(Duration::from_secs(1))
        );
        assert_eq!(hold(429, &[("retry-after", "999999")]), Some(MAX_HOLD));
    }

    #[test]
    fn retry_after_may_be_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_400); // 07:26:40 GMT
        let held = hold_for(
            429,
            &headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
            WINDOW,
            now,
        );
        assert_eq!(held, Some(Duration::from_secs(80)));
    }

    #[test]
    fn a_used_up_window_holds_before_the_429() {
        let used_up = [("x-ratelimit-max", "300"), ("x-ratelimit-count", "300")];
        assert_eq!(hold(200, &used_up), Some(WINDOW));
        let mut with_reset = used_up.to_vec();
        with_reset.push(("x-ratelimit-reset", "30"));
        assert_eq!(hold(200, &with_reset), Some(Duration::from_secs(30)));
        assert_eq!(
            hold(
                200,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "12")]
            ),
            Some(Duration::from_secs(12))
        );
        // An error answer counts too: it used up a request all the same.
        assert_eq!(hold(400, &used_up), Some(WINDOW));
    }

    #[test]
    fn headers_with_room_left_or_unreadable_hold_nothing() {
        assert_eq!(hold(200, &[]), None);
        assert_eq!(
            hold(
                200,
                &[("x-ratelimit-max", "300"), ("x-ratelimit-count", "299")]
            ),
            None
        );
        assert_eq!(hold(200, &[("x-ratelimit-remaining", "5")]), None);
        assert_eq!(
            hold(200, &[("x-ratelimit-max", "0"), ("x-ratelimit-count", "3")]),
            None
        );
        assert_eq!(
            hold(
                200,
                &[("x-ratelimit-max", "lots"), ("x-ratelimit-count", "3")]
            ),
            None
        );
        assert_eq!(hold(500, &[("retry-after", "9")]), None);
    }

    #[test]
    fn a_reset_given_as_a_unix_time_is_read_as_one() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at =
            |reset: &str| hold_for(429, &headers(&[("x-ratelimit-reset", reset)]), WINDOW, now);
        assert_eq!(at("1700000090"), Some(Duration::from_secs(90)));
        assert_eq!(at("1700000045000"), Some(Duration::from_secs(45)));
        // Already past: the shortest hold.
        assert_eq!(at("1600000000"), Some(Duration::from_secs(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_that_profile_only_until_its_window_passes() {
        let hold_off = HoldOff::new(Duration::from_secs(300));
        let a = SecretString::from("PROFILE-A");
        let b = SecretString::from("PROFILE-B");
        assert_eq!(
            hold_off.observe(Some(&a), 429, &HeaderMap::new()),
            Some(Duration::from_secs(300))
        );
        assert_eq!(hold_off.remaining(Some(&a)), Some(Duration::from_secs(300)));
        assert_eq!(hold_off.remaining(Some(&b)), None);
        assert_eq!(hold_off.remaining(None), None);

        tokio::time::advance(Duration::from_secs(299)).await;
        assert_eq!(hold_off.remaining(Some(&a)), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(hold_off.remaining(Some(&a)), None);
        assert!(hold_off.is_empty(), "an expired hold is dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn the_primary_profile_is_held_on_its_own_and_a_hold_is_never_shortened() {
        let hold_off = HoldOff::new(Duration::from_secs(300));
        let a = SecretString::from("PROFILE-A");
        hold_off.observe(None, 429, &headers(&[("retry-after", "60")]));
        assert_eq!(hold_off.remaining(None), Some(Duration::from_secs(60)));
        assert_eq!(hold_off.remaining(Some(&a)), None);
        hold_off.observe(None, 429, &headers(&[("retry-after", "5")]));
        assert_eq!(hold_off.remaining(None), Some(Duration::from_secs(60)));
        hold_off.observe(None, 200, &HeaderMap::new());
        assert_eq!(hold_off.remaining(None), Some(Duration::from_secs(60)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_stays_bounded() {
        let hold_off = HoldOff::new(Duration::from_secs(300));
        for i in 0..MAX_ENTRIES + 50 {
            let key = SecretString::from(format!("PROFILE-{i}"));
            hold_off.observe(Some(&key), 429, &HeaderMap::new());
            // Each hold ends a little later than the one before, so "ending soonest" is defined.
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        assert!(hold_off.len() <= MAX_ENTRIES);
        // The newest hold is kept.
        let newest = SecretString::from(format!("PROFILE-{}", MAX_ENTRIES + 49));
        assert!(hold_off.remaining(Some(&newest)).is_some());
    }

    #[test]
    fn the_map_holds_no_profile_key() {
        let hold_off = HoldOff::new(DEFAULT_WINDOW);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            hold_off.observe(
                Some(&SecretString::from("SECRET-PROFILE")),
                429,
                &HeaderMap::new(),
            );
        });
        assert!(!format!("{hold_off:?}").contains("SECRET-PROFILE"));
    }
}
