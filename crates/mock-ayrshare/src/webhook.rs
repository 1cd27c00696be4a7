//! Webhook delivery: the signed `scheduled` action Ayrshare sends when a post is published
//! outside the request that created it, and the `social` action of a link or unlink, retried
//! with backoff when the receiver fails.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Semaphore;

use super::accounts::{Change, SocialEvent, Source};
use super::platforms::Platform;
use super::post::format_time;
use super::store::{Clock, Published};

/// The header with the Unix time (seconds) of the delivery attempt.
pub const TIMESTAMP_HEADER: &str = "X-Authorization-Timestamp";

/// The header with the lowercase hex HMAC-SHA256 of the raw body, keyed by the secret.
pub const SIGNATURE_HEADER: &str = "X-Authorization-Content-SHA256";

/// The waits before each retry of a failed delivery: four attempts in all over about 7 s.
pub(super) const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// How long one delivery attempt may take (Ayrshare gives receivers 10 s).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most deliveries in progress (retries included); beyond it new ones are dropped and
/// logged, so a dead receiver cannot grow the mock's memory without bound.
const MAX_IN_FLIGHT: usize = 1_000;

/// Where `scheduled` webhooks go, and the secret that signs them.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// An `http://` or `https://` URL.
    pub url: String,
    /// Signs each delivery (`X-Authorization-Content-SHA256`); `None` sends them unsigned.
    pub secret: Option<String>,
}

// By hand, so that the secret never lands in a log line.
impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Checks that `url` is an absolute `http(s)` URL, as a delivery needs.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
        Ok(_) => Err(format!("{url:?} is not an http:// or https:// URL")),
        Err(e) => Err(format!("{url:?} is not a URL: {e}")),
    }
}

/// The signature of a delivery: lowercase hex HMAC-SHA256 of the raw `body` keyed by `secret`,
/// as in the `X-Authorization-Content-SHA256` header.
pub fn signature(secret: &str, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length: this arm is never taken.
        Err(_) => String::new(),
    }
}

/// The body of the `scheduled` action for a published post.
pub(super) fn payload(published: &Published, url: &str, hook_id: &str) -> Value {
    let post = &published.post;
    let failed = !post.errors.is_empty();
    let mut body = json!({
        "action": "scheduled",
        "created": format_time(post.published_at.unwrap_or(post.created)),
        "code": if failed { 400 } else { 200 },
        "refId": post.profile.ref_id(),
        "status": if failed { "error" } else { "success" },
        "id": post.id,
        "errors": post.errors,
        "postIds": post.post_ids,
        "url": url,
        "hookId": hook_id,
    });
    if published.after_processing && post.platforms.contains(&Platform::Tiktok) {
        body["subAction"] = json!("tikTokPublished");
    }
    body
}

/// The body of the `social` action for a link or an unlink.
pub(super) fn social_payload(event: &SocialEvent, url: &str, hook_id: &str) -> Value {
    let mut body = json!({
        "action": "social",
        "type": match event.change { Change::Link => "link", Change::Unlink => "unlink" },
        "platform": event.account.platform.name(),
        "refId": event.profile.ref_id(),
        "source": match event.source { Source::User => "user", Source::System => "system" },
        "created": format_time(event.at),
        "code": 200,
        "displayName": event.account.display_name,
        "url": url,
        "hookId": hook_id,
    });
    if event.source == Source::System {
        let code = super::faults::Fault::ExpiredToken.code(event.account.platform);
        body["details"] = json!({
            "status": "error",
            "code": code,
            "message": format!(
                "{} token expired or revoked: Ayrshare unlinked the account.",
                event.account.platform.display_name()
            ),
        });
    }
    body
}

/// Sends deliveries in the background, each with its retries.
pub(super) struct Sender {
    client: reqwest::Client,
    retry_delays: Vec<Duration>,
    in_flight: Arc<Semaphore>,
    clock: Clock,
}

impl Sender {
    pub(super) fn new(clock: Clock, retry_delays: Vec<Duration>) -> Sender {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Sender {
            client,
            retry_delays,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            clock,
        }
    }

    /// Starts delivering `body` (the event of `post_id`, a post or a platform) to `target` in the
    /// background.
    /// Outside a Tokio runtime, or with too many deliveries in progress, it is dropped and logged.
    pub(super) fn deliver(&self, target: WebhookTarget, body: Value, post_id: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(%post_id, "mock ayrshare dropped a webhook: no async runtime");
            return;
        };
        let Ok(permit) = Arc::clone(&self.in_flight).try_acquire_owned() else {
            tracing::warn!(%post_id, "mock ayrshare dropped a webhook: {MAX_IN_FLIGHT} in progress");
            return;
        };
        let attempt = Attempt {
            client: self.client.clone(),
            target,
            body: body.to_string().into_bytes(),
            post_id: post_id.to_owned(),
            clock: Arc::clone(&self.clock),
        };
        let delays = self.retry_delays.clone();
        runtime.spawn(async move {
            attempt.run(&delays).await;
            drop(permit);
        });
    }
}

/// One delivery and what it needs for its attempts.
struct Attempt {
    client: reqwest::Client,
    target: WebhookTarget,
    body: Vec<u8>,
    post_id: String,
    clock: Clock,
}

impl Attempt {
    /// Sends until the receiver answers 2xx, waiting `delays` between attempts.
    async fn run(&self, delays: &[Duration]) {
        let url = &self.target.url;
        let post_id = &self.post_id;
        for attempt in 0..=delays.len() {
            if let Some(delay) = attempt.checked_sub(1).and_then(|index| delays.get(index)) {
                tokio::time::sleep(*delay).await;
            }
            match self.send().await {
                Ok(status) if status.is_success() => {
                    tracing::info!(%post_id, %url, attempt = attempt + 1, "mock ayrshare delivered a webhook");
                    return;
                }
                Ok(status) => {
                    tracing::warn!(%post_id, %url, attempt = attempt + 1, %status, "webhook refused");
                }
                Err(e) => {
                    tracing::warn!(%post_id, %url, attempt = attempt + 1, error = %e, "webhook failed");
                }
            }
        }
        tracing::error!(%post_id, %url, "mock ayrshare gave up delivering a webhook");
    }

    async fn send(&self) -> Result<reqwest::StatusCode, reqwest::Error> {
        let mut request = self
            .client
            .post(&self.target.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, (self.clock)().timestamp().to_string());
        if let Some(secret) = &self.target.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, &self.body));
        }
        let response = request.body(self.body.clone()).send().await?;
        Ok(response.status())
    }
}
