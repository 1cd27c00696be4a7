//! Standard Webhooks 1.0 signatures, for the events we send to customers' endpoints (and for the
//! `webhooks listen` dev receiver that checks them): a `whsec_` secret, and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one entry per
//! secret during a rotation. Pure code; `/work/shared/spec/events.md` has the facts.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use secrecy::SecretString;
use secrecy::zeroize::Zeroize;
use sha2::Sha256;

/// The header holding the message id, the same on every attempt (the receiver's dedup key).
pub const ID_HEADER: &str = "webhook-id";
/// The header holding the Unix time (seconds) of the attempt.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header holding the space-separated signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// Bytes in a secret we generate.
pub const GENERATED_SECRET_BYTES: usize = 32;

/// The shortest and longest secret accepted, in bytes (the specification's range).
pub const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// The tolerance receivers apply by default: five minutes either way.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The signature scheme this module writes and reads.
const VERSION: &str = "v1";

/// Why a secret could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with 'whsec_'")]
    MissingPrefix,
    #[error("a webhook secret is 'whsec_' followed by base64")]
    NotBase64,
    #[error("a webhook secret holds 24 to 64 bytes, not {0}")]
    WrongLength(usize),
}

/// Why a delivery is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the webhook-timestamp header is not a unix time in seconds")]
    MalformedTimestamp,
    #[error("the webhook-timestamp is outside the accepted window")]
    StaleTimestamp,
    #[error("the webhook-signature header holds no v1 signature")]
    NoSignature,
    #[error("no signature matches the message")]
    BadSignature,
}

/// An endpoint's signing secret. `Debug` does not show it; its bytes are zeroed when dropped.
// Equality only for tests: comparing secrets in production would want constant time.
#[derive(Clone)]
#[cfg_attr(test, derive(PartialEq, Eq))]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// A new secret of 32 bytes from the operating system's generator.
    pub fn generate() -> WebhookSecret {
        let mut bytes = vec![0u8; GENERATED_SECRET_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random generator works");
        WebhookSecret(bytes)
    }

    /// Reads `whsec_` and standard base64 of 24 to 64 bytes; surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<WebhookSecret, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let mut bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if !SECRET_BYTES.contains(&bytes.len()) {
            let length = bytes.len();
            bytes.zeroize();
            return Err(SecretError::WrongLength(length));
        }
        Ok(WebhookSecret(bytes))
    }

    /// The secret as customers see it (`whsec_…`): for the one answer that shows it, and for
    /// encrypting it into the store.
    pub fn reveal(&self) -> SecretString {
        SecretString::from(format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0)))
    }

    fn mac(&self, msg_id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl Drop for WebhookSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([hidden])")
    }
}

