//! The delivery worker: claims due webhook deliveries with a lease, attempts each in a task of
//! its own (signed as Standard Webhooks says, by `sender`), and records what the attempt decided
//! (`domain::delivery_policy`). Runs inside `serve` beside the reconciler unless
//! `WEBHOOK_DELIVERY=false`; any number of processes may run it on one Postgres.
//!
//! Bounds: at most `WEBHOOK_CONCURRENCY` attempts in flight in this process, and at most
//! `WEBHOOK_CONCURRENCY_PER_ENDPOINT` to one endpoint, so that a slow or frozen endpoint holds
//! its own few slots and never delays another's deliveries. A process that dies mid-attempt
//! leaves a lease that runs out; the delivery is then attempted again, with the same
//! `webhook-id` (at least once, never lost).

pub mod sender;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::delivery_policy::{
    Attempt, AttemptOutcome, Decision, DeliveryNext, EndpointChange, Policy,
};
use crate::domain::standard_webhooks::{WebhookSecret, signature_header};
use crate::events::{EventView, WebhookSettings};
use crate::store::{ClaimQuery, ClaimedDelivery, DynStore, Finished, FinishedAttempt, secret_aad};
use crate::telemetry::metrics;
pub use sender::{EXCERPT_BYTES, Message, Sender, Sent};

/// How often the queue's depth and age are sampled for `/metrics`.
const BACKLOG_EVERY: Duration = Duration::from_secs(5);

/// The longest pause between claims, reached after claims failed several times in a row.
const MOST_PAUSE: Duration = Duration::from_secs(30);

/// How long the worker waits, once an attempt has freed a slot, for others to end before it
/// claims again: a claim then fills several slots at once instead of one per statement.
const GATHER: Duration = Duration::from_millis(2);

/// The most attempts recorded in one transaction.
const RECORD_BATCH: usize = 256;

/// The delivery worker of one process. Cheap to clone.
#[derive(Clone)]
pub struct Deliverer {
    store: DynStore,
    settings: Arc<WebhookSettings>,
    policy: Arc<Policy>,
    sender: Sender,
}

