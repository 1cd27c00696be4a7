//! Group commit: writes that arrive together share one transaction, and so one commit (one WAL
//! flush, one connection, one round trip to release it), instead of paying for one each.
//!
//! Nothing waits on a timer. A write goes out at once when a connection is free for it; writes
//! that arrive while every allowed batch is in flight queue up, and go out together as the next
//! batch as soon as one finishes. Under no load a batch is one write, done as before; under
//! load the batches grow by themselves. Each write gets its own answer, and only after the
//! commit that made it durable.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::StoreError;

/// A write waiting for its batch, and where its answer goes.
struct Job<I, O> {
    item: I,
    reply: oneshot::Sender<Result<O, StoreError>>,
}

/// The queue of one kind of write, and the task that sends its batches.
pub(super) struct Batcher<I, O> {
    queue: mpsc::UnboundedSender<Job<I, O>>,
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the task (on the current runtime): at most `in_flight` batches at once, of at most
    /// `max_batch` writes each. `flush` writes one batch and answers each write, in order.
    pub(super) fn start<F, Fut>(max_batch: usize, in_flight: usize, flush: F) -> Batcher<I, O>
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Result<O, StoreError>>> + Send + 'static,
    {
        let (queue, mut jobs) = mpsc::unbounded_channel::<Job<I, O>>();
        let permits = Arc::new(Semaphore::new(in_flight.max(1)));
        let flush = Arc::new(flush);
        // Ends when the store (every sender) is dropped and the queue is empty.
        tokio::spawn(async move {
            while let Some(first) = jobs.recv().await {
                // While every batch is in flight, the writes that arrive meanwhile queue up:
                // they are the next batch.
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < max_batch.max(1) {
                    match jobs.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let flush = Arc::clone(&flush);
                tokio::spawn(async move {
                    let (items, replies): (Vec<I>, Vec<_>) =
                        batch.into_iter().map(|job| (job.item, job.reply)).unzip();
                    let answers = flush(items).await;
                    debug_assert_eq!(answers.len(), replies.len());
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        // The writer may have stopped waiting; its write is done all the same.
                        let _ = reply.send(answer);
                    }
                    drop(permit);
                });
            }
        });
        Batcher { queue }
    }

    /// Writes `item` with the next batch and returns its own answer, once committed.
    pub(super) async fn submit(&self, item: I) -> Result<O, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { item, reply })
            .map_err(|_| StoreError::Unavailable("the store is shutting down".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the write was lost with its batch (a bug): retry".into())
        })?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// A batcher that records its batches and answers each item with itself doubled; `fail`
    /// makes a batch holding it fail each of its items.
    fn doubling(
        in_flight: usize,
        seen: Arc<Mutex<Vec<Vec<u32>>>>,
        gate: Arc<Semaphore>,
    ) -> Batcher<u32, u32> {
        Batcher::start(4, in_flight, move |items: Vec<u32>| {
            let seen = Arc::clone(&seen);
            let gate = Arc::clone(&gate);
            async move {
                let _open = gate.acquire().await.unwrap();
                seen.lock().unwrap().push(items.clone());
                if items.contains(&13) {
                    return items
                        .iter()
                        .map(|_| Err(StoreError::Unavailable("down".into())))
                        .collect();
                }
                items.iter().map(|n| Ok(n * 2)).collect()
            }
        })
    }

    #[tokio::test]
    async fn a_lone_write_goes_out_at_once_alone() {
        let seen = Arc::default();
        let batcher = doubling(1, Arc::clone(&seen), Arc::new(Semaphore::new(100)));
        assert_eq!(batcher.submit(21).await.unwrap(), 42);
        assert_eq!(*seen.lock().unwrap(), vec![vec![21]]);
    }

    #[tokio::test]
    async fn writes_arriving_while_a_batch_is_in_flight_share_the_next_and_each_gets_its_own_answer()
     {
        let seen: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let gate = Arc::new(Semaphore::new(0));
        let batcher = Arc::new(doubling(1, Arc::clone(&seen), Arc::clone(&gate)));
        let first = tokio::spawn({
            let batcher = Arc::clone(&batcher);
            async move { batcher.submit(1).await.unwrap() }
        });
        // The first batch (of 1) holds the only slot until the gate opens.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rest: Vec<_> = (2..=6)
            .map(|n| {
                let batcher = Arc::clone(&batcher);
                tokio::spawn(async move { batcher.submit(n).await.unwrap() })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.add_permits(100);
        assert_eq!(first.await.unwrap(), 2);
        for (n, task) in (2..=6).zip(rest) {
            assert_eq!(task.await.unwrap(), n * 2);
        }
        // The five that waited went as one batch of 4 (the bound) and one of 1, in order.
        assert_eq!(
            *seen.lock().unwrap(),
            vec![vec![1], vec![2, 3, 4, 5], vec![6]]
        );
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_of_its_writes_and_no_other() {
        let seen: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let gate = Arc::new(Semaphore::new(0));
        let batcher = Arc::new(doubling(1, Arc::clone(&seen), Arc::clone(&gate)));
        let submit = |n: u32| {
            let batcher = Arc::clone(&batcher);
            tokio::spawn(async move { batcher.submit(n).await })
        };
        let first = submit(1);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let failing = [submit(12), submit(13)];
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.add_permits(100);
        assert_eq!(first.await.unwrap().unwrap(), 2);
        for task in failing {
            let error = task.await.unwrap().unwrap_err();
            assert!(error.is_unavailable(), "{error}");
        }
        assert_eq!(submit(7).await.unwrap().unwrap(), 14);
        assert_eq!(*seen.lock().unwrap(), vec![vec![1], vec![12, 13], vec![7]]);
    }
}
