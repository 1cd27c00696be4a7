//! One HTTP attempt of a webhook delivery: the signed `POST`, and what came back. The client
//! refuses internal addresses when it connects (`GuardedResolver`, unless private targets are
//! allowed), follows no redirect, uses no proxy, and gives up after the attempt's timeout; of the
//! answer it keeps the status, `Retry-After` and the first 1 KiB of the body, and reads no
//! further.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use url::Url;

use crate::domain::address_rule::check_endpoint_url;
use crate::domain::standard_webhooks::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::events::WebhookSettings;
use crate::net::GuardedResolver;
use crate::net::guarded_resolver::refusal_of;

/// The most bytes of an answer kept (and read).
pub const EXCERPT_BYTES: usize = 1024;

/// What the receivers see as the sender.
const AGENT: &str = concat!("mosaic-social-webhooks/", env!("CARGO_PKG_VERSION"));

/// One signed message to send.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    pub url: &'a str,
    pub id: &'a str,
    /// The attempt's Unix seconds, as signed.
    pub timestamp: i64,
    /// The `webhook-signature` value.
    pub signature: String,
    pub body: Vec<u8>,
}

/// What came of sending it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// An answer came: its status, its `Retry-After`, the start of its body.
    Answered {
        status: u16,
        retry_after: Option<String>,
        excerpt: String,
    },
    /// None came, or nothing was sent (the URL refused by the address rule, the name resolving
    /// to an internal address, a timeout, a reset): why, for the attempt log.
    NoAnswer { error: String },
}

/// The HTTP side of delivery: one client, built once.
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
    allow_http: bool,
    allow_private: bool,
}

impl Sender {
    /// A client as `settings` say (timeout, the address rule's switches).
    pub fn new(settings: &WebhookSettings) -> Result<Sender, reqwest::Error> {
        let client = reqwest::Client::builder()
            // Every name is screened when it is resolved, so that one rebound to an internal
            // address after the endpoint was saved is refused all the same.
            .dns_resolver(std::sync::Arc::new(GuardedResolver::new(
                settings.allow_private_targets,
            )))
            .redirect(reqwest::redirect::Policy::none())
            // Through a proxy the resolver would see the proxy's name, not the endpoint's.
            .no_proxy()
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .timeout(settings.timeout)
            .build()?;
        Ok(Sender {
            client,
            allow_http: settings.allow_http,
            allow_private: settings.allow_private_targets,
        })
    }

    /// Sends `message` once; how long it took.
    pub async fn send(&self, message: Message<'_>) -> (Sent, Duration) {
        let started = Instant::now();
        let sent = self.attempt(message).await;
        (sent, started.elapsed())
    }

    async fn attempt(&self, message: Message<'_>) -> Sent {
        // Again at each attempt: the switches may have changed since the endpoint was saved,
        // and an IP literal never reaches the resolver.
        let url: Url = match check_endpoint_url(message.url, self.allow_http, self.allow_private) {
            Ok(url) => url,
            Err(e) => {
                return Sent::NoAnswer {
                    error: format!("refused: the url {e}"),
                };
            }
        };
        let request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, AGENT)
            .header(ID_HEADER, message.id)
            .header(TIMESTAMP_HEADER, message.timestamp.to_string())
            .header(SIGNATURE_HEADER, message.signature)
            .body(message.body);
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Sent::NoAnswer {
                    error: describe(&e),
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(64).collect());
        // The status is the answer; the body is only kept for the log, so a body that breaks
        // off or never ends costs what has come so far.
        let mut kept: Vec<u8> = Vec::new();
        while kept.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = EXCERPT_BYTES - kept.len();
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) | Err(_) => break,
            }
        }
        // Dropping the response here closes a connection whose body was not read to its end.
        drop(response);
        Sent::Answered {
            status,
            retry_after,
            excerpt: excerpt(&kept),
        }
    }
}

/// The kept bytes as text: cut at a character boundary, invalid UTF-8 replaced.
pub fn excerpt(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        // A character cut by the bound at the end is dropped, not replaced.
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Why a request got no answer, in words for the attempt log: the guard's refusal when it was
/// that, else the kind of failure and its innermost cause.
fn describe(error: &reqwest::Error) -> String {
    if let Some(refused) = refusal_of(error) {
        return format!("refused: {refused}");
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "no answer"
    };
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("{kind}: {cause}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_keeps_at_most_1_kib_and_never_half_a_character() {
        assert_eq!(excerpt(b"ok"), "ok");
        let long = "x".repeat(5000);
        assert_eq!(excerpt(long.as_bytes()).len(), EXCERPT_BYTES);
        // 1023 ASCII bytes then a two-byte character: the character is cut, so dropped.
        let mut cut = "y".repeat(1023).into_bytes();
        cut.extend_from_slice("é".as_bytes());
        assert_eq!(excerpt(&cut), "y".repeat(1023));
        // Invalid bytes inside are replaced, not refused.
        assert_eq!(excerpt(b"a\xffb"), "a\u{fffd}b");
    }
}
