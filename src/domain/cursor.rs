//! Opaque cursors: where a keyset page ends, as URL-safe base64 text with a check, so that a
//! tampered or truncated cursor is refused instead of silently starting a page somewhere else.
//! Each kind of cursor has a context of its own: one list's cursor is never read as another's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Bytes of the check kept in a cursor.
const CHECK_LEN: usize = 8;

/// The longest cursor read: no cursor this service issues is longer, so any input costs bounded
/// work.
pub const MAX_CURSOR_LEN: usize = 128;

/// The cursor for `payload`: its bytes and their check under `context`, in URL-safe base64.
pub fn seal(context: &[u8], payload: &str) -> String {
    let mut bytes = payload.as_bytes().to_vec();
    let check = check_of(context, &bytes);
    bytes.extend_from_slice(&check);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload of a cursor sealed under `context`, or `None` for anything else.
pub fn open(context: &[u8], cursor: &str) -> Option<String> {
    open_within(context, cursor, MAX_CURSOR_LEN)
}

/// `open` for a list whose cursors carry longer payloads (a comment's ids): at most `max_len`
/// characters are read.
pub fn open_within(context: &[u8], cursor: &str, max_len: usize) -> Option<String> {
    if cursor.len() > max_len {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let split = bytes.len().checked_sub(CHECK_LEN)?;
    let (payload, check) = bytes.split_at(split);
    if check != check_of(context, payload) {
        return None;
    }
    String::from_utf8(payload.to_vec()).ok()
}

fn check_of(context: &[u8], payload: &[u8]) -> [u8; CHECK_LEN] {
    let digest = Sha256::new()
        .chain_update(context)
        .chain_update(payload)
        .finalize();
    let mut check = [0; CHECK_LEN];
    check.copy_from_slice(&digest[..CHECK_LEN]);
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_under_its_own_context() {
        let cursor = seal(b"one", "1795000000123456.abc");
        assert_eq!(
            open(b"one", &cursor).as_deref(),
            Some("1795000000123456.abc")
        );
        assert_eq!(open(b"two", &cursor), None);
        assert!(!cursor.contains(['+', '/', '=']), "{cursor}");
        assert_eq!(open(b"one", &"A".repeat(MAX_CURSOR_LEN + 1)), None);
        assert_eq!(open(b"one", ""), None);
    }

    #[test]
    fn a_cursor_longer_than_the_bound_is_refused_unread_even_when_sealed() {
        // 88 bytes of payload and 8 of check are 96 bytes: exactly 128 characters of base64.
        let longest = seal(b"one", &"x".repeat(88));
        assert_eq!(longest.len(), MAX_CURSOR_LEN);
        assert_eq!(open(b"one", &longest), Some("x".repeat(88)));
        let longer = seal(b"one", &"x".repeat(89));
        assert!(longer.len() > MAX_CURSOR_LEN);
        assert_eq!(open(b"one", &longer), None);
    }
}
