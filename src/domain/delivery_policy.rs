//! What one webhook delivery attempt's result means: delivered, try again when, failed for good,
//! and what it says about the endpoint (still failing since when, or to be disabled). Pure: the
//! worker (`events::delivery`) supplies the clock and the random draw for the jitter, so every
//! rule is tested here without waiting.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest `Retry-After` honoured: a receiver cannot park a delivery for longer than the
/// longest wait a schedule may hold (one day).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// How far a scheduled wait is moved either way at random, so that the retries of many
/// deliveries that failed together (an endpoint back from an outage) do not arrive together.
pub const JITTER: f64 = 0.10;

/// What an attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The endpoint answered with this status; `retry_after` is its `Retry-After` header, as
    /// sent.
    Answered {
        status: u16,
        retry_after: Option<String>,
    },
    /// No answer came (connection refused, refused by the address rule at connect time, timed
    /// out, reset): the endpoint's fault as far as anyone can tell.
    NoAnswer,
    /// Nothing could be sent for a reason of ours (the secret could not be opened): retried on
    /// the schedule, without counting against the endpoint.
    NotSent,
    /// The event this delivery carries is no longer kept (past the retention): nothing will
    /// ever be sent.
    EventGone,
}

/// The delivery's state after the attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryNext {
    Delivered,
    /// Attempted again at this time.
    RetryAt(DateTime<Utc>),
    /// Given up for good.
    Failed,
}

/// What the attempt changes on the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointChange {
    /// Nothing (the failure was not the endpoint's).
    Unchanged,
    /// It answered with success: it is not failing any more.
    Succeeded,
    /// It failed, and has been failing since this time (the first failure after the last
    /// success).
    Failing { since: DateTime<Utc> },
    /// Disable it, for this reason.
    Disable {
        since: DateTime<Utc>,
        reason: String,
    },
}

/// The decision about one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub next: DeliveryNext,
    pub endpoint: EndpointChange,
    /// Why the attempt did not deliver, for the delivery's `last_error`; `None` when delivered.
    pub reason: Option<String>,
}

/// The rules' parameters (from `WebhookSettings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The wait after each failed attempt; once used up the delivery has failed.
    pub retry_schedule: Vec<Duration>,
    /// An endpoint failing every attempt for this long is disabled.
    pub disable_after: Duration,
}

/// What is known when an attempt ends.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    pub outcome: AttemptOutcome,
    /// Attempts made before this one (0 for the first).
    pub attempts_before: u32,
    /// When the attempt ended.
    pub now: DateTime<Utc>,
    /// Since when the endpoint has been failing, as read when the delivery was claimed.
    pub failing_since: Option<DateTime<Utc>>,
    /// A random draw in `[0, 1)` for the jitter.
    pub jitter: f64,
}

impl Policy {
    /// Judges an attempt.
    pub fn decide(&self, attempt: &Attempt) -> Decision {
        let now = attempt.now;
        let (status, retry_after) = match &attempt.outcome {
            AttemptOutcome::EventGone => {
                return Decision {
                    next: DeliveryNext::Failed,
                    endpoint: EndpointChange::Unchanged,
                    reason: Some(
                        "the event is no longer kept (past EVENT_RETENTION_DAYS)".to_owned(),
                    ),
                };
            }
            AttemptOutcome::NotSent => {
                return Decision {
                    next: self.retry(attempt, None),
                    endpoint: EndpointChange::Unchanged,
                    reason: Some("not sent: the endpoint's secret could not be opened".into()),
                };
            }
            AttemptOutcome::NoAnswer => (None, None),
            AttemptOutcome::Answered {
                status,
                retry_after,
            } => (Some(*status), retry_after.as_deref()),
        };
        if status.is_some_and(|s| (200..300).contains(&s)) {
            return Decision {
                next: DeliveryNext::Delivered,
                endpoint: EndpointChange::Succeeded,
                reason: None,
            };
        }
        let since = attempt.failing_since.unwrap_or(now);
        let reason = match status {
            Some(status) => format!("the endpoint answered {status}"),
            None => "the endpoint did not answer".to_owned(),
        };
        if status == Some(410) {
            return Decision {
                next: DeliveryNext::Failed,
                endpoint: EndpointChange::Disable {
                    since,
                    reason: "the endpoint answered 410 Gone".to_owned(),
                },
                reason: Some(reason),
            };
        }
        let failing_for = (now - since).to_std().unwrap_or_default();
        if failing_for >= self.disable_after {
            return Decision {
                next: DeliveryNext::Failed,
                endpoint: EndpointChange::Disable {
                    since,
                    reason: match self.disable_after.as_secs() / 3600 {
                        1 => "every attempt failed for 1 hour".to_owned(),
                        hours => format!("every attempt failed for {hours} hours"),
                    },
                },
                reason: Some(reason),
            };
        }
        // Standard Webhooks' receivers ask to slow down with 429, 502, 503 or 504 and a
        // Retry-After; any other answer keeps the schedule.
        let asked = match status {
            Some(429 | 502 | 503 | 504) => {
                retry_after.and_then(|text| parse_retry_after(text, now))
            }
            _ => None,
        };
        Decision {
            next: self.retry(attempt, asked),
            endpoint: EndpointChange::Failing { since },
            reason: Some(reason),
        }
    }