/// Why the worker could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the webhook delivery client cannot start: {0}")]
pub struct DelivererError(#[from] reqwest::Error);

/// The body to send, or why there is none.
enum Body {
    Ready(Vec<u8>),
    Gone,
}

/// An attempt made, on its way to be recorded.
struct Done {
    attempt: FinishedAttempt,
    /// Its `outcome` label in `/metrics`.
    label: &'static str,
    took: Duration,
}

impl Deliverer {
    /// A worker on `store` as `settings` say.
    pub fn new(store: DynStore, settings: &WebhookSettings) -> Result<Deliverer, DelivererError> {
        Ok(Deliverer {
            store,
            policy: Arc::new(Policy {
                retry_schedule: settings.retry_schedule.clone(),
                disable_after: settings.disable_after,
            }),
            sender: Sender::new(settings)?,
            settings: Arc::new(settings.clone()),
        })
    }

    /// Claims and attempts deliveries until `stop` is cancelled, then waits for the attempts in
    /// flight (the caller bounds that wait by aborting this future, which aborts them: their
    /// leases run out and they are attempted again).
    pub async fn run(self, stop: CancellationToken) {
        // Attempts end one by one; their outcomes are written in batches, one transaction for
        // all that ended while the last batch was being written (a group commit, with no wait
        // added when attempts are few).
        let (done, outcomes) = mpsc::channel(RECORD_BATCH);
        let recorder = record(self.store.clone(), outcomes);
        tokio::join!(self.attempt_due(stop, done), recorder);
    }

    /// The claiming loop of [`Deliverer::run`]: each attempt it starts sends what came of it to
    /// `done`.
    async fn attempt_due(self, stop: CancellationToken, done: mpsc::Sender<Done>) {
        let settings = self.settings.clone();
        let permits = Arc::new(Semaphore::new(settings.concurrency as usize));
        let in_flight: Arc<Mutex<HashMap<Uuid, u32>>> = Arc::default();
        let finished = Arc::new(Notify::new());
        let mut attempts = JoinSet::new();
        let mut sampled: Option<Instant> = None;
        // Claims that failed in a row: the poll backs off while the database is away, so that
        // the log and the breaker see one attempt every few seconds, not every poll.
        let mut failures: u32 = 0;
        while !stop.is_cancelled() {
            while attempts.try_join_next().is_some() {}
            if sampled.is_none_or(|at| at.elapsed() >= BACKLOG_EVERY) {
                sampled = Some(Instant::now());
                self.sample_backlog().await;
            }
            let free = permits.available_permits();
            if free == 0 {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = finished.notified() => gather().await,
                    // Belt and braces: the permits are counted again each poll whatever happens.
                    () = tokio::time::sleep(settings.poll_every) => {}
                }
                continue;
            }
            let busy: Vec<(Uuid, u32)> = lock(&in_flight)
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(id, n)| (*id, *n))
                .collect();
            let now = now();
            let query = ClaimQuery {
                now,
                lease_until: now + chrono_duration(settings.lease),
                lease_token: Uuid::new_v4(),
                limit: u32::try_from(free).unwrap_or(u32::MAX),
                per_endpoint: settings.concurrency_per_endpoint,
                busy,
            };
            let claimed = match self.store.claim_deliveries(&query).await {
                Ok(claimed) => {
                    failures = 0;
                    claimed
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        tracing::warn!(error = %e, "claiming webhook deliveries failed");
                    }
                    Vec::new()
                }
            };
            let full = claimed.len() == free;
            let mut bodies = self.bodies(&claimed).await;
            for delivery in claimed {
                // A delivery whose event could not be read is left to its lease.
                let Some(body) = bodies.remove(&delivery.id) else {
                    continue;
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    // Only this loop takes permits, and it claimed no more than were free.
                    break;
                };
                let endpoint = delivery.endpoint_id;
                *lock(&in_flight).entry(endpoint).or_default() += 1;
                let slot = Slot {
                    endpoint,
                    in_flight: in_flight.clone(),
                    finished: finished.clone(),
                    permit: Some(permit),
                };
                let this = self.clone();
                let done = done.clone();
                attempts.spawn(async move {
                    let outcome = this.attempt(delivery, body).await;
                    // The slot is given back once the outcome is queued for recording; the
                    // delivery stays leased until it is recorded, so no claim takes it again.
                    let _ = done.send(outcome).await;
                    drop(slot);
                });
            }
            if full {
                // Every slot was taken: more may be due at once.
                continue;
            }
            // Nothing more due for now; an attempt that ends frees its endpoint's slot, which
            // may let a capped backlog go on before the next poll.
            let pause = settings.poll_every * 2u32.saturating_pow(failures.min(5));
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(pause.min(MOST_PAUSE)) => {}
                () = finished.notified() => gather().await,
            }
        }
        while attempts.join_next().await.is_some() {}
    }

    /// Samples the queue for `/metrics`.
    async fn sample_backlog(&self) {
        match self.store.delivery_backlog().await {
            Ok(backlog) => {
                let age = backlog
                    .oldest
                    .map(|at| (Utc::now() - at).to_std().unwrap_or_default())
                    .unwrap_or_default();
                metrics::webhook_backlog(backlog.pending, age);
            }
            Err(e) => tracing::debug!(error = %e, "sampling the webhook queue failed"),
        }
    }

    /// One attempt of a claimed delivery, and what it decided (recorded by [`record`]).
    #[tracing::instrument(skip_all, fields(delivery = delivery.id, endpoint = %delivery.endpoint_id, event = %delivery.event_id))]
    async fn attempt(&self, delivery: ClaimedDelivery, body: Body) -> Done {
        let started_at = now();
        let clock = Instant::now();
        let (outcome, http_status, error, excerpt) = match body {
            Body::Gone => (
                AttemptOutcome::EventGone,
                None,
                Some("the event is no longer kept".to_owned()),
                None,
            ),
            Body::Ready(body) => match self.secrets(&delivery, started_at) {
                Err(why) => (AttemptOutcome::NotSent, None, Some(why), None),
                Ok(secrets) => {
                    let timestamp = started_at.timestamp();
                    let message = Message {
                        url: &delivery.url,
                        id: &delivery.event_id,
                        timestamp,
                        signature: signature_header(&secrets, &delivery.event_id, timestamp, &body),
                        body,
                    };
                    match self.sender.send(message).await.0 {
                        Sent::Answered {
                            status,
                            retry_after,
                            excerpt,
                        } => (
                            AttemptOutcome::Answered {
                                status,
                                retry_after,
                            },
                            Some(status),
                            None,
                            Some(excerpt),
                        ),
                        Sent::NoAnswer { error } => {
                            (AttemptOutcome::NoAnswer, None, Some(error), None)
                        }
                    }
                }
            },
        };
        let took = clock.elapsed();
        let finished_at = now();
        let decision = self.policy.decide(&Attempt {
            outcome,
            attempts_before: delivery.attempts,
            now: finished_at,
            failing_since: delivery.failing_since,
            jitter: rand::random::<f64>(),
        });
        let label = outcome_label(&decision);
        if let EndpointChange::Disable { reason, .. } = &decision.endpoint {
            tracing::warn!(%reason, "webhook endpoint disabled");
        }
        let attempt = FinishedAttempt {
            delivery_id: delivery.id,
            endpoint_id: delivery.endpoint_id,
            lease_token: delivery.lease_token,
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            attempt: delivery.attempts.saturating_add(1),
            started_at,
            finished_at,
            duration_ms: u32::try_from(took.as_millis()).unwrap_or(u32::MAX),
            http_status,
            error,
            response_excerpt: excerpt,
            next: decision.next,
            reason: decision.reason,
            endpoint: decision.endpoint,
        };
        Done {
            attempt,
            label,
            took,
        }
    }

    /// The exact bytes to send for each claimed delivery, by its id: the post event as the feed
    /// shows it (read with one statement per organization), or the stored payload of a
    /// `webhook.test`. A delivery whose event could not be read now is missing: it is attempted
    /// again once its lease runs out.
    async fn bodies(&self, claimed: &[ClaimedDelivery]) -> HashMap<i64, Body> {
        let mut bodies = HashMap::with_capacity(claimed.len());
        let mut by_organization: HashMap<Uuid, Vec<i64>> = HashMap::new();
        for delivery in claimed {
            match (delivery.event_seq, &delivery.payload) {
                (Some(seq), _) => by_organization
                    .entry(delivery.organization_id)
                    .or_default()
                    .push(seq),
                (None, Some(payload)) => {
                    bodies.insert(delivery.id, Body::Ready(payload.clone().into_bytes()));
                }
                (None, None) => {
                    bodies.insert(delivery.id, Body::Gone);
                }
            }
        }
        for (organization, seqs) in by_organization {
            let events = match self.store.find_events(organization, &seqs).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook events could not be read; attempted again later");
                    continue;
                }
            };
            let mut rendered: HashMap<i64, Vec<u8>> = HashMap::with_capacity(events.len());
            for event in events {
                let seq = event.position().seq;
                match serde_json::to_vec(&EventView::from(event)) {
                    Ok(json) => {
                        rendered.insert(seq, json);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, seq, "a webhook event could not be rendered")
                    }
                }
            }
            for delivery in claimed.iter().filter(|d| d.organization_id == organization) {
                if let Some(seq) = delivery.event_seq {
                    let body = rendered.get(&seq).cloned().map_or(Body::Gone, Body::Ready);
                    bodies.insert(delivery.id, body);
                }
            }
        }
        bodies
    }

    /// The endpoint's signing secrets: the current one, and the one before while it still
    /// signs. The error says why not, naming no secret.
    fn secrets(
        &self,
        delivery: &ClaimedDelivery,
        now: DateTime<Utc>,
    ) -> Result<Vec<WebhookSecret>, String> {
        let aad = secret_aad(delivery.endpoint_id);
        let open = |sealed: &str| {
            let text =
                self.store.secrets().open(sealed, &aad).map_err(|e| {
                    format!("not sent: the endpoint's secret could not be opened: {e}")
                })?;
            WebhookSecret::parse(text.expose_secret())
                .map_err(|e| format!("not sent: the endpoint's secret is unusable: {e}"))
        };
        let mut secrets = vec![open(&delivery.secret)?];
        if let (Some(previous), Some(until)) =
            (&delivery.previous_secret, delivery.previous_secret_until)
            && until > now
        {
            secrets.push(open(previous)?);
        }
        Ok(secrets)
    }
}

