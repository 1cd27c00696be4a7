//! Idempotency: the caller's `Idempotency-Key`, the fingerprint that tells a retry from another
//! request sent under the same key, and the `idempotencyKey` this service sends to Ayrshare.

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::new_post::FieldError;

/// The longest key accepted (Stripe's bound).
pub const MAX_KEY_LEN: usize = 255;

/// A checked `Idempotency-Key`: 1 to 255 printable ASCII characters, kept exactly as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks a header value as the caller sent it.
    pub fn parse(raw: &[u8]) -> Result<IdempotencyKey, FieldError> {
        let problem = if raw.is_empty() {
            Some("must not be empty".to_owned())
        } else if raw.len() > MAX_KEY_LEN {
            Some(format!(
                "must be at most {MAX_KEY_LEN} characters, not {}",
                raw.len()
            ))
        } else if !raw.iter().all(|b| (0x20..=0x7e).contains(b)) {
            Some("must be printable ASCII characters only".to_owned())
        } else if raw.iter().all(|b| *b == b' ') {
            Some("must not be blank".to_owned())
        } else {
            None
        };
        match problem {
            Some(message) => Err(FieldError::new("Idempotency-Key", message)),
            // Checked ASCII above, so this cannot fail.
            None => Ok(IdempotencyKey(String::from_utf8_lossy(raw).into_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 (hex) of what a create request asks Ayrshare for and of the workspace: the parsed
/// request, so that whitespace, key order or `"X"` versus `"x"` make no difference, while any
/// change of meaning does.
pub fn fingerprint(ayrshare_body: &Value, workspace_id: Uuid) -> String {
    let mut canonical = String::with_capacity(256);
    write_canonical(ayrshare_body, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(workspace_id.as_bytes());
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// JSON with object keys sorted at every depth, whatever order the map keeps them in (serde_json
/// keeps insertion order when a dependency turns on `preserve_order`).
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The `idempotencyKey` sent to Ayrshare with a post: the caller's own when their request
/// forwards one (it is then sent as they wrote it), else one derived from the tracking id, so
/// that the same record can never be published twice, whoever sends it again.
pub fn ayrshare_key(extra_key: Option<&Value>, tracking_id: Uuid) -> (String, bool) {
    match extra_key {
        Some(Value::String(own)) => (own.clone(), false),
        Some(other) => (other.to_string(), false),
        None => (format!("mosaic-{tracking_id}"), true),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_key_is_one_to_255_printable_ascii_characters() {
        assert_eq!(
            IdempotencyKey::parse(b"order-42").unwrap().as_str(),
            "order-42"
        );
        assert!(IdempotencyKey::parse(b"a b~!").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; 256],
            b"tab\there",
            b"caf\xc3\xa9",
            b"nul\0",
            b"   ",
            b"\x7f",
        ] {
            let error = IdempotencyKey::parse(bad).unwrap_err();
            assert_eq!(error.field, "Idempotency-Key", "{bad:?}");
        }
    }

    #[test]
    fn the_fingerprint_ignores_key_order_and_sees_every_change() {
        let ws = Uuid::new_v4();
        let a = json!({"post": "hi", "platforms": ["twitter"], "notes": {"a": 1, "b": [1, 2]}});
        let b = json!({"notes": {"b": [1, 2], "a": 1}, "platforms": ["twitter"], "post": "hi"});
        assert_eq!(fingerprint(&a, ws), fingerprint(&b, ws));
        assert_eq!(fingerprint(&a, ws).len(), 64);
        let changed = [
            json!({"post": "hi!", "platforms": ["twitter"], "notes": {"a": 1, "b": [1, 2]}}),
            json!({"post": "hi", "platforms": ["linkedin"], "notes": {"a": 1, "b": [1, 2]}}),
            json!({"post": "hi", "platforms": ["twitter"], "notes": {"a": 1, "b": [2, 1]}}),
            json!({"post": "hi", "platforms": ["twitter"], "notes": {"a": "1", "b": [1, 2]}}),
        ];
        for other in changed {
            assert_ne!(fingerprint(&a, ws), fingerprint(&other, ws), "{other}");
        }
        assert_ne!(fingerprint(&a, ws), fingerprint(&a, Uuid::new_v4()));
    }

    #[test]
    fn the_ayrshare_key_is_the_callers_own_or_derived_from_the_record() {
        let id = Uuid::new_v4();
        assert_eq!(ayrshare_key(None, id), (format!("mosaic-{id}"), true));
        assert_eq!(
            ayrshare_key(Some(&json!("mine")), id),
            ("mine".to_owned(), false)
        );
        assert_eq!(ayrshare_key(Some(&json!(7)), id), ("7".to_owned(), false));
    }
}
