//! The Ayrshare client: one `reqwest::Client` built once, telling "nothing was sent" apart from
//! "sent, outcome unknown". The outbound policy: a connect timeout within a total timeout; a call
//! that provably never left is retried at most twice (`retry`), one that may have reached
//! Ayrshare never; a profile that Ayrshare rate-limits is left alone until its window passes
//! (`hold_off`); background work (the reconciler) uses only a share of each profile's limit
//! (`share`).

pub mod hold_off;
pub mod retry;
pub mod share;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::redirect::Policy;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

pub use hold_off::{HoldOff, Profile};
pub use retry::RetryPolicy;
pub use share::BackgroundShare;

use crate::domain::{DeliveryFailure, ProviderAnswer};
use crate::telemetry::metrics::{self, CallOutcome, RefusalKind};

/// The customer's own X app credentials, sent on every call that involves X.
#[derive(Clone)]
pub struct XCredentials {
    pub api_key: SecretString,
    pub api_secret: SecretString,
}

impl fmt::Debug for XCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("XCredentials([redacted])")
    }
}

/// How to reach Ayrshare.
#[derive(Clone, Debug)]
pub struct AyrshareSettings {
    /// For example `https://api.ayrshare.com/api`; paths are appended to it.
    pub base_url: Url,
    pub api_key: SecretString,
    /// The bound on a whole call, connecting and retries included.
    pub timeout: Duration,
    /// The bound on connecting (DNS, TCP, TLS) in each attempt; at most `timeout`.
    pub connect_timeout: Duration,
    pub x_credentials: Option<XCredentials>,
    /// Retries of calls that never left.
    pub retry: RetryPolicy,
    /// How long a profile is held after a 429 that does not say (Ayrshare's window).
    pub rate_limit_window: Duration,
    /// The share of each profile's Ayrshare limit, in percent, that background work (the
    /// reconciler) may use per window on this replica (`share`).
    pub background_share_percent: u32,
}

impl AyrshareSettings {
    /// Settings with the default outbound policy (connect timeout, retries, hold-off window).
    pub fn new(base_url: Url, api_key: SecretString, timeout: Duration) -> AyrshareSettings {
        AyrshareSettings {
            base_url,
            api_key,
            timeout,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            x_credentials: None,
            retry: RetryPolicy::default(),
            rate_limit_window: hold_off::DEFAULT_WINDOW,
            background_share_percent: share::DEFAULT_SHARE_PERCENT,
        }
    }
}

/// The default bound on connecting to Ayrshare.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Per-call options that come from the workspace and the post.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallScope<'a> {
    /// The workspace's Ayrshare `Profile-Key`.
    pub profile_key: Option<&'a SecretString>,
    /// Whether X is among the platforms (decides the X credential headers).
    pub involves_x: bool,
}

/// A call that got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum AyrshareError {
    /// The request never left: connection refused, DNS, connect timeout, a header we could not build.
    #[error("ayrshare could not be reached: {0}")]
    NotSent(String),
    /// The request was (or may have been) sent, and no complete answer came back.
    #[error("no answer from ayrshare: {0}")]
    OutcomeUnknown(String),
    /// Nothing was sent: Ayrshare rate-limited this profile and its window has not passed.
    #[error("ayrshare is rate limiting this profile; nothing was sent (retry in {}s)", retry_after_secs(*.retry_after))]
    HeldOff { retry_after: Duration },
}

