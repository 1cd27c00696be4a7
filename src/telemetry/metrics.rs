//! Prometheus metrics: the one place that names every metric the service exports, with a named
//! function for each thing worth counting. Code that observes something calls a function here
//! (`metrics::record_transition(from, to)`), never the `metrics` macros with a name of its own,
//! so that names and labels stay consistent and each is documented once, in
//! `docs/operations.md`.
//!
//! The recorder is global to the process (the `metrics` crate's design): [`install`] sets it up
//! once, however many apps a process builds (the tests build many); before it runs, every
//! function here is a no-op. Label values are bounded sets (route templates, never raw paths;
//! the standard methods and `other`; status words; endpoint names), so the number of series
//! stays small however hostile the requests: every label is a `&'static str` or a status code,
//! except `route`, which is one of the router's own templates.

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use axum::http::Method;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::TrackedStatus;
use crate::store::PoolStats;

/// HTTP requests answered: `method`, `route` (the matched template), `status`.
pub const HTTP_REQUESTS: &str = "mosaic_http_requests_total";
/// Time to answer an HTTP request, in seconds: `method`, `route`.
pub const HTTP_DURATION: &str = "mosaic_http_request_duration_seconds";
/// Calls to Ayrshare: `endpoint`, `outcome`.
pub const AYRSHARE_CALLS: &str = "mosaic_ayrshare_calls_total";
/// Time an Ayrshare call took, retries included, in seconds: `endpoint`, `outcome`.
pub const AYRSHARE_DURATION: &str = "mosaic_ayrshare_call_duration_seconds";
/// Tracking records moved from one `tracked_status` to another: `from`, `to`.
pub const TRANSITIONS: &str = "mosaic_tracking_transitions_total";
/// Requests this service refused with its own 429: `kind`.
pub const RATE_LIMIT_REFUSALS: &str = "mosaic_rate_limit_refusals_total";
/// Reconciler passes: `outcome`.
pub const RECONCILER_PASSES: &str = "mosaic_reconciler_passes_total";
/// Records a reconciler pass examined and settled: `result` (`examined`, `settled`).
pub const RECONCILER_RECORDS: &str = "mosaic_reconciler_records_total";
/// Time a reconciler pass took, in seconds.
pub const RECONCILER_DURATION: &str = "mosaic_reconciler_pass_duration_seconds";
/// Ayrshare webhooks received: `outcome`.
pub const WEBHOOKS: &str = "mosaic_webhooks_received_total";
/// Webhook delivery attempts recorded: `outcome` (`delivered`, `retrying`, `failed`,
/// `endpoint_disabled`, `lease_lost`).
pub const WEBHOOK_DELIVERIES: &str = "mosaic_webhook_deliveries_total";
/// Time a webhook delivery attempt took, in seconds: `outcome`.
pub const WEBHOOK_ATTEMPT_DURATION: &str = "mosaic_webhook_attempt_duration_seconds";
/// Pending webhook deliveries to enabled endpoints, in the whole database (sampled by each
/// delivering process).
pub const WEBHOOK_QUEUE_DEPTH: &str = "mosaic_webhook_queue_depth";
/// How long the oldest pending webhook delivery to an enabled endpoint has waited, in seconds
/// (0 with none).
pub const WEBHOOK_OLDEST_PENDING: &str = "mosaic_webhook_oldest_pending_seconds";
/// Database connections, sampled when `/metrics` is scraped: `state` (`in_use`, `idle`).
pub const DB_POOL_CONNECTIONS: &str = "mosaic_db_pool_connections";
/// The most connections the pool may open (`DATABASE_MAX_CONNECTIONS`).
pub const DB_POOL_MAX: &str = "mosaic_db_pool_max_connections";

