//! The events family's settings, read from their own variables (`config.rs` assembles them):
//! the feed's retention, and how webhook endpoints are accepted and delivered to.

use std::time::Duration;

use crate::config::{ConfigError, Vars};

/// The events family's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSettings {
    /// How long an event is kept (`EVENT_RETENTION_DAYS`, default 30).
    pub retention: Duration,
    /// Webhook endpoints and their delivery.
    pub webhooks: WebhookSettings,
}

/// The most days an event may be kept.
pub const MAX_RETENTION_DAYS: u64 = 3650;

/// How endpoints are accepted and how events are delivered to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The most endpoints one organization may have (`WEBHOOK_MAX_ENDPOINTS`, default 10).
    pub max_endpoints: u32,
    /// Endpoints may resolve to loopback, private and other internal addresses
    /// (`WEBHOOK_ALLOW_PRIVATE_TARGETS`, default false): for development only.
    pub allow_private_targets: bool,
    /// Endpoints may be `http://` (`WEBHOOK_ALLOW_HTTP`, default false): for development only.
    pub allow_http: bool,
    /// Whether this process delivers (`WEBHOOK_DELIVERY`, default true): a replica may leave
    /// delivery to the others.
    pub deliver: bool,
    /// The most deliveries in flight in this process (`WEBHOOK_CONCURRENCY`, default 64).
    pub concurrency: u32,
    /// The most deliveries in flight to one endpoint from this process
    /// (`WEBHOOK_CONCURRENCY_PER_ENDPOINT`, default 16).
    pub concurrency_per_endpoint: u32,
    /// The wait after each failed attempt, before the next (`WEBHOOK_RETRY_SCHEDULE`, seconds
    /// separated by commas; default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): once they are
    /// used up the event has failed for that endpoint.
    pub retry_schedule: Vec<Duration>,
    /// An endpoint whose every attempt failed for this long is disabled
    /// (`WEBHOOK_DISABLE_AFTER_HOURS`, default 120).
    pub disable_after: Duration,
    /// How long one attempt may take, connection included (15 s, as Standard Webhooks' senders).
    pub timeout: Duration,
    /// How long a claimed delivery stays leased to the process attempting it; past it, another
    /// process (or this one after a restart) attempts it again (`WEBHOOK_LEASE_SECONDS`,
    /// default 60, at least the timeout).
    pub lease: Duration,
    /// How often the worker looks for due deliveries when it found none (1 s).
    pub poll_every: Duration,
}

/// The waits between attempts Standard Webhooks' senders commonly use.
pub const DEFAULT_RETRY_SCHEDULE: [u64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            max_endpoints: 10,
            allow_private_targets: false,
            allow_http: false,
            deliver: true,
            concurrency: 64,
            concurrency_per_endpoint: 16,
            retry_schedule: DEFAULT_RETRY_SCHEDULE
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            disable_after: Duration::from_secs(120 * 3600),
            timeout: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            poll_every: Duration::from_secs(1),
        }
    }
}

impl EventSettings {
    /// Reads `EVENT_RETENTION_DAYS` (1 to 3650) and the webhook settings.
    pub fn read(vars: &Vars) -> Result<EventSettings, ConfigError> {
        let days = vars.number("EVENT_RETENTION_DAYS", 30, 1..=MAX_RETENTION_DAYS)?;
        Ok(EventSettings {
            retention: Duration::from_secs(days * 24 * 3600),
            webhooks: WebhookSettings::read(vars)?,
        })
    }
}

impl WebhookSettings {
    /// Reads the `WEBHOOK_*` delivery settings.
    pub fn read(vars: &Vars) -> Result<WebhookSettings, ConfigError> {
        let defaults = WebhookSettings::default();
        let timeout = defaults.timeout;
        Ok(WebhookSettings {
            max_endpoints: vars.number("WEBHOOK_MAX_ENDPOINTS", 10, 1..=1000)? as u32,
            allow_private_targets: vars.flag("WEBHOOK_ALLOW_PRIVATE_TARGETS", false)?,
            allow_http: vars.flag("WEBHOOK_ALLOW_HTTP", false)?,
            deliver: vars.flag("WEBHOOK_DELIVERY", true)?,
            concurrency: vars.number("WEBHOOK_CONCURRENCY", 64, 1..=1024)? as u32,
            concurrency_per_endpoint: vars.number(
                "WEBHOOK_CONCURRENCY_PER_ENDPOINT",
                16,
                1..=256,
            )? as u32,
            retry_schedule: match vars.get("WEBHOOK_RETRY_SCHEDULE") {
                None => defaults.retry_schedule,
                Some(text) => parse_schedule(&text)?,
            },
            disable_after: Duration::from_secs(
                vars.number("WEBHOOK_DISABLE_AFTER_HOURS", 120, 1..=24 * 365)? * 3600,
            ),
            timeout,
            lease: Duration::from_secs(vars.number(
                "WEBHOOK_LEASE_SECONDS",
                60,
                timeout.as_secs() + 1..=3600,
            )?),
            poll_every: defaults.poll_every,
        })
    }
}