    /// The retry after a failed attempt: the schedule's next wait with jitter, or longer when
    /// the receiver asked for longer (`asked`, bounded); failed once the schedule is used up.
    fn retry(&self, attempt: &Attempt, asked: Option<Duration>) -> DeliveryNext {
        let Some(wait) = self.retry_schedule.get(attempt.attempts_before as usize) else {
            return DeliveryNext::Failed;
        };
        let wait =
            jittered(*wait, attempt.jitter).max(asked.unwrap_or_default().min(MAX_RETRY_AFTER));
        DeliveryNext::RetryAt(
            attempt.now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
        )
    }
}

/// `wait` moved by up to [`JITTER`] either way: `draw` in `[0, 1)` maps onto `[-10 %, +10 %)`.
pub fn jittered(wait: Duration, draw: f64) -> Duration {
    let draw = if draw.is_finite() {
        draw.clamp(0.0, 1.0)
    } else {
        0.5
    };
    wait.mul_f64(1.0 - JITTER + 2.0 * JITTER * draw)
}

/// A `Retry-After` value: whole seconds, or an HTTP date (as the wait from `now`; a date in the
/// past is no wait). Anything else is ignored.
pub fn parse_retry_after(text: &str, now: DateTime<Utc>) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            retry_schedule: [5, 300, 1800].map(Duration::from_secs).to_vec(),
            disable_after: Duration::from_secs(5 * 24 * 3600),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn attempt(outcome: AttemptOutcome, attempts_before: u32) -> Attempt {
        Attempt {
            outcome,
            attempts_before,
            now: now(),
            failing_since: None,
            jitter: 0.5,
        }
    }

    fn answered(status: u16) -> AttemptOutcome {
        AttemptOutcome::Answered {
            status,
            retry_after: None,
        }
    }

    fn secs(n: i64) -> chrono::Duration {
        chrono::Duration::seconds(n)
    }

    #[test]
    fn any_2xx_delivers_and_clears_the_failing_endpoint() {
        for status in [200, 201, 204, 299] {
            let decision = policy().decide(&Attempt {
                failing_since: Some(now() - secs(60)),
                ..attempt(answered(status), 2)
            });
            assert_eq!(decision.next, DeliveryNext::Delivered, "{status}");
            assert_eq!(decision.endpoint, EndpointChange::Succeeded);
            assert_eq!(decision.reason, None);
        }
    }

    #[test]
    fn a_failure_waits_the_schedules_next_wait_and_then_gives_up() {
        for status in [300, 301, 400, 404, 500, 199] {
            let first = policy().decide(&attempt(answered(status), 0));
            assert_eq!(
                first.next,
                DeliveryNext::RetryAt(now() + secs(5)),
                "{status}"
            );
            assert_eq!(first.endpoint, EndpointChange::Failing { since: now() });
            assert_eq!(
                first.reason.as_deref(),
                Some(format!("the endpoint answered {status}").as_str())
            );
        }
        let third = policy().decide(&attempt(AttemptOutcome::NoAnswer, 2));
        assert_eq!(third.next, DeliveryNext::RetryAt(now() + secs(1800)));
        assert_eq!(third.reason.as_deref(), Some("the endpoint did not answer"));
        // The schedule's three waits are used up: the fourth attempt was the last.
        let fourth = policy().decide(&attempt(answered(500), 3));
        assert_eq!(fourth.next, DeliveryNext::Failed);
        assert_eq!(fourth.endpoint, EndpointChange::Failing { since: now() });
        // An empty schedule: one attempt only.
        let once = Policy {
            retry_schedule: Vec::new(),
            ..policy()
        };
        assert_eq!(
            once.decide(&attempt(answered(500), 0)).next,
            DeliveryNext::Failed
        );
    }

    #[test]
    fn the_jitter_moves_a_wait_by_at_most_ten_percent() {
        let wait = Duration::from_secs(100);
        assert_eq!(jittered(wait, 0.0), Duration::from_secs(90));
        assert_eq!(jittered(wait, 0.5), Duration::from_secs(100));
        assert!(jittered(wait, 0.999_999) < Duration::from_secs(110));
        assert!(jittered(wait, 0.999_999) > Duration::from_secs(109));
        // A broken draw cannot push a wait outside the band.
        assert_eq!(jittered(wait, f64::NAN), wait);
        assert_eq!(jittered(wait, 7.0), Duration::from_secs(110));
        assert_eq!(jittered(wait, -1.0), Duration::from_secs(90));
        let early = policy().decide(&Attempt {
            jitter: 0.0,
            ..attempt(answered(500), 1)
        });
        assert_eq!(early.next, DeliveryNext::RetryAt(now() + secs(270)));
    }

    #[test]
    fn gone_disables_the_endpoint_and_fails_the_delivery_at_once() {
        let decision = policy().decide(&Attempt {
            failing_since: Some(now() - secs(10)),
            ..attempt(answered(410), 0)
        });
        assert_eq!(decision.next, DeliveryNext::Failed);
        assert_eq!(
            decision.endpoint,
            EndpointChange::Disable {
                since: now() - secs(10),
                reason: "the endpoint answered 410 Gone".into()
            }
        );
    }

    #[test]
    fn an_endpoint_failing_for_the_disable_after_period_is_disabled() {
        let days = |d: i64| now() - chrono::Duration::days(d);
        let almost = policy().decide(&Attempt {
            failing_since: Some(days(5) + secs(1)),
            ..attempt(answered(500), 0)
        });
        assert_eq!(
            almost.endpoint,
            EndpointChange::Failing {
                since: days(5) + secs(1)
            }
        );
        let over = policy().decide(&Attempt {
            failing_since: Some(days(5)),
            ..attempt(AttemptOutcome::NoAnswer, 0)
        });
        assert_eq!(over.next, DeliveryNext::Failed);
        assert_eq!(
            over.endpoint,
            EndpointChange::Disable {
                since: days(5),
                reason: "every attempt failed for 120 hours".into()
            }
        );
        // A success just before does not count: a fresh failure starts the clock again.
        let fresh = policy().decide(&attempt(answered(500), 0));
        assert_eq!(fresh.endpoint, EndpointChange::Failing { since: now() });
    }

    #[test]
    fn retry_after_is_honoured_on_429_and_503_in_seconds_or_as_a_date_bounded() {
        let with = |status, value: &str| {
            policy()
                .decide(&attempt(
                    AttemptOutcome::Answered {
                        status,
                        retry_after: Some(value.to_owned()),
                    },
                    0,
                ))
                .next
        };
        assert_eq!(with(429, "120"), DeliveryNext::RetryAt(now() + secs(120)));
        assert_eq!(with(503, " 60 "), DeliveryNext::RetryAt(now() + secs(60)));
        assert_eq!(
            with(503, "Wed, 02 Dec 2026 12:10:00 GMT"),
            DeliveryNext::RetryAt(now() + secs(600))
        );
        // Never sooner than the schedule: a receiver cannot make us hammer it.
        assert_eq!(with(429, "1"), DeliveryNext::RetryAt(now() + secs(5)));
        assert_eq!(
            with(429, "Wed, 02 Dec 2026 11:00:00 GMT"),
            DeliveryNext::RetryAt(now() + secs(5))
        );
        // Bounded by a day.
        assert_eq!(
            with(429, "99999999"),
            DeliveryNext::RetryAt(now() + secs(86_400))
        );
        // Ignored when malformed, and on other statuses.
        assert_eq!(with(429, "soon"), DeliveryNext::RetryAt(now() + secs(5)));
        assert_eq!(with(500, "120"), DeliveryNext::RetryAt(now() + secs(5)));
        // And no retry past the schedule, however politely asked.
        let last = policy().decide(&attempt(
            AttemptOutcome::Answered {
                status: 429,
                retry_after: Some("10".into()),
            },
            3,
        ));
        assert_eq!(last.next, DeliveryNext::Failed);
    }

    #[test]
    fn a_purged_event_fails_without_blaming_the_endpoint() {
        let decision = policy().decide(&attempt(AttemptOutcome::EventGone, 0));
        assert_eq!(decision.next, DeliveryNext::Failed);
        assert_eq!(decision.endpoint, EndpointChange::Unchanged);
        assert!(decision.reason.unwrap().contains("no longer kept"));
    }

    #[test]
    fn a_delivery_we_could_not_sign_is_retried_without_blaming_the_endpoint() {
        let decision = policy().decide(&attempt(AttemptOutcome::NotSent, 0));
        assert_eq!(decision.next, DeliveryNext::RetryAt(now() + secs(5)));
        assert_eq!(decision.endpoint, EndpointChange::Unchanged);
    }
}