/// Whole seconds to wait, rounded up, at least one: what a `Retry-After` says.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl AyrshareError {
    /// The domain's view of the failure.
    pub fn failure(&self) -> DeliveryFailure {
        match self {
            AyrshareError::NotSent(_) => DeliveryFailure::NotSent,
            AyrshareError::OutcomeUnknown(_) => DeliveryFailure::OutcomeUnknown,
            AyrshareError::HeldOff { retry_after } => DeliveryFailure::HeldOff {
                retry_after_secs: retry_after_secs(*retry_after),
            },
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AyrshareClient {
    http: reqwest::Client,
    settings: AyrshareSettings,
    hold_off: Arc<HoldOff>,
    share: Arc<BackgroundShare>,
}

impl AyrshareClient {
    /// Builds the client; fails only if the TLS backend cannot start.
    pub fn new(settings: AyrshareSettings) -> Result<AyrshareClient, reqwest::Error> {
        let http = http_builder(&settings).build()?;
        Ok(AyrshareClient::with_http(http, settings))
    }

    fn with_http(http: reqwest::Client, settings: AyrshareSettings) -> AyrshareClient {
        let hold_off = Arc::new(HoldOff::new(settings.rate_limit_window));
        let share = Arc::new(BackgroundShare::new(
            settings.background_share_percent,
            settings.rate_limit_window,
        ));
        AyrshareClient {
            http,
            settings,
            hold_off,
            share,
        }
    }

    /// How much longer Ayrshare's rate limit holds the scope's profile, or `None` when calls
    /// may go. Check it before writing anything for a call: while it is `Some`, every call for
    /// the profile fails with [`AyrshareError::HeldOff`] without being sent.
    pub fn held_off(&self, scope: CallScope<'_>) -> Option<Duration> {
        self.hold_off.remaining(scope.profile_key)
    }

    /// Whether background work may make `calls` more calls for the scope's profile now: the
    /// profile is not held, and the calls fit in background work's share of its limit (see
    /// [`share`]). Otherwise how long to wait. Users' requests never ask this.
    pub fn background_room(&self, scope: CallScope<'_>, calls: u32) -> Result<(), Duration> {
        if let Some(wait) = self.held_off(scope) {
            return Err(wait);
        }
        self.share.room(scope.profile_key, calls)
    }

    /// Takes one call of background work's share for the scope's profile, if there is room
    /// (see [`AyrshareClient::background_room`]); make the call right after.
    pub fn take_background_call(&self, scope: CallScope<'_>) -> Result<(), Duration> {
        self.background_room(scope, 1)?;
        self.share.spend(scope.profile_key);
        Ok(())
    }

    /// `POST /post`, sent at most once: retried only when it provably never left.
    pub async fn create_post(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::POST,
            &["post"],
            scope,
            body,
            "create post",
            "POST /post",
        )
        .await
    }

    /// `GET /post/{id}`: the current state of one post.
    pub async fn get_post(
        &self,
        scope: CallScope<'_>,
        post_id: &str,
    ) -> Result<ProviderAnswer, AyrshareError> {
        let request = self.request(Method::GET, &["post", post_id], scope)?;
        self.send(request, scope, "get post", "GET /post/{id}")
            .await
    }

    /// `GET /history`: the profile's latest `limit` posts whose publish date lies from `from`
    /// to `until` (whole seconds, both included: `startDate`, `endDate`), newest first.
    pub async fn history(
        &self,
        scope: CallScope<'_>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<ProviderAnswer, AyrshareError> {
        let date = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let request = self.request(Method::GET, &["history"], scope)?.query(&[
            ("startDate", date(from)),
            ("endDate", date(until)),
            ("limit", limit.to_string()),
        ]);
        self.send(request, scope, "history", "GET /history").await
    }

    /// `POST /hook/webhook`: registers the profile's webhook for one action. Sent once, like
    /// every write (retried only when it provably never left).
    pub async fn register_webhook(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::POST,
            &["hook", "webhook"],
            scope,
            body,
            "register webhook",
            "POST /hook/webhook",
        )
        .await
    }

    /// `PATCH /post`: changes a post Ayrshare still holds (reschedule, pause, notes, approval).
    /// A write: like every call, retried only when it provably never left, never when its
    /// outcome is unknown.
    pub async fn update_post(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::PATCH,
            &["post"],
            scope,
            body,
            "update post",
            "PATCH /post",
        )
        .await
    }

    /// `DELETE /post` with a JSON body (`id`, `markManualDeleted`): cancels a scheduled post or
    /// deletes a published one. A write, retried only when it provably never left.
    pub async fn delete_post(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::DELETE,
            &["post"],
            scope,
            body,
            "delete post",
            "DELETE /post",
        )
        .await
    }

    /// `PUT /post/retry` (`{"id"}`): Ayrshare sends a failed post once more. A write that can
    /// publish: sent once, retried only when it provably never left.
    pub async fn retry_post(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::PUT,
            &["post", "retry"],
            scope,
            body,
            "retry post",
            "PUT /post/retry",
        )
        .await
    }

    /// `POST /validate/post`: Ayrshare's checks of a `POST /post` body, with nothing posted. It
    /// changes nothing at Ayrshare, yet it is sent like a write (retried only when it provably
    /// never left): there is no gain in asking twice.
    pub async fn validate_post(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::POST,
            &["validate", "post"],
            scope,
            body,
            "validate post",
            "POST /validate/post",
        )
        .await
    }

    /// `GET /comments/{id}`: a post's comments, by platform. A read.
    pub async fn get_comments(
        &self,
        scope: CallScope<'_>,
        post_id: &str,
    ) -> Result<ProviderAnswer, AyrshareError> {
        let request = self.request(Method::GET, &["comments", post_id], scope)?;
        self.send(request, scope, "get comments", "GET /comments/{id}")
            .await
    }

    /// `POST /comments`: a comment on a post. A write on a social network: sent once, retried
    /// only when it provably never left.
    pub async fn add_comment(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::POST,
            &["comments"],
            scope,
            body,
            "add comment",
            "POST /comments",
        )
        .await
    }

    /// `POST /comments/reply` (`commentId` in the body): a reply to a comment. Sent once.
    pub async fn reply_comment(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::POST,
            &["comments", "reply"],
            scope,
            body,
            "reply to comment",
            "POST /comments/reply",
        )
        .await
    }

    /// `DELETE /comments/{id}` with one comment's id (never a post's: that deletes every comment
    /// sent under the post). Sent once.
    pub async fn delete_comment(
        &self,
        scope: CallScope<'_>,
        comment_id: &str,
    ) -> Result<ProviderAnswer, AyrshareError> {
        let request = self.request(Method::DELETE, &["comments", comment_id], scope)?;
        self.send(request, scope, "delete comment", "DELETE /comments/{id}")
            .await
    }

    /// `POST /analytics/post` (`id`, optional `platforms`): a post's numbers per platform. A read
    /// despite its method.
    pub async fn post_analytics(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::POST,
            &["analytics", "post"],
            scope,
            body,
            "post analytics",
            "POST /analytics/post",
        )
        .await
    }

    /// `POST /profiles/generateJWT` (`domain`, `privateKey`, `profileKey`, `redirect`?): the
    /// linking page's URL for one profile. Writes nothing at Ayrshare; sent once like a write
    /// all the same. The body holds secrets (the private key, the profile key): it is never
    /// logged.
    pub async fn generate_jwt(&self, body: &Value) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::POST,
            &["profiles", "generateJWT"],
            CallScope::default(),
            body,
            "generate linking url",
            "POST /profiles/generateJWT",
        )
        .await
    }

    /// `POST /profiles` (`{"title"}`): creates a User Profile. Its answer carries the
    /// profile's key, this once: the caller writes the title down before and the key after.
    pub async fn create_profile(&self, title: &str) -> Result<ProviderAnswer, AyrshareError> {
        self.send_json(
            Method::POST,
            &["profiles"],
            CallScope::default(),
            &serde_json::json!({"title": title}),
            "create profile",
            "POST /profiles",
        )
        .await
    }

    /// `GET /profiles?title=`: the profiles with this title (never their keys).
    pub async fn find_profiles(&self, title: &str) -> Result<ProviderAnswer, AyrshareError> {
        let request = self
            .request(Method::GET, &["profiles"], CallScope::default())?
            .query(&[("title", title)]);
        self.send(
            request,
            CallScope::default(),
            "find profiles",
            "GET /profiles",
        )
        .await
    }

    /// `GET /user`: the profile's linked accounts (`activeSocialAccounts`, `displayNames`) and
    /// its `refId`.
    pub async fn get_user(&self, scope: CallScope<'_>) -> Result<ProviderAnswer, AyrshareError> {
        let request = self.request(Method::GET, &["user"], scope)?;
        self.send(request, scope, "get user", "GET /user").await
    }

    /// `DELETE /profiles/social` (`{"platform"}`): unlinks one network from the profile. Without
    /// a `Profile-Key` Ayrshare unlinks the **primary** profile's account: callers must never
    /// send it without one, and this refuses to.
    pub async fn unlink_social(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        if scope.profile_key.is_none() {
            return Err(AyrshareError::NotSent(
                "an unlink without a Profile-Key would unlink the primary profile's account".into(),
            ));
        }
        self.send_json(
            Method::DELETE,
            &["profiles", "social"],
            scope,
            body,
            "unlink social account",
            "DELETE /profiles/social",
        )
        .await
    }

    fn request(
        &self,
        method: Method,
        segments: &[&str],
        scope: CallScope<'_>,
    ) -> Result<RequestBuilder, AyrshareError> {
        let mut url = self.settings.base_url.clone();
        // Appending segments keeps the base's `/api` (Url::join would replace it) and
        // percent-encodes an id that contains `/` or `?`.
        url.path_segments_mut()
            .map_err(|_| AyrshareError::NotSent("AYRSHARE_BASE_URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            secret_header(&format!("Bearer {}", self.settings.api_key.expose_secret()))?,
        );
        if let Some(profile_key) = scope.profile_key {
            headers.insert("profile-key", secret_header(profile_key.expose_secret())?);
        }
        if let (true, Some(x)) = (scope.involves_x, &self.settings.x_credentials) {
            headers.insert(
                "x-twitter-oauth1-api-key",
                secret_header(x.api_key.expose_secret())?,
            );
            headers.insert(
                "x-twitter-oauth1-api-secret",
                secret_header(x.api_secret.expose_secret())?,
            );
        }
        Ok(self.http.request(method, url).headers(headers))
    }

    /// Sends one call with a JSON body to the route `segments` (see `send`).
    async fn send_json(
        &self,
        method: Method,
        segments: &[&str],
        scope: CallScope<'_>,
        body: &Value,
        what: &'static str,
        endpoint: &'static str,
    ) -> Result<ProviderAnswer, AyrshareError> {
        let request = self.request(method, segments, scope)?.json(body);
        self.send(request, scope, what, endpoint).await
    }

    /// Sends one call (see `exchange`) and counts it in the metrics under `endpoint`, the
    /// route's name without ids.
    async fn send(
        &self,
        request: RequestBuilder,
        scope: CallScope<'_>,
        what: &'static str,
        endpoint: &'static str,
    ) -> Result<ProviderAnswer, AyrshareError> {
        let started = Instant::now();
        let result = self.exchange(request, scope, what).await;
        let outcome = match &result {
            Ok(answer) => CallOutcome::Answered(answer.http_status),
            Err(AyrshareError::NotSent(_)) => CallOutcome::NotSent,
            Err(AyrshareError::OutcomeUnknown(_)) => CallOutcome::OutcomeUnknown,
            Err(AyrshareError::HeldOff { .. }) => {
                metrics::rate_limit_refused(RefusalKind::AyrshareProfile);
                CallOutcome::HeldOff
            }
        };
        metrics::ayrshare_call(endpoint, outcome, started.elapsed());
        result
    }

    async fn exchange(
        &self,
        request: RequestBuilder,
        scope: CallScope<'_>,
        what: &'static str,
    ) -> Result<ProviderAnswer, AyrshareError> {
        // The safety net behind the caller's own `held_off` check: a 429 may have come for the
        // profile since then.
        if let Some(retry_after) = self.held_off(scope) {
            tracing::warn!(
                call = what,
                retry_after_secs = retry_after_secs(retry_after),
                "ayrshare is rate limiting this profile; the call was not sent"
            );
            return Err(AyrshareError::HeldOff { retry_after });
        }
        let request = request
            .build()
            .map_err(|e| AyrshareError::NotSent(describe(&e)))?;
        let started = Instant::now();
        let deadline = started + self.settings.timeout;
        let connect_timeout = self.connect_timeout();
        let response = retry::retry_unsent(
            self.settings.retry,
            deadline,
            connect_timeout,
            what,
            || async {
                // A JSON body is bytes in memory, so the request can always be copied.
                let mut attempt = request.try_clone().ok_or_else(|| {
                    AyrshareError::NotSent("the request body cannot be repeated".into())
                })?;
                // What is left of the call's deadline; never less than the connect timeout (see
                // retry_unsent), so a connect that fails still fails as a connect error.
                *attempt.timeout_mut() = Some(deadline.saturating_duration_since(Instant::now()));
                self.http.execute(attempt).await.map_err(|e| classify(&e))
            },
        )
        .await
        .inspect_err(|error| tracing::warn!(call = what, error = %error, "ayrshare call failed"))?;
        let http_status = response.status().as_u16();
        self.share.observe(scope.profile_key, response.headers());
        if let Some(hold) =
            self.hold_off
                .observe(scope.profile_key, http_status, response.headers())
        {
            tracing::warn!(
                call = what,
                status = http_status,
                hold_secs = retry_after_secs(hold),
                "ayrshare's rate limit for this profile is reached; holding its calls"
            );
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The status line arrived, so the request reached Ayrshare: a body that breaks off now
        // leaves the outcome unknown.
        let text = read_bounded(response).await.map_err(|e| {
            tracing::warn!(call = what, error = %e, "ayrshare answer broke off");
            AyrshareError::OutcomeUnknown(describe(&e))
        })?;
        let text = match text {
            Body::Whole(text) => text,
            Body::Cut(text) => {
                tracing::warn!(
                    call = what,
                    status = http_status,
                    limit_bytes = MAX_ANSWER_BYTES,
                    "ayrshare's answer is larger than the limit; the rest was not read"
                );
                text
            }
        };
        // A success is at debug (the caller's own line says what came of it); anything else
        // at info, where an operator looks first.
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if (200..300).contains(&http_status) {
            tracing::debug!(
                call = what,
                status = http_status,
                elapsed_ms,
                "ayrshare answered"
            );
        } else {
            tracing::info!(
                call = what,
                status = http_status,
                elapsed_ms,
                "ayrshare answered"
            );
        }
        Ok(ProviderAnswer::new(http_status, &text, retry_after))
    }
}

/// The most of an answer's body that is read. Ayrshare's answers are a few KiB (a page of
/// history some hundreds); an answer past this bound costs no more memory than the bound: the rest
/// is not read, and the answer is judged unreadable (502 `provider_error`; after a create, the
/// post's outcome is `unknown`), as any answer that is not Ayrshare's JSON is.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// How much of a cut answer is kept as its text, for the record and the log.
const CUT_ANSWER_KEPT_BYTES: usize = 1024;

/// An answer's body as text: whole, or cut at [`MAX_ANSWER_BYTES`] (then only its start is kept,
/// marked so that it can never be read as JSON).
enum Body {
    Whole(String),
    Cut(String),
}

/// Reads the body chunk by chunk, stopping at [`MAX_ANSWER_BYTES`] (the connection is then
/// dropped with the rest unread). Not UTF-8 is read leniently, as `text()` would.
async fn read_bounded(mut response: reqwest::Response) -> Result<Body, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            body.extend_from_slice(
                &chunk[..CUT_ANSWER_KEPT_BYTES
                    .saturating_sub(body.len())
                    .min(chunk.len())],
            );
            body.truncate(CUT_ANSWER_KEPT_BYTES);
            let start = String::from_utf8_lossy(&body);
            return Ok(Body::Cut(format!(
                "{start}... (cut: the answer was longer than {MAX_ANSWER_BYTES} bytes)"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Whole(String::from_utf8_lossy(&body).into_owned()))
}

impl AyrshareClient {
    fn connect_timeout(&self) -> Duration {
        self.settings.connect_timeout.min(self.settings.timeout)
    }
}

fn http_builder(settings: &AyrshareSettings) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.connect_timeout.min(settings.timeout))
        .user_agent(concat!("mosaic-social/", env!("CARGO_PKG_VERSION")))
        // A redirected POST could be replayed as another request; Ayrshare does not redirect.
        .redirect(Policy::none())
}

