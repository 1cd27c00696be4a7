//! API keys: `mk_` and 43 random URL-safe characters, shown once, stored only as a SHA-256 hash.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every key starts with this.
pub const KEY_PREFIX: &str = "mk_";

/// How many characters after `mk_` are kept as the key's public prefix (for `keys list`).
pub const VISIBLE_CHARS: usize = 8;

/// A whole API key. Only `keys create` ever shows it; `Debug` does not.
pub struct ApiKeySecret(String);

/// The SHA-256 of a key, hex-encoded: what the database holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyHash(pub String);

impl ApiKeySecret {
    /// A new key from 32 bytes of the operating system's CSPRNG-seeded generator.
    pub fn generate() -> ApiKeySecret {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        ApiKeySecret(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a key a caller presented.
    pub fn from_presented(key: &str) -> ApiKeySecret {
        ApiKeySecret(key.to_owned())
    }

    /// The key itself, for the one place that prints it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it has the shape of one of our keys (checked before any database work).
    pub fn is_well_formed(&self) -> bool {
        self.0.len() >= KEY_PREFIX.len() + 32
            && self.0.starts_with(KEY_PREFIX)
            && self.0[KEY_PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    /// `mk_` and the next eight characters: enough to tell keys apart, useless to an attacker.
    pub fn prefix(&self) -> String {
        self.0
            .chars()
            .take(KEY_PREFIX.len() + VISIBLE_CHARS)
            .collect()
    }

    /// The stored form. A plain SHA-256 suffices: the key has 256 bits of entropy, so there is
    /// nothing for a slow password hash to protect against, and lookups stay one indexed query.
    pub fn hash(&self) -> KeyHash {
        KeyHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_long_url_safe_and_distinct() {
        let a = ApiKeySecret::generate();
        let b = ApiKeySecret::generate();
        assert!(a.is_well_formed(), "{}", a.expose());
        assert_eq!(a.expose().len(), 3 + 43);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn debug_shows_only_the_prefix() {
        let key = ApiKeySecret::generate();
        let shown = format!("{key:?}");
        assert!(!shown.contains(key.expose()));
        assert!(shown.contains(&key.prefix()));
        assert_eq!(key.prefix().len(), 11);
    }

    #[test]
    fn malformed_keys_are_recognised() {
        for bad in [
            "",
            "mk_short",
            "sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "mk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
        ] {
            assert!(!ApiKeySecret::from_presented(bad).is_well_formed(), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        let key = ApiKeySecret::from_presented("mk_test");
        assert_eq!(
            key.hash().0,
            "ee2d3cffda660faaf8a6b91e292b029ce15a08076e7fc733e288239a11a5a46d"
        );
    }
}
