//! Ayrshare's webhook signature: `X-Authorization-Content-SHA256` is the lowercase hex
//! HMAC-SHA256 of the raw body keyed by the webhook secret, and `X-Authorization-Timestamp` the
//! Unix time (seconds) of the delivery. Pure code; `docs/webhooks.md` describes the scheme.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The header holding the signature.
pub const SIGNATURE_HEADER: &str = "x-authorization-content-sha256";
/// The header holding the delivery time.
pub const TIMESTAMP_HEADER: &str = "x-authorization-timestamp";

/// Why a delivery is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("the X-Authorization-Content-SHA256 header is missing")]
    MissingSignature,
    #[error("the X-Authorization-Timestamp header is missing")]
    MissingTimestamp,
    #[error("the X-Authorization-Timestamp header is not a Unix time in seconds")]
    MalformedTimestamp,
    #[error("the X-Authorization-Timestamp is outside the accepted window")]
    StaleTimestamp,
    #[error("the signature does not match the body")]
    BadSignature,
}

/// The signature of `body` under `secret`, as Ayrshare sends it.
pub fn signature(secret: &SecretString, body: &[u8]) -> String {
    hex::encode(mac(secret, body).finalize().into_bytes())
}

fn mac(secret: &SecretString, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    mac
}

/// Checks a delivery: the signature against each secret (the current one, then the previous
/// during a rotation), in constant time, and the timestamp against `now` (Unix seconds) within
/// `tolerance_secs` either way.
pub fn verify(
    secrets: &[SecretString],
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    now: i64,
    tolerance_secs: u64,
) -> Result<(), SignatureProblem> {
    let signature = signature.ok_or(SignatureProblem::MissingSignature)?;
    let timestamp = timestamp.ok_or(SignatureProblem::MissingTimestamp)?;
    // Lowercase hex, as Ayrshare sends it; upper case is read too (hex decoding does not mind).
    let expected = hex::decode(signature.trim()).map_err(|_| SignatureProblem::BadSignature)?;
    // `verify_slice` compares in constant time: the signature leaks nothing through timing.
    if !secrets
        .iter()
        .any(|secret| mac(secret, body).verify_slice(&expected).is_ok())
    {
        return Err(SignatureProblem::BadSignature);
    }
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureProblem::MalformedTimestamp)?;
    if sent.abs_diff(now) > tolerance_secs {
        return Err(SignatureProblem::StaleTimestamp);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn the_signature_is_lowercase_hex_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(&secret("Jefe"), b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_delivery_is_accepted_under_either_secret_within_the_window() {
        let body = br#"{"action":"scheduled"}"#;
        let current = secret("new");
        let previous = secret("old");
        let secrets = [current.clone(), previous.clone()];
        for key in [&current, &previous] {
            let sig = signature(key, body);
            assert_eq!(
                verify(&secrets, body, Some(&sig), Some("1000"), 1000, 300),
                Ok(())
            );
            // The window is inclusive, both ways.
            for now in [700, 1300] {
                assert_eq!(
                    verify(&secrets, body, Some(&sig), Some("1000"), now, 300),
                    Ok(())
                );
            }
            for now in [699, 1301] {
                assert_eq!(
                    verify(&secrets, body, Some(&sig), Some("1000"), now, 300),
                    Err(SignatureProblem::StaleTimestamp)
                );
            }
        }
        let sig = signature(&previous, body);
        assert_eq!(
            verify(&secrets[..1], body, Some(&sig), Some("1000"), 1000, 300),
            Err(SignatureProblem::BadSignature)
        );
    }

    #[test]
    fn each_problem_is_named() {
        let body = b"{}";
        let secrets = [secret("s")];
        let sig = signature(&secrets[0], body);
        let check = |sig: Option<&str>, ts: Option<&str>, body: &[u8]| {
            verify(&secrets, body, sig, ts, 1000, 300)
        };
        assert_eq!(
            check(None, Some("1000"), body),
            Err(SignatureProblem::MissingSignature)
        );
        assert_eq!(
            check(Some(&sig), None, body),
            Err(SignatureProblem::MissingTimestamp)
        );
        assert_eq!(
            check(Some(&sig), Some("soon"), body),
            Err(SignatureProblem::MalformedTimestamp)
        );
        assert_eq!(
            check(Some(&sig), Some("1000"), b"{ }"),
            Err(SignatureProblem::BadSignature)
        );
        assert_eq!(
            check(Some("not hex"), Some("1000"), body),
            Err(SignatureProblem::BadSignature)
        );
        assert_eq!(
            check(Some(&sig[..10]), Some("1000"), body),
            Err(SignatureProblem::BadSignature)
        );
        assert_eq!(check(Some(&sig.to_uppercase()), Some("1000"), body), Ok(()));
    }
}
