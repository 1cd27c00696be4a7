//! The one retry the outbound policy allows: a call that provably never left (connection refused,
//! DNS failure, connect timeout) is tried again, at most twice, after a jittered exponential
//! backoff, and only while the call's overall deadline leaves room for a whole connect. A call
//! that may have reached Ayrshare is never sent again, whatever happened to it.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::time::Instant;

use super::AyrshareError;

/// How calls that never left are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: usize,
    /// The first backoff; each next one doubles, up to `max_delay`, plus a random jitter of up
    /// to the same amount (so that replicas that lost Ayrshare together do not come back in step).
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Two retries, after about 0.2–0.4 s and 0.4–0.8 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// Runs `attempt` until it succeeds, fails with anything but `NotSent`, or the policy or the
/// deadline says stop. A retry starts only if, after its backoff, more than `connect_timeout`
/// is left before `deadline`: the attempt then either connects or fails to connect (still
/// provably unsent) before the deadline cuts it off, which would leave its outcome unknown.
pub async fn retry_unsent<T, Fut>(
    policy: RetryPolicy,
    deadline: Instant,
    connect_timeout: Duration,
    what: &'static str,
    attempt: impl FnMut() -> Fut,
) -> Result<T, AyrshareError>
where
    Fut: Future<Output = Result<T, AyrshareError>>,
{
    let backoff = ExponentialBuilder::new()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_factor(2.0)
        .with_max_times(policy.max_retries)
        .with_jitter();
    attempt
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|error| matches!(error, AyrshareError::NotSent(_)))
        .adjust(move |_, delay| {
            delay.filter(|delay| Instant::now() + *delay + connect_timeout < deadline)
        })
        .notify(|error, delay| {
            tracing::warn!(
                call = what,
                error = %error,
                retry_in_ms = delay.as_millis() as u64,
                "ayrshare could not be reached (nothing was sent); retrying"
            );
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn run(
        failure: fn() -> AyrshareError,
        deadline_in: Duration,
    ) -> (Result<(), AyrshareError>, usize) {
        let attempts = AtomicUsize::new(0);
        let result = retry_unsent(
            RetryPolicy::default(),
            Instant::now() + deadline_in,
            Duration::from_secs(5),
            "test",
            || async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(failure())
            },
        )
        .await;
        (result, attempts.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn an_unsent_call_is_tried_three_times_in_all() {
        let (result, attempts) = run(
            || AyrshareError::NotSent("refused".into()),
            Duration::from_secs(30),
        )
        .await;
        assert!(matches!(result, Err(AyrshareError::NotSent(_))));
        assert_eq!(attempts, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_may_have_been_sent_is_never_repeated() {
        let (result, attempts) = run(
            || AyrshareError::OutcomeUnknown("timed out".into()),
            Duration::from_secs(30),
        )
        .await;
        assert!(matches!(result, Err(AyrshareError::OutcomeUnknown(_))));
        assert_eq!(attempts, 1);
        let (_, attempts) = run(
            || AyrshareError::HeldOff {
                retry_after: Duration::from_secs(9),
            },
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_starts_without_time_for_a_whole_connect() {
        // 5 s of connect timeout do not fit in a 5 s deadline after any backoff.
        let (result, attempts) = run(
            || AyrshareError::NotSent("refused".into()),
            Duration::from_secs(5),
        )
        .await;
        assert!(matches!(result, Err(AyrshareError::NotSent(_))));
        assert_eq!(attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_after_a_refusal_is_returned() {
        let attempts = AtomicUsize::new(0);
        let result = retry_unsent(
            RetryPolicy::default(),
            Instant::now() + Duration::from_secs(30),
            Duration::from_secs(5),
            "test",
            || async {
                match attempts.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(AyrshareError::NotSent("refused".into())),
                    n => Ok(n),
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 1);
    }
}