/// Histogram buckets, in seconds: from a quick read to the longest Ayrshare timeout plus the
/// recording allowance.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 610.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle) and describes
/// every metric.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .expect("the buckets are not empty");
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder was installed first (only an embedding program could): keep
                // a private one so that /metrics still renders, if emptily.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            };
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request"
    );
    describe_counter!(AYRSHARE_CALLS, "Calls to Ayrshare, by endpoint and outcome");
    describe_histogram!(
        AYRSHARE_DURATION,
        Unit::Seconds,
        "Time an Ayrshare call took, retries included"
    );
    describe_counter!(
        TRANSITIONS,
        "Tracking records moved between tracked_status values"
    );
    describe_counter!(
        RATE_LIMIT_REFUSALS,
        "Requests refused with this service's own 429, by kind"
    );
    describe_counter!(RECONCILER_PASSES, "Reconciler passes, by outcome");
    describe_counter!(
        RECONCILER_RECORDS,
        "Records reconciler passes examined and settled"
    );
    describe_histogram!(
        RECONCILER_DURATION,
        Unit::Seconds,
        "Time a reconciler pass took"
    );
    describe_counter!(WEBHOOKS, "Ayrshare webhooks received, by outcome");
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts recorded, by outcome"
    );
    describe_histogram!(
        WEBHOOK_ATTEMPT_DURATION,
        Unit::Seconds,
        "Time a webhook delivery attempt took"
    );
    describe_gauge!(
        WEBHOOK_QUEUE_DEPTH,
        "Pending webhook deliveries to enabled endpoints"
    );
    describe_gauge!(
        WEBHOOK_OLDEST_PENDING,
        Unit::Seconds,
        "How long the oldest pending webhook delivery has waited"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database pool connections now, by state"
    );
    describe_gauge!(
        DB_POOL_MAX,
        "The most connections the database pool may open"
    );
}

/// The Prometheus text of every metric, after sampling the database pool.
pub fn render(pool: PoolStats) -> String {
    let handle = install();
    gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(pool.in_use()));
    gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
    gauge!(DB_POOL_MAX).set(f64::from(pool.max));
    handle.render()
}

/// Drains recorded histogram samples into their buckets, so that memory stays bounded between
/// scrapes; run every few seconds while serving.
pub fn upkeep() {
    if let Some(handle) = HANDLE.get() {
        handle.run_upkeep();
    }
}

/// One HTTP request answered. `route` is the matched template (`/social/post/{post_id}`), or
/// `unmatched` for the fallback: never the raw path, which would put ids into labels. The method
/// is folded by [`method_label`]: a caller chooses it, and every new label value is a series
/// kept until the process ends.
pub fn http_request(method: &Method, route: &str, status: u16, elapsed: Duration) {
    let (method, route) = (method_label(method), route.to_owned());
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    ::metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route)
        .record(elapsed.as_secs_f64());
}

/// The `method` label: one of HTTP's nine standard methods, or `other` for any extension method
/// (hyper accepts any token up to the head's 64 KiB).
pub fn method_label(method: &Method) -> &'static str {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];
    STANDARD
        .iter()
        .find(|standard| *standard == method)
        .map_or("other", Method::as_str)
}

/// How an Ayrshare call ended, as the `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// Ayrshare answered with this HTTP status.
    Answered(u16),
    /// Nothing left this service (connection refused, DNS, connect timeout).
    NotSent,
    /// Sent (or maybe sent), and no complete answer came back.
    OutcomeUnknown,
    /// Not sent: the profile is held off after Ayrshare's 429.
    HeldOff,
}

impl CallOutcome {
    /// `2xx`, `4xx`, `429`, `5xx`, `not_sent`, `outcome_unknown`, `held_off`.
    pub fn label(self) -> &'static str {
        match self {
            CallOutcome::Answered(429) => "429",
            CallOutcome::Answered(s) if s < 300 => "2xx",
            CallOutcome::Answered(s) if s < 400 => "3xx",
            CallOutcome::Answered(s) if s < 500 => "4xx",
            CallOutcome::Answered(_) => "5xx",
            CallOutcome::NotSent => "not_sent",
            CallOutcome::OutcomeUnknown => "outcome_unknown",
            CallOutcome::HeldOff => "held_off",
        }
    }
}