/// Records the attempts `done` sends, as many at a time as have ended (up to
/// [`RECORD_BATCH`]), until every sender is gone. A database error leaves those deliveries to
/// their leases: they are attempted again once the leases run out.
async fn record(store: DynStore, mut done: mpsc::Receiver<Done>) {
    let mut batch: Vec<Done> = Vec::with_capacity(RECORD_BATCH);
    while done.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let (attempts, labels): (Vec<FinishedAttempt>, Vec<(&'static str, Duration)>) = batch
            .drain(..)
            .map(|d| (d.attempt, (d.label, d.took)))
            .unzip();
        match store.finish_deliveries(&attempts).await {
            Ok(found) => {
                for (finished, (label, took)) in found.into_iter().zip(labels) {
                    match finished {
                        Finished::Recorded => metrics::webhook_attempt(label, took),
                        Finished::LeaseLost => {
                            tracing::info!(
                                "a webhook attempt outlived its lease; its delivery is another's now"
                            );
                            metrics::webhook_attempt("lease_lost", took);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(
                error = %e,
                attempts = attempts.len(),
                "webhook attempts could not be recorded; attempted again once their leases run out"
            ),
        }
    }
}

/// Waits [`GATHER`] for more attempts to end before the next claim.
async fn gather() {
    tokio::time::sleep(GATHER).await;
}

/// An attempt's place in the bounds: its permit of the global semaphore and its count in its
/// endpoint's in-flight number, both given back when it is dropped (also when the attempt
/// panicked or was aborted, so that no slot leaks).
struct Slot {
    endpoint: Uuid,
    in_flight: Arc<Mutex<HashMap<Uuid, u32>>>,
    finished: Arc<Notify>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.in_flight);
        if let Some(n) = counts.get_mut(&self.endpoint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.endpoint);
            }
        }
        drop(counts);
        // The permit goes back before the worker is woken, or it could wake, find none free,
        // and wait for a wake-up that has already been spent.
        drop(self.permit.take());
        self.finished.notify_one();
    }
}

/// The `outcome` label of an attempt recorded with this decision.
fn outcome_label(decision: &Decision) -> &'static str {
    match (&decision.next, &decision.endpoint) {
        (DeliveryNext::Delivered, _) => "delivered",
        (_, EndpointChange::Disable { .. }) => "endpoint_disabled",
        (DeliveryNext::RetryAt(_), _) => "retrying",
        (DeliveryNext::Failed, _) => "failed",
    }
}

/// Now, at the precision both databases keep (microseconds).
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
