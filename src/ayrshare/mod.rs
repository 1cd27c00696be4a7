//! The Ayrshare client: one `reqwest::Client` built once, never retrying a write, and telling
//! "nothing was sent" apart from "sent, outcome unknown".

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::redirect::Policy;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use crate::domain::{DeliveryFailure, ProviderAnswer};

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
    /// The bound on a whole call, connecting included.
    pub timeout: Duration,
    pub x_credentials: Option<XCredentials>,
}

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
}

impl AyrshareError {
    /// The domain's view of the failure.
    pub fn failure(&self) -> DeliveryFailure {
        match self {
            AyrshareError::NotSent(_) => DeliveryFailure::NotSent,
            AyrshareError::OutcomeUnknown(_) => DeliveryFailure::OutcomeUnknown,
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AyrshareClient {
    http: reqwest::Client,
    settings: AyrshareSettings,
}

impl AyrshareClient {
    /// Builds the client; fails only if the TLS backend cannot start.
    pub fn new(settings: AyrshareSettings) -> Result<AyrshareClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("mosaic-social/", env!("CARGO_PKG_VERSION")))
            // A redirected POST could be replayed as another request; Ayrshare does not redirect.
            .redirect(Policy::none())
            .build()?;
        Ok(AyrshareClient { http, settings })
    }

    /// `POST /post`, sent at most once: no retry, whatever happens.
    pub async fn create_post(
        &self,
        scope: CallScope<'_>,
        body: &Value,
    ) -> Result<ProviderAnswer, AyrshareError> {
        let request = self.request(Method::POST, &["post"], scope)?.json(body);
        self.send(request, "create post").await
    }

    /// `GET /post/{id}`: the current state of one post.
    pub async fn get_post(
        &self,
        scope: CallScope<'_>,
        post_id: &str,
    ) -> Result<ProviderAnswer, AyrshareError> {
        let request = self.request(Method::GET, &["post", post_id], scope)?;
        self.send(request, "get post").await
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

    async fn send(
        &self,
        request: RequestBuilder,
        what: &'static str,
    ) -> Result<ProviderAnswer, AyrshareError> {
        let started = Instant::now();
        let response = request.send().await.map_err(|e| {
            let error = classify(&e);
            tracing::warn!(call = what, error = %error, "ayrshare call failed");
            error
        })?;
        let http_status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The status line arrived, so the request reached Ayrshare: a body that breaks off now
        // leaves the outcome unknown.
        let text = response.text().await.map_err(|e| {
            tracing::warn!(call = what, error = %e, "ayrshare answer broke off");
            AyrshareError::OutcomeUnknown(describe(&e))
        })?;
        tracing::info!(
            call = what,
            status = http_status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ayrshare answered"
        );
        Ok(ProviderAnswer::new(http_status, &text, retry_after))
    }
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
    use serde_json::json;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn client(base_url: &str, timeout: Duration) -> AyrshareClient {
        AyrshareClient::new(AyrshareSettings {
            base_url: Url::parse(base_url).unwrap(),
            api_key: SecretString::from("AYR-KEY"),
            timeout,
            x_credentials: None,
        })
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

    #[test]
    fn debug_output_hides_the_keys() {
        let client = AyrshareClient::new(AyrshareSettings {
            base_url: Url::parse("https://api.ayrshare.com/api").unwrap(),
            api_key: SecretString::from("AYR-SECRET"),
            timeout: Duration::from_secs(1),
            x_credentials: Some(XCredentials {
                api_key: SecretString::from("X-KEY-SECRET"),
                api_secret: SecretString::from("X-SECRET-SECRET"),
            }),
        })
        .unwrap();
        let shown = format!("{client:?}");
        for secret in ["AYR-SECRET", "X-KEY-SECRET", "X-SECRET-SECRET"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