/// One call to Ayrshare. `endpoint` names the route, not the URL (`POST /post`,
/// `GET /post/{id}`).
pub fn ayrshare_call(endpoint: &'static str, outcome: CallOutcome, elapsed: Duration) {
    let outcome = outcome.label();
    counter!(AYRSHARE_CALLS, "endpoint" => endpoint, "outcome" => outcome).increment(1);
    ::metrics::histogram!(AYRSHARE_DURATION, "endpoint" => endpoint, "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// A tracking record moved: `from` is `None` for a record just written (`none` → `pending`).
/// Call it where a record changes state, with the state before and after; nothing when the
/// state stayed the same.
pub fn record_transition(from: Option<TrackedStatus>, to: TrackedStatus) {
    if from == Some(to) {
        return;
    }
    let from = from.map_or("none", |s| s.as_str());
    counter!(TRANSITIONS, "from" => from, "to" => to.as_str()).increment(1);
}

/// Why this service answered 429 itself, as the `kind` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// The caller's API key is over `RATE_LIMIT_PER_MINUTE` / `RATE_LIMIT_BURST`.
    ApiKey,
    /// The workspace's Ayrshare profile is held off after Ayrshare's 429.
    AyrshareProfile,
}

/// A request refused with our own 429, without calling Ayrshare.
pub fn rate_limit_refused(kind: RefusalKind) {
    let kind = match kind {
        RefusalKind::ApiKey => "api_key",
        RefusalKind::AyrshareProfile => "ayrshare_profile",
    };
    counter!(RATE_LIMIT_REFUSALS, "kind" => kind).increment(1);
}

/// One reconciler pass: `outcome` is `ok` or `error` (the pass itself failed, e.g. the database
/// was down); `examined` records were looked at, `settled` of them moved to a final state.
pub fn reconciler_pass(outcome: &'static str, examined: u64, settled: u64, elapsed: Duration) {
    counter!(RECONCILER_PASSES, "outcome" => outcome).increment(1);
    counter!(RECONCILER_RECORDS, "result" => "examined").increment(examined);
    counter!(RECONCILER_RECORDS, "result" => "settled").increment(settled);
    ::metrics::histogram!(RECONCILER_DURATION).record(elapsed.as_secs_f64());
}

/// One Ayrshare webhook received. `outcome` is a short fixed word (`applied`, `ignored`,
/// `unknown_post`, `bad_signature`, `malformed`, ...): never anything taken from the request.
pub fn webhook_received(outcome: &'static str) {
    counter!(WEBHOOKS, "outcome" => outcome).increment(1);
}

/// One webhook delivery attempt recorded; `outcome` is one of the fixed words of
/// [`WEBHOOK_DELIVERIES`].
pub fn webhook_attempt(outcome: &'static str, elapsed: Duration) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
    ::metrics::histogram!(WEBHOOK_ATTEMPT_DURATION, "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// The webhook queue as last sampled: pending deliveries, and the oldest one's wait.
pub fn webhook_backlog(pending: i64, oldest: Duration) {
    gauge!(WEBHOOK_QUEUE_DEPTH).set(pending as f64);
    gauge!(WEBHOOK_OLDEST_PENDING).set(oldest.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ayrshare_outcomes_have_few_labels() {
        assert_eq!(CallOutcome::Answered(200).label(), "2xx");
        assert_eq!(CallOutcome::Answered(429).label(), "429");
        assert_eq!(CallOutcome::Answered(404).label(), "4xx");
        assert_eq!(CallOutcome::Answered(503).label(), "5xx");
        assert_eq!(CallOutcome::NotSent.label(), "not_sent");
    }

    #[test]
    fn methods_fold_into_the_standard_nine_and_other() {
        for standard in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ] {
            let method = Method::from_bytes(standard.as_bytes()).unwrap();
            assert_eq!(method_label(&method), standard);
        }
        for extension in ["get", "PROPFIND", "BREW", &"X".repeat(2_000)] {
            let method = Method::from_bytes(extension.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{extension:.20}");
        }
    }

    #[test]
    fn rendering_shows_what_was_recorded() {
        install();
        record_transition(None, TrackedStatus::Pending);
        record_transition(Some(TrackedStatus::Pending), TrackedStatus::Pending);
        http_request(&Method::GET, "/unit/{id}", 200, Duration::from_millis(3));
        let text = render(PoolStats {
            size: 3,
            idle: 1,
            max: 10,
        });
        assert!(
            text.contains(r#"mosaic_tracking_transitions_total{from="none",to="pending"}"#),
            "{text}"
        );
        assert!(!text.contains(r#"from="pending",to="pending""#), "{text}");
        assert!(
            text.contains(r#"mosaic_db_pool_connections{state="in_use"} 2"#),
            "{text}"
        );
        assert!(text.contains("mosaic_db_pool_max_connections 10"), "{text}");
        assert!(text.contains(r#"mosaic_http_request_duration_seconds_bucket{method="GET",route="/unit/{id}",le="0.005"} 1"#), "{text}");
    }
}