/// One signature, `v1,<base64>`, of the message `msg_id` sent at `timestamp` (Unix seconds)
/// with this exact `body`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = secret.mac(msg_id, &timestamp.to_string(), body);
    format!("{VERSION},{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` value: one signature per secret, space-separated, so that a receiver
/// holding either the new or the old secret accepts the delivery during a rotation.
pub fn signature_header(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a delivery as a receiver does: the `webhook-timestamp` header value within
/// `tolerance_secs` of `now` (Unix seconds) either way, then any `v1` signature of the
/// `webhook-signature` header against any of `secrets`, compared in constant time. Entries of
/// other versions are ignored, as the specification asks.
pub fn verify(
    header: &str,
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::MalformedTimestamp)?;
    if sent.abs_diff(now) > tolerance_secs {
        return Err(VerifyError::StaleTimestamp);
    }
    let v1: Vec<&str> = header
        .split_ascii_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .map(|(_, encoded)| encoded)
        .collect();
    if v1.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    // An entry that is not base64 matches nothing.
    let signatures: Vec<Vec<u8>> = v1
        .iter()
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .collect();
    // The signed content is the header's text as sent, not the number re-printed.
    let timestamp = timestamp.trim();
    let matched = secrets.iter().any(|secret| {
        let mac = secret.mac(msg_id, timestamp, body);
        // `verify_slice` compares in constant time.
        signatures
            .iter()
            .any(|signature| mac.clone().verify_slice(signature).is_ok())
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};
    use secrecy::ExposeSecret;

    use super::*;

    // The official test vector (standard-webhooks' Rust library).
    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const MSG_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TIMESTAMP: i64 = 1649367553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SECRET).unwrap()
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn verify_now(header: &str, secrets: &[WebhookSecret], at: i64) -> Result<(), VerifyError> {
        verify(
            header,
            secrets,
            MSG_ID,
            &at.to_string(),
            BODY,
            now(),
            DEFAULT_TOLERANCE_SECS,
        )
    }

    /// The headers the reference library reads.
    fn headers(signature: &str, timestamp: i64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ID_HEADER, HeaderValue::from_static(MSG_ID));
        headers.insert(TIMESTAMP_HEADER, timestamp.to_string().parse().unwrap());
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        headers
    }

    #[test]
    fn the_official_test_vector_is_signed_as_published() {
        assert_eq!(sign(&secret(), MSG_ID, TIMESTAMP, BODY), SIGNATURE);
    }

    #[test]
    fn the_official_test_vector_verifies_at_its_own_time() {
        let at = |now| verify(SIGNATURE, &[secret()], MSG_ID, "1649367553", BODY, now, 300);
        assert_eq!(at(TIMESTAMP), Ok(()));
        assert_eq!(at(TIMESTAMP + 300), Ok(()));
        assert_eq!(at(TIMESTAMP - 300), Ok(()));
        assert_eq!(at(TIMESTAMP + 301), Err(VerifyError::StaleTimestamp));
        assert_eq!(at(TIMESTAMP - 301), Err(VerifyError::StaleTimestamp));
    }

    #[test]
    fn the_header_carries_one_signature_per_secret() {
        let new = WebhookSecret::generate();
        let header = signature_header(&[new.clone(), secret()], MSG_ID, TIMESTAMP, BODY);
        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2, "{header}");
        assert_eq!(entries[0], sign(&new, MSG_ID, TIMESTAMP, BODY));
        assert_eq!(entries[1], SIGNATURE);
        assert_eq!(signature_header(&[], MSG_ID, TIMESTAMP, BODY), "");
    }

    #[test]
    fn a_receiver_with_either_secret_accepts_a_rotation_header() {
        let (new, old) = (WebhookSecret::generate(), secret());
        let at = now();
        let header = signature_header(&[new.clone(), old.clone()], MSG_ID, at, BODY);
        assert_eq!(verify_now(&header, &[new], at), Ok(()));
        assert_eq!(verify_now(&header, &[old], at), Ok(()));
        assert_eq!(
            verify_now(&header, &[WebhookSecret::generate()], at),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn a_changed_body_id_or_timestamp_is_refused() {
        let at = now();
        let header = sign(&secret(), MSG_ID, at, BODY);
        let check =
            |id: &str, ts: &str, body: &[u8]| verify(&header, &[secret()], id, ts, body, at, 300);
        assert_eq!(check(MSG_ID, &at.to_string(), BODY), Ok(()));
        assert_eq!(
            check(MSG_ID, &at.to_string(), b"{}"),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            check("msg_other", &at.to_string(), BODY),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            check(MSG_ID, &(at + 1).to_string(), BODY),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn malformed_headers_are_refused_without_panic() {
        let at = now();
        let good = sign(&secret(), MSG_ID, at, BODY);
        for header in ["", "   ", "v1", "v2,abc", "garbage", "v1a,abc", ",abc"] {
            assert_eq!(
                verify_now(header, &[secret()], at),
                Err(VerifyError::NoSignature),
                "{header:?}"
            );
        }
        for header in ["v1,", "v1,!!!", "v1,AAAA", "v1,,", "v1,AAAA,AAAA"] {
            assert_eq!(
                verify_now(header, &[secret()], at),
                Err(VerifyError::BadSignature),
                "{header:?}"
            );
        }
        // A valid signature among junk and other versions still counts.
        let mixed = format!("v2,xyz junk v1,!!! {good}");
        assert_eq!(verify_now(&mixed, &[secret()], at), Ok(()));
        // A truncated signature does not.
        let truncated = &good[..good.len() - 4];
        assert_eq!(
            verify_now(truncated, &[secret()], at),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(verify_now(&good, &[], at), Err(VerifyError::BadSignature));
    }

    #[test]
    fn a_timestamp_that_is_not_a_number_is_refused() {
        let good = sign(&secret(), MSG_ID, TIMESTAMP, BODY);
        for ts in ["", "soon", "1649367553.5", "99999999999999999999"] {
            assert_eq!(
                verify(&good, &[secret()], MSG_ID, ts, BODY, TIMESTAMP, 300),
                Err(VerifyError::MalformedTimestamp),
                "{ts:?}"
            );
        }
        assert_eq!(
            verify(&good, &[secret()], MSG_ID, "-1", BODY, i64::MAX, u64::MAX),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn secrets_are_parsed_and_their_errors_are_clear() {
        assert_eq!(secret().reveal().expose_secret(), SECRET);
        assert_eq!(
            WebhookSecret::parse(&format!(" {SECRET}\n")).unwrap(),
            secret()
        );
        assert_eq!(
            WebhookSecret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD"),
            Err(SecretError::MissingPrefix)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!"),
            Err(SecretError::NotBase64)
        );
        let of = |n: usize| format!("{SECRET_PREFIX}{}", STANDARD.encode(vec![1u8; n]));
        assert_eq!(
            WebhookSecret::parse(&of(23)),
            Err(SecretError::WrongLength(23))
        );
        assert_eq!(
            WebhookSecret::parse(&of(65)),
            Err(SecretError::WrongLength(65))
        );
        assert_eq!(
            WebhookSecret::parse("whsec_"),
            Err(SecretError::WrongLength(0))
        );
        assert!(WebhookSecret::parse(&of(24)).is_ok());
        assert!(WebhookSecret::parse(&of(64)).is_ok());
        assert_eq!(
            SecretError::WrongLength(23).to_string(),
            "a webhook secret holds 24 to 64 bytes, not 23"
        );
    }

    #[test]
    fn generated_secrets_are_32_random_bytes_that_read_back() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert_ne!(a, b);
        let shown = a.reveal();
        let text = shown.expose_secret();
        assert!(text.starts_with(SECRET_PREFIX));
        assert_eq!(
            STANDARD.decode(&text[SECRET_PREFIX.len()..]).unwrap().len(),
            32
        );
        assert_eq!(WebhookSecret::parse(text).unwrap(), a);
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let shown = format!("{:?}", secret());
        assert_eq!(shown, "WebhookSecret([hidden])");
        assert!(!shown.contains("C2FVsBQI"));
    }

    #[test]
    fn the_reference_library_verifies_our_single_signature() {
        let at = now();
        let oracle = standardwebhooks::Webhook::new(SECRET).unwrap();
        let ours = sign(&secret(), MSG_ID, at, BODY);
        assert!(oracle.verify(BODY, &headers(&ours, at)).is_ok());
        // And it is a real check: another body fails there too.
        assert!(oracle.verify(b"{}", &headers(&ours, at)).is_err());
    }

    #[test]
    fn the_reference_library_verifies_our_two_secret_header_with_either_secret() {
        let at = now();
        let new = WebhookSecret::generate();
        let header = signature_header(&[new.clone(), secret()], MSG_ID, at, BODY);
        for secret in [new, secret()] {
            let oracle = standardwebhooks::Webhook::new(secret.reveal().expose_secret()).unwrap();
            assert!(oracle.verify(BODY, &headers(&header, at)).is_ok());
        }
        let stranger = WebhookSecret::generate();
        let oracle = standardwebhooks::Webhook::new(stranger.reveal().expose_secret()).unwrap();
        assert!(oracle.verify(BODY, &headers(&header, at)).is_err());
    }

    #[test]
    fn we_verify_the_reference_librarys_signatures() {
        let at = now();
        let oracle = standardwebhooks::Webhook::new(SECRET).unwrap();
        let theirs = oracle.sign(MSG_ID, at, BODY).unwrap();
        assert_eq!(theirs, sign(&secret(), MSG_ID, at, BODY));
        assert_eq!(verify_now(&theirs, &[secret()], at), Ok(()));
        assert_eq!(
            verify_now(&theirs, &[WebhookSecret::generate()], at),
            Err(VerifyError::BadSignature)
        );
    }
}
