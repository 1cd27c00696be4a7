//! The paced background sweeps (the idempotency purge, the event retention): each deletes in
//! bounded batches, one short statement at a time, and pauses after every full batch, so that
//! a backlog (a year of events, say) never becomes one long statement holding locks, and the
//! requests beside it keep their share of the database (docs/benchmark.md, "Growth": creates at
//! c=64 while the backlog of a year goes). The usual sweep, a day's rows, still takes seconds.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The pause after each full batch: a backlog goes at a few thousand rows a second rather than
/// as fast as the database can.
pub const PAUSE: Duration = Duration::from_millis(200);

/// Runs `step(batch)` (one bounded delete, answering how many rows it took) until a step takes
/// fewer than `batch`, pausing `PAUSE` after each full one; how many rows in all.
pub async fn in_batches<E, F, Fut>(batch: i64, mut step: F) -> Result<u64, E>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<u64, E>>,
{
    let full = u64::try_from(batch).unwrap_or(0);
    let mut total = 0;
    loop {
        let done = step(batch).await?;
        total += done;
        if done < full {
            return Ok(total);
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// Runs `sweep` every `every` (the first at once) until `stop` is cancelled, logging what each
/// pass did: `did` with the count when it took any rows, `failed` with the error.
pub async fn every<E, F, Fut>(
    every: Duration,
    stop: CancellationToken,
    did: &'static str,
    failed: &'static str,
    mut sweep: F,
) where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
{
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match sweep().await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "{did}"),
            Err(e) => tracing::warn!(error = %e, "{failed}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Each batch a step was asked for, and when (on tokio's paused clock).
    type Asked = Arc<Mutex<Vec<(i64, Duration)>>>;

    /// A step that takes the next of `sizes` (then nothing), recording what it was asked.
    fn steps(
        sizes: Vec<u64>,
    ) -> (
        Asked,
        impl FnMut(i64) -> std::future::Ready<Result<u64, String>>,
    ) {
        let asked = Asked::default();
        let start = tokio::time::Instant::now();
        let mut sizes = sizes.into_iter();
        let seen = Arc::clone(&asked);
        let step = move |batch| {
            seen.lock().unwrap().push((batch, start.elapsed()));
            std::future::ready(Ok(sizes.next().unwrap_or(0)))
        };
        (asked, step)
    }

    #[tokio::test(start_paused = true)]
    async fn full_batches_go_on_after_a_pause_and_a_short_one_ends_the_sweep() {
        let (asked, step) = steps(vec![3, 3, 1, 3]);
        assert_eq!(in_batches(3, step).await, Ok::<u64, String>(7));
        let asked = asked.lock().unwrap();
        assert_eq!(
            *asked,
            vec![(3, Duration::ZERO), (3, PAUSE), (3, PAUSE * 2)],
            "the fourth batch is never asked for"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_first_batch_is_the_whole_sweep() {
        let (asked, step) = steps(vec![]);
        assert_eq!(in_batches(500, step).await, Ok::<u64, String>(0));
        assert_eq!(asked.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_batch_ends_the_sweep_with_its_error() {
        let mut calls = 0;
        let failing = |_| {
            calls += 1;
            std::future::ready(if calls == 1 {
                Ok(2)
            } else {
                Err("down".to_string())
            })
        };
        assert_eq!(in_batches(2, failing).await, Err("down".to_string()));
        assert_eq!(calls, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_sweep_runs_at_once_then_every_period_until_stopped() {
        let runs = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let start = tokio::time::Instant::now();
        let task = tokio::spawn({
            let runs = Arc::clone(&runs);
            every(
                Duration::from_secs(60),
                stop.clone(),
                "did",
                "failed",
                move || {
                    runs.lock().unwrap().push(start.elapsed());
                    std::future::ready(Ok::<u64, String>(1))
                },
            )
        });
        tokio::time::sleep(Duration::from_secs(150)).await;
        stop.cancel();
        task.await.unwrap();
        assert_eq!(
            *runs.lock().unwrap(),
            vec![
                Duration::ZERO,
                Duration::from_secs(60),
                Duration::from_secs(120)
            ]
        );
    }
}
