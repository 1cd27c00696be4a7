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

use std::collections::{HashMap, VecDeque};
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

/// A claim takes up to this many times `WEBHOOK_CONCURRENCY` deliveries (256 by default), and
/// queues what it cannot start at once.
const AHEAD: usize = 4;

/// The most attempts recorded in one transaction.
const RECORD_BATCH: usize = 256;

/// How long the recorder waits, after an attempt ended, for others to end before it writes:
/// a burst is then recorded in a few transactions, not one per attempt that ended alone. The
/// deliveries stay leased meanwhile, so no worker takes them again.
const RECORD_GATHER: Duration = Duration::from_millis(10);

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

    /// The claiming loop of [`Deliverer::run`]: claims due deliveries in batches into a queue
    /// per endpoint, starts attempts from those queues within the bounds, and each attempt sends
    /// what came of it to `done`.
    ///
    /// A claim takes up to [`AHEAD`] times `WEBHOOK_CONCURRENCY` deliveries, more than can be in
    /// flight, so that a backlog costs one claim, one body read and a few recording
    /// transactions per few hundred events instead of per slot freed. While deliveries keep
    /// coming the worker claims every [`claim_every`] (a tenth of the poll, 100 ms: the most a
    /// delivery waits for its claim under load) and at once when the last claim was capped and
    /// room came free; after finding nothing it polls every `poll_every`.
    ///
    /// A queued delivery is still leased to this process. It is only started while its lease has
    /// an attempt's time left ([`lease_allows`]), and an endpoint gets no more queued than it
    /// gets through in a fraction of the lease at its recent pace ([`allowance`]); one that
    /// waited too long is dropped here and attempted again once its lease runs out (never
    /// twice at once).
    async fn attempt_due(self, stop: CancellationToken, done: mpsc::Sender<Done>) {
        let settings = self.settings.clone();
        let cap = settings.concurrency_per_endpoint;
        let batch = (settings.concurrency as usize).saturating_mul(AHEAD).max(1);
        let permits = Arc::new(Semaphore::new(settings.concurrency as usize));
        let flights: Arc<Mutex<HashMap<Uuid, Flight>>> = Arc::default();
        let finished = Arc::new(Notify::new());
        let mut lanes: HashMap<Uuid, VecDeque<Queued>> = HashMap::new();
        let mut queued: usize = 0;
        let mut turn: usize = 0;
        let mut attempts = JoinSet::new();
        let mut sampled: Option<Instant> = None;
        // Claims that failed in a row: the poll backs off while the database is away, so that
        // the log and the breaker see one attempt every few seconds, not every poll.
        let mut failures: u32 = 0;
        // The last claim was capped (by the batch or an endpoint's allowance): more is due, to
        // be claimed as soon as there is room.
        let mut more_due = false;
        let mut next_claim = Instant::now();
        while !stop.is_cancelled() {
            while attempts.try_join_next().is_some() {}
            if sampled.is_none_or(|at| at.elapsed() >= BACKLOG_EVERY) {
                sampled = Some(Instant::now());
                self.sample_backlog().await;
            }
            turn = turn.wrapping_add(1);
            let started = Dispatch {
                deliverer: &self,
                cap,
                permits: &permits,
                flights: &flights,
                finished: &finished,
                done: &done,
            }
            .start(&mut lanes, &mut attempts, turn);
            queued = queued.saturating_sub(started);
            let in_flight =
                (settings.concurrency as usize).saturating_sub(permits.available_permits());
            let room = batch.saturating_sub(queued + in_flight);
            if room > 0 && room >= batch / 2 && (more_due || Instant::now() >= next_claim) {
                let Claim {
                    claimed,
                    rooms,
                    lease_until,
                } = self.claim(&settings, &flights, &lanes, room, batch).await;
                let claimed = match claimed {
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
                let mut per_endpoint: HashMap<Uuid, usize> = HashMap::new();
                for delivery in &claimed {
                    *per_endpoint.entry(delivery.endpoint_id).or_default() += 1;
                }
                more_due = claimed.len() >= room
                    || per_endpoint
                        .iter()
                        .any(|(endpoint, n)| *n >= rooms.get(endpoint).copied().unwrap_or(batch));
                next_claim = Instant::now()
                    + if claimed.is_empty() {
                        (settings.poll_every * 2u32.saturating_pow(failures.min(5))).min(MOST_PAUSE)
                    } else {
                        claim_every(&settings)
                    };
                queued += self.enqueue(claimed, lease_until, &mut lanes).await;
                // Start what was claimed at once.
                continue;
            }
            // Wait for a slot to free (which may start a queued attempt, or make room for a
            // capped backlog's next claim) or for the next claim's time.
            let wake = if more_due {
                Instant::now() + settings.poll_every
            } else {
                next_claim
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = finished.notified() => {}
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        while attempts.join_next().await.is_some() {}
    }

    /// One claim of at most `room` deliveries, with each endpoint's share: what was claimed,
    /// and the most each endpoint could have had (an endpoint not listed: `batch`).
    async fn claim(
        &self,
        settings: &WebhookSettings,
        flights: &Mutex<HashMap<Uuid, Flight>>,
        lanes: &HashMap<Uuid, VecDeque<Queued>>,
        room: usize,
        batch: usize,
    ) -> Claim {
        // The query caps every endpoint at `per_endpoint` less its `busy` count; an endpoint
        // this process knows is given its allowance that way: `busy` is what it holds (in
        // flight and queued) plus what its allowance falls short of the batch. One it has not
        // seen yet gets the batch; if it turns out slow, the lease check drops what it cannot
        // start in time, and its pace bounds the next claims.
        let mut busy: Vec<(Uuid, u32)> = Vec::new();
        let mut rooms: HashMap<Uuid, usize> = HashMap::new();
        {
            let flights = lock(flights);
            for (endpoint, flight) in flights.iter() {
                let held = flight.in_flight as usize + lanes.get(endpoint).map_or(0, VecDeque::len);
                // At most the batch: a per-endpoint cap above it (a small WEBHOOK_CONCURRENCY)
                // is bounded by the batch here, as by the global permits when attempts start.
                let allowed = allowance(settings, flight.pace, batch).min(batch);
                let room = allowed.saturating_sub(held);
                rooms.insert(*endpoint, room);
                busy.push((
                    *endpoint,
                    u32::try_from(batch.saturating_sub(room)).unwrap_or(u32::MAX),
                ));
            }
        }
        for (endpoint, lane) in lanes {
            if !rooms.contains_key(endpoint) {
                let room = batch.saturating_sub(lane.len());
                rooms.insert(*endpoint, room);
                busy.push((
                    *endpoint,
                    u32::try_from(batch.saturating_sub(room)).unwrap_or(u32::MAX),
                ));
            }
        }
        let now = now();
        let query = ClaimQuery {
            now,
            lease_until: now + chrono_duration(settings.lease),
            lease_token: Uuid::new_v4(),
            limit: u32::try_from(room).unwrap_or(u32::MAX),
            per_endpoint: u32::try_from(batch).unwrap_or(u32::MAX),
            busy,
        };
        Claim {
            claimed: self.store.claim_deliveries(&query).await,
            rooms,
            lease_until: query.lease_until,
        }
    }

    /// Reads the bodies and opens the secrets of what was claimed (each endpoint's once), and
    /// queues each delivery on its endpoint's lane; how many were queued.
    async fn enqueue(
        &self,
        claimed: Vec<ClaimedDelivery>,
        lease_until: DateTime<Utc>,
        lanes: &mut HashMap<Uuid, VecDeque<Queued>>,
    ) -> usize {
        if claimed.is_empty() {
            return 0;
        }
        let mut bodies = self.bodies(&claimed).await;
        let mut secrets: HashMap<Uuid, Arc<Result<Vec<WebhookSecret>, String>>> = HashMap::new();
        let mut n = 0;
        for delivery in claimed {
            // A delivery whose event could not be read is left to its lease.
            let Some(body) = bodies.remove(&delivery.id) else {
                continue;
            };
            let secrets = secrets
                .entry(delivery.endpoint_id)
                .or_insert_with(|| Arc::new(self.secrets(&delivery, now())))
                .clone();
            lanes
                .entry(delivery.endpoint_id)
                .or_default()
                .push_back(Queued {
                    delivery,
                    body,
                    secrets,
                    lease_until,
                });
            n += 1;
        }
        n
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
    async fn attempt(
        &self,
        delivery: ClaimedDelivery,
        body: Body,
        secrets: &Result<Vec<WebhookSecret>, String>,
    ) -> Done {
        let started_at = now();
        let clock = Instant::now();
        let (outcome, http_status, error, excerpt) = match body {
            Body::Gone => (
                AttemptOutcome::EventGone,
                None,
                Some("the event is no longer kept".to_owned()),
                None,
            ),
            Body::Ready(body) => match secrets {
                Err(why) => (AttemptOutcome::NotSent, None, Some(why.clone()), None),
                Ok(secrets) => {
                    let timestamp = started_at.timestamp();
                    let message = Message {
                        url: &delivery.url,
                        id: &delivery.event_id,
                        timestamp,
                        signature: signature_header(secrets, &delivery.event_id, timestamp, &body),
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
    /// signs (opened once per endpoint and claim: the previous one is left out if its last day
    /// ends before the claim, and kept for the attempts of that claim if it ends during them).
    /// The error says why not, naming no secret.
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
        if batch.len() < RECORD_BATCH {
            tokio::time::sleep(RECORD_GATHER).await;
            while batch.len() < RECORD_BATCH {
                match done.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
        }
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

/// What one claim brought: the deliveries, the most each endpoint could have had, and the
/// lease they are held under.
struct Claim {
    claimed: Result<Vec<ClaimedDelivery>, crate::store::StoreError>,
    rooms: HashMap<Uuid, usize>,
    lease_until: DateTime<Utc>,
}

/// A claimed delivery waiting in this process for a slot, with what its attempt needs.
struct Queued {
    delivery: ClaimedDelivery,
    body: Body,
    secrets: Arc<Result<Vec<WebhookSecret>, String>>,
    lease_until: DateTime<Utc>,
}

/// What this process knows of an endpoint: its attempts in flight, and how long its recent
/// attempts took (quick to rise, slow to fall), which bounds how many of its deliveries a claim
/// may queue.
#[derive(Clone, Copy, Debug, Default)]
struct Flight {
    in_flight: u32,
    pace: Option<Duration>,
}

/// The most endpoints remembered; past it, those with nothing in flight are forgotten.
const MOST_REMEMBERED: usize = 10_000;

/// Starts queued attempts within the bounds.
struct Dispatch<'a> {
    deliverer: &'a Deliverer,
    cap: u32,
    permits: &'a Arc<Semaphore>,
    flights: &'a Arc<Mutex<HashMap<Uuid, Flight>>>,
    finished: &'a Arc<Notify>,
    done: &'a mpsc::Sender<Done>,
}

impl Dispatch<'_> {
    /// Starts what the global and per-endpoint bounds allow, each endpoint's oldest first, the
    /// endpoints in turns (`turn` rotates which goes first, so that none waits behind the same
    /// others every time); how many left the queues (started, or dropped because their lease
    /// no longer leaves an attempt's time).
    fn start(
        &self,
        lanes: &mut HashMap<Uuid, VecDeque<Queued>>,
        attempts: &mut JoinSet<()>,
        turn: usize,
    ) -> usize {
        if lanes.is_empty() {
            return 0;
        }
        let settings = &self.deliverer.settings;
        let mut order: Vec<Uuid> = lanes.keys().copied().collect();
        order.sort_unstable();
        let len = order.len();
        order.rotate_left(turn % len);
        let mut left = 0;
        'endpoints: for endpoint in order {
            let Some(lane) = lanes.get_mut(&endpoint) else {
                continue;
            };
            while let Some(next) = lane.front() {
                if !lease_allows(settings, next.lease_until, now()) {
                    lane.pop_front();
                    left += 1;
                    tracing::debug!(%endpoint, "a queued webhook delivery's lease ran short; attempted again once it runs out");
                    continue;
                }
                {
                    let mut flights = lock(self.flights);
                    let flight = flights.entry(endpoint).or_default();
                    if flight.in_flight >= self.cap {
                        break;
                    }
                    let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                        break 'endpoints;
                    };
                    flight.in_flight += 1;
                    let Some(Queued {
                        delivery,
                        body,
                        secrets,
                        ..
                    }) = lane.pop_front()
                    else {
                        break;
                    };
                    left += 1;
                    let slot = Slot {
                        endpoint,
                        flights: self.flights.clone(),
                        finished: self.finished.clone(),
                        permit: Some(permit),
                    };
                    let this = self.deliverer.clone();
                    let done = self.done.clone();
                    attempts.spawn(async move {
                        let outcome = this.attempt(delivery, body, &secrets).await;
                        slot.paced(outcome.took);
                        // The slot is given back once the outcome is queued for recording; the
                        // delivery stays leased until it is recorded, so no claim takes it
                        // again.
                        let _ = done.send(outcome).await;
                        drop(slot);
                    });
                }
            }
        }
        lanes.retain(|_, lane| !lane.is_empty());
        let mut flights = lock(self.flights);
        if flights.len() > MOST_REMEMBERED {
            flights.retain(|_, flight| flight.in_flight > 0);
        }
        left
    }
}

/// How many of an endpoint's deliveries this process may hold (in flight and queued) at its
/// recent pace: its in-flight cap, plus as many as it gets through in half the time its lease
/// leaves after an attempt, at most `batch`. An endpoint not seen yet: the batch (its first
/// attempts set its pace).
fn allowance(settings: &WebhookSettings, pace: Option<Duration>, batch: usize) -> usize {
    let cap = settings.concurrency_per_endpoint as usize;
    let Some(pace) = pace else {
        return batch;
    };
    let spare = settings.lease.saturating_sub(settings.timeout) / 2;
    let rounds = spare.as_secs_f64() / pace.as_secs_f64().max(1e-4);
    let ahead = (cap as f64 * rounds).min(batch as f64) as usize;
    (cap + ahead).min(batch.max(cap))
}

/// Whether a queued delivery's lease, which ends at `lease_until`, still leaves an attempt's
/// time (the timeout) and a margin to record it, so that the lease cannot run out and another
/// worker take the delivery while this attempt is still made.
fn lease_allows(
    settings: &WebhookSettings,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let margin = (settings.lease.saturating_sub(settings.timeout) / 2).min(Duration::from_secs(1));
    lease_until - now >= chrono_duration(settings.timeout + margin)
}

/// How often the worker claims while deliveries keep coming: a tenth of the poll (100 ms by
/// default), so that a backlog is claimed a few hundred at a time at the cost of that much
/// added delay.
fn claim_every(settings: &WebhookSettings) -> Duration {
    settings.poll_every / 10
}

/// An attempt's place in the bounds: its permit of the global semaphore and its count in its
/// endpoint's in-flight number, both given back when it is dropped (also when the attempt
/// panicked or was aborted, so that no slot leaks).
struct Slot {
    endpoint: Uuid,
    flights: Arc<Mutex<HashMap<Uuid, Flight>>>,
    finished: Arc<Notify>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Slot {
    /// Counts an attempt's duration into its endpoint's pace.
    fn paced(&self, took: Duration) {
        let mut flights = lock(&self.flights);
        let flight = flights.entry(self.endpoint).or_default();
        flight.pace = Some(match flight.pace {
            Some(pace) if pace > took => (pace * 7 + took) / 8,
            _ => took,
        });
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut flights = lock(&self.flights);
        if let Some(flight) = flights.get_mut(&self.endpoint) {
            flight.in_flight = flight.in_flight.saturating_sub(1);
        }
        drop(flights);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_gets_no_more_queued_than_it_gets_through_in_half_its_spare_lease() {
        // Defaults: 16 in flight per endpoint, lease 60 s, timeout 15 s: 22.5 s to spare.
        let settings = WebhookSettings::default();
        let batch = 256;
        // Unknown: the batch; fast: the batch; a 15 s endpoint: its cap and 1.5 times as many more.
        assert_eq!(allowance(&settings, None, batch), batch);
        assert_eq!(
            allowance(&settings, Some(Duration::from_millis(1)), batch),
            batch
        );
        assert_eq!(
            allowance(&settings, Some(Duration::from_secs(15)), batch),
            16 + 24
        );
        assert_eq!(
            allowance(&settings, Some(Duration::from_secs(45)), batch),
            16 + 8
        );
    }

    #[test]
    fn a_queued_delivery_starts_only_while_its_lease_leaves_an_attempts_time() {
        let settings = WebhookSettings::default();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let fresh = now + chrono_duration(settings.lease);
        assert!(lease_allows(&settings, fresh, now));
        // 15 s timeout and a 1 s margin.
        assert!(lease_allows(
            &settings,
            now + chrono::Duration::seconds(16),
            now
        ));
        assert!(!lease_allows(
            &settings,
            now + chrono::Duration::milliseconds(15_999),
            now
        ));
        // The shortest lease allowed (the timeout and a second) still lets a fresh claim start.
        let short = WebhookSettings {
            lease: settings.timeout + Duration::from_secs(1),
            ..settings.clone()
        };
        assert!(lease_allows(
            &short,
            now + chrono_duration(short.lease),
            now
        ));
    }
}