/// The most retries a schedule may list.
const MAX_RETRIES: usize = 20;

/// `WEBHOOK_RETRY_SCHEDULE`: whole seconds (0 to 86,400) separated by commas, at most 20.
fn parse_schedule(text: &str) -> Result<Vec<Duration>, ConfigError> {
    const NAME: &str = "WEBHOOK_RETRY_SCHEDULE";
    let waits: Vec<Duration> = text
        .split(',')
        .map(|part| match part.trim().parse::<u64>() {
            Ok(seconds) if seconds <= 86_400 => Ok(Duration::from_secs(seconds)),
            _ => Err(ConfigError::new(
                NAME,
                format!(
                    "'{}' is not a whole number of seconds from 0 to 86400",
                    part.trim()
                ),
            )),
        })
        .collect::<Result<_, _>>()?;
    if waits.len() > MAX_RETRIES {
        return Err(ConfigError::new(
            NAME,
            format!("lists {} waits; at most {MAX_RETRIES}", waits.len()),
        ));
    }
    Ok(waits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<EventSettings, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        EventSettings::read(&Vars::new(&lookup))
    }

    #[test]
    fn unset_variables_give_the_documented_defaults() {
        let settings = read(&[]).unwrap();
        assert_eq!(settings.retention, Duration::from_secs(30 * 24 * 3600));
        let webhooks = settings.webhooks;
        assert_eq!(webhooks, WebhookSettings::default());
        assert_eq!(webhooks.max_endpoints, 10);
        assert!(!webhooks.allow_private_targets && !webhooks.allow_http && webhooks.deliver);
        assert_eq!(webhooks.retry_schedule.len(), 7);
        assert_eq!(webhooks.retry_schedule[1], Duration::from_secs(300));
        assert_eq!(webhooks.disable_after, Duration::from_secs(120 * 3600));
        assert_eq!(webhooks.lease, Duration::from_secs(60));
    }

    #[test]
    fn each_variable_is_read() {
        let webhooks = read(&[
            ("WEBHOOK_MAX_ENDPOINTS", "3"),
            ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
            ("WEBHOOK_ALLOW_HTTP", "yes"),
            ("WEBHOOK_DELIVERY", "false"),
            ("WEBHOOK_CONCURRENCY", "8"),
            ("WEBHOOK_CONCURRENCY_PER_ENDPOINT", "2"),
            ("WEBHOOK_RETRY_SCHEDULE", "1, 2,0"),
            ("WEBHOOK_DISABLE_AFTER_HOURS", "2"),
            ("WEBHOOK_LEASE_SECONDS", "16"),
        ])
        .unwrap()
        .webhooks;
        assert_eq!(webhooks.max_endpoints, 3);
        assert!(webhooks.allow_private_targets && webhooks.allow_http && !webhooks.deliver);
        assert_eq!(
            (webhooks.concurrency, webhooks.concurrency_per_endpoint),
            (8, 2)
        );
        assert_eq!(
            webhooks.retry_schedule,
            [1, 2, 0].map(Duration::from_secs).to_vec()
        );
        assert_eq!(webhooks.disable_after, Duration::from_secs(7200));
        assert_eq!(webhooks.lease, Duration::from_secs(16));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("WEBHOOK_MAX_ENDPOINTS", "0"),
            ("WEBHOOK_ALLOW_HTTP", "maybe"),
            ("WEBHOOK_RETRY_SCHEDULE", "5,x"),
            ("WEBHOOK_RETRY_SCHEDULE", "86401"),
            ("WEBHOOK_LEASE_SECONDS", "15"),
            ("WEBHOOK_CONCURRENCY_PER_ENDPOINT", "257"),
        ] {
            let error = read(&[(name, value)]).unwrap_err();
            assert!(error.to_string().contains(name), "{name}={value}: {error}");
        }
        let twenty = vec!["1"; 20].join(",");
        assert_eq!(
            read(&[("WEBHOOK_RETRY_SCHEDULE", &twenty)])
                .unwrap()
                .webhooks
                .retry_schedule
                .len(),
            20
        );
        let too_many = vec!["1"; 21].join(",");
        assert!(read(&[("WEBHOOK_RETRY_SCHEDULE", &too_many)]).is_err());
    }

    #[test]
    fn events_are_kept_thirty_days_unless_told_from_one_to_ten_years() {
        const DAY: u64 = 24 * 3600;
        let days = |value: &str| read(&[("EVENT_RETENTION_DAYS", value)]);
        assert_eq!(read(&[]).unwrap().retention, Duration::from_secs(30 * DAY));
        assert_eq!(days("1").unwrap().retention, Duration::from_secs(DAY));
        assert_eq!(
            days("3650").unwrap().retention,
            Duration::from_secs(3650 * DAY)
        );
        for bad in ["0", "3651", "-1", "30d", "1.5"] {
            let error = days(bad).unwrap_err().to_string();
            assert!(error.contains("EVENT_RETENTION_DAYS"), "{bad}: {error}");
        }
    }
}