/// Sorts a transport error by whether the request can have reached Ayrshare.
fn classify(error: &reqwest::Error) -> AyrshareError {
    // reqwest reports connect timeouts as both connect and timeout errors: nothing was sent.
    if error.is_connect() || error.is_builder() {
        AyrshareError::NotSent(describe(error))
    } else {
        AyrshareError::OutcomeUnknown(describe(error))
    }
}

/// A header value marked sensitive, so that reqwest's and hyper's `Debug` output hides it.
fn secret_header(value: &str) -> Result<HeaderValue, AyrshareError> {
    let mut header = HeaderValue::from_str(value)
        .map_err(|_| AyrshareError::NotSent("a credential is not a valid header value".into()))?;
    header.set_sensitive(true);
    Ok(header)
}

/// The error with its causes ("connection refused" hides two levels down in reqwest's chain).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use reqwest::dns::{Addrs, Name, Resolve, Resolving};
    use serde_json::json;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn client(base_url: &str, timeout: Duration) -> AyrshareClient {
        AyrshareClient::new(AyrshareSettings::new(
            Url::parse(base_url).unwrap(),
            SecretString::from("AYR-KEY"),
            timeout,
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn paths_are_appended_to_the_base_keeping_its_api_prefix() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/post/a%2Fb%3Fc"))
            .and(header("authorization", "Bearer AYR-KEY"))
            .and(header("profile-key", "PK"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success"})))
            .expect(2)
            .mount(&server)
            .await;
        let profile = SecretString::from("PK");
        let scope = CallScope {
            profile_key: Some(&profile),
            involves_x: false,
        };
        for base in [
            format!("{}/api", server.uri()),
            format!("{}/api/", server.uri()),
        ] {
            let answer = client(&base, Duration::from_secs(5))
                .get_post(scope, "a/b?c")
                .await
                .unwrap();
            assert_eq!(answer.http_status, 200);
            assert_eq!(answer.json.unwrap()["status"], "success");
        }
    }

    #[tokio::test]
    async fn changes_and_analytics_go_to_their_routes_with_their_bodies() {
        let server = MockServer::start().await;
        for (verb, route) in [
            ("PATCH", "/api/post"),
            ("DELETE", "/api/post"),
            ("POST", "/api/analytics/post"),
        ] {
            Mock::given(method(verb))
                .and(path(route))
                .and(header("authorization", "Bearer AYR-KEY"))
                .and(header("content-type", "application/json"))
                .and(wiremock::matchers::body_json(json!({"id": verb})))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(json!({"status": "success"})),
                )
                .expect(1)
                .mount(&server)
                .await;
        }
        let client = client(&format!("{}/api", server.uri()), Duration::from_secs(5));
        let scope = CallScope::default();
        for answer in [
            client.update_post(scope, &json!({"id": "PATCH"})).await,
            client.delete_post(scope, &json!({"id": "DELETE"})).await,
            client.post_analytics(scope, &json!({"id": "POST"})).await,
        ] {
            assert_eq!(answer.unwrap().http_status, 200);
        }
    }

    #[tokio::test]
    async fn a_change_whose_outcome_is_unknown_is_never_sent_again() {
        let server = MockServer::start().await;
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .expect(1)
            .mount(&server)
            .await;
        let client = client(&format!("{}/api", server.uri()), Duration::from_millis(300));
        let error = client
            .delete_post(CallScope::default(), &json!({"id": "A"}))
            .await
            .unwrap_err();
        assert_eq!(error.failure(), DeliveryFailure::OutcomeUnknown, "{error}");
        let error = client
            .update_post(CallScope::default(), &json!({"id": "A"}))
            .await
            .unwrap_err();
        assert_eq!(error.failure(), DeliveryFailure::OutcomeUnknown, "{error}");
    }

    #[tokio::test]
    async fn an_error_status_is_an_answer_and_keeps_retry_after() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/post"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "9")
                    .set_body_string("slow down"),
            )
            .expect(1)
            .mount(&server)
            .await;
        let answer = client(&format!("{}/api", server.uri()), Duration::from_secs(5))
            .create_post(CallScope::default(), &json!({"post": "x"}))
            .await
            .unwrap();
        assert_eq!(answer.http_status, 429);
        assert_eq!(answer.retry_after.as_deref(), Some("9"));
        assert_eq!(answer.json, None);
        assert_eq!(answer.text, "slow down");
    }

    #[tokio::test]
    async fn a_refused_connection_is_not_sent_and_a_slow_answer_is_unknown() {
        // Bound but not listening: the port stays ours, and connecting is refused.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let closed = socket.local_addr().unwrap();
        let error = client(&format!("http://{closed}/api"), Duration::from_secs(5))
            .create_post(CallScope::default(), &json!({}))
            .await
            .unwrap_err();
        assert_eq!(error.failure(), DeliveryFailure::NotSent, "{error}");

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .expect(1)
            .mount(&server)
            .await;
        let error = client(&format!("{}/api", server.uri()), Duration::from_millis(300))
            .create_post(CallScope::default(), &json!({}))
            .await
            .unwrap_err();
        assert_eq!(error.failure(), DeliveryFailure::OutcomeUnknown, "{error}");
    }

    /// A resolver that counts the lookups (one per connection attempt) and answers with `addr`,
    /// or fails like an unknown host.
    struct CountingResolver {
        lookups: AtomicUsize,
        addr: Option<SocketAddr>,
    }

    impl Resolve for CountingResolver {
        fn resolve(&self, _name: Name) -> Resolving {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let addr = self.addr;
            Box::pin(async move {
                match addr {
                    Some(addr) => Ok(Box::new(std::iter::once(addr)) as Addrs),
                    None => Err("no such host".into()),
                }
            })
        }
    }

    /// A client for `http://ayrshare.test/api` whose lookups go to `resolver`, with quick retries.
    fn counted_client(resolver: &Arc<CountingResolver>) -> AyrshareClient {
        let settings = AyrshareSettings {
            retry: RetryPolicy {
                min_delay: Duration::from_millis(10),
                ..RetryPolicy::default()
            },
            ..AyrshareSettings::new(
                Url::parse("http://ayrshare.test/api").unwrap(),
                SecretString::from("AYR-KEY"),
                Duration::from_secs(10),
            )
        };
        let http = http_builder(&settings)
            .dns_resolver(resolver.clone())
            .build()
            .unwrap();
        AyrshareClient::with_http(http, settings)
    }

    #[tokio::test]
    async fn a_refused_connection_is_tried_three_times_then_not_sent() {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let resolver = Arc::new(CountingResolver {
            lookups: AtomicUsize::new(0),
            addr: Some(socket.local_addr().unwrap()),
        });
        let error = counted_client(&resolver)
            .create_post(CallScope::default(), &json!({"post": "x"}))
            .await
            .unwrap_err();
        assert!(matches!(error, AyrshareError::NotSent(_)), "{error}");
        assert_eq!(resolver.lookups.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_unknown_host_is_tried_three_times_then_not_sent() {
        let resolver = Arc::new(CountingResolver {
            lookups: AtomicUsize::new(0),
            addr: None,
        });
        let error = counted_client(&resolver)
            .get_post(CallScope::default(), "abc")
            .await
            .unwrap_err();
        assert!(matches!(error, AyrshareError::NotSent(_)), "{error}");
        assert_eq!(resolver.lookups.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_timeout_after_sending_is_never_sent_again() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .expect(1)
            .mount(&server)
            .await;
        let resolver = Arc::new(CountingResolver {
            lookups: AtomicUsize::new(0),
            addr: Some(*server.address()),
        });
        let mut client = counted_client(&resolver);
        client.settings.timeout = Duration::from_millis(300);
        client.http = http_builder(&client.settings)
            .dns_resolver(resolver.clone())
            .build()
            .unwrap();
        let error = client
            .create_post(CallScope::default(), &json!({"post": "x"}))
            .await
            .unwrap_err();
        assert!(matches!(error, AyrshareError::OutcomeUnknown(_)), "{error}");
        assert_eq!(resolver.lookups.load(Ordering::SeqCst), 1);
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_error_answer_is_never_sent_again() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .expect(1)
            .mount(&server)
            .await;
        let answer = client(&format!("{}/api", server.uri()), Duration::from_secs(5))
            .create_post(CallScope::default(), &json!({}))
            .await
            .unwrap();
        assert_eq!(answer.http_status, 503);
    }

    #[tokio::test]
    async fn after_a_429_the_profile_is_held_and_another_is_not() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header("profile-key", "PROFILE-A"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120"))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(header("profile-key", "PROFILE-B"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success"})))
            .expect(2)
            .mount(&server)
            .await;
        let client = client(&format!("{}/api", server.uri()), Duration::from_secs(5));
        let (a, b) = (
            SecretString::from("PROFILE-A"),
            SecretString::from("PROFILE-B"),
        );
        let scope_a = CallScope {
            profile_key: Some(&a),
            involves_x: false,
        };
        let scope_b = CallScope {
            profile_key: Some(&b),
            involves_x: false,
        };
        assert_eq!(client.held_off(scope_a), None);
        let answer = client.create_post(scope_a, &json!({})).await.unwrap();
        assert_eq!(answer.http_status, 429);

        let held = client.held_off(scope_a).expect("profile A is held");
        assert!(
            held > Duration::from_secs(110) && held <= Duration::from_secs(120),
            "{held:?}"
        );
        assert_eq!(client.held_off(scope_b), None);
        assert_eq!(client.held_off(CallScope::default()), None);
        // The safety net: held, nothing is sent (wiremock expects one request for A).
        for _ in 0..2 {
            let error = client.create_post(scope_a, &json!({})).await.unwrap_err();
            assert!(matches!(error, AyrshareError::HeldOff { .. }), "{error}");
            assert_eq!(
                error.failure(),
                DeliveryFailure::HeldOff {
                    retry_after_secs: 120
                }
            );
            assert!(client.get_post(scope_a, "id").await.is_err());
        }
        for _ in 0..2 {
            assert_eq!(
                client
                    .create_post(scope_b, &json!({}))
                    .await
                    .unwrap()
                    .http_status,
                200
            );
        }
        assert!(!format!("{client:?}").contains("PROFILE-A"));
    }

    #[tokio::test]
    async fn a_used_up_window_holds_the_profile_before_any_429() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("x-ratelimit-max", "300")
                    .insert_header("x-ratelimit-count", "300")
                    .set_body_json(json!({"status": "success"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let client = client(&format!("{}/api", server.uri()), Duration::from_secs(5));
        assert_eq!(
            client
                .get_post(CallScope::default(), "a")
                .await
                .unwrap()
                .http_status,
            200
        );
        let held = client.held_off(CallScope::default()).expect("held");
        assert!(held > Duration::from_secs(290), "{held:?}");
        let error = client
            .get_post(CallScope::default(), "a")
            .await
            .unwrap_err();
        assert!(matches!(error, AyrshareError::HeldOff { .. }), "{error}");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(7)), 7);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let client = AyrshareClient::new(AyrshareSettings {
            x_credentials: Some(XCredentials {
                api_key: SecretString::from("X-KEY-SECRET"),
                api_secret: SecretString::from("X-SECRET-SECRET"),
            }),
            ..AyrshareSettings::new(
                Url::parse("https://api.ayrshare.com/api").unwrap(),
                SecretString::from("AYR-SECRET"),
                Duration::from_secs(1),
            )
        })
        .unwrap();
        let shown = format!("{client:?}");
        for secret in ["AYR-SECRET", "X-KEY-SECRET", "X-SECRET-SECRET"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    /// docs/limits.md promises 8 MiB; the API tests read answers of this size and one more.
    #[test]
    fn an_answer_is_read_up_to_the_documented_8_mib() {
        assert_eq!(MAX_ANSWER_BYTES, 8 << 20);
    }
}
