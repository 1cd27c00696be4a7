//! Encryption at rest for the secrets the store keeps (Ayrshare profile keys, webhook endpoint
//! secrets): AES-256-GCM under `SECRETS_KEY`, with `SECRETS_KEY_PREVIOUS` still read during a
//! rotation.
//!
//! A stored value is a text envelope, `enc:v1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`.
//! The key id is a short fingerprint of the key, so that decryption picks the right key and a
//! rotation can find the rows still under the old one ([`Keyring::needs_rotation`]). The caller
//! passes associated data naming the row (say `b"workspaces.profile_key:<id>"`): a ciphertext
//! copied into another row then fails to decrypt instead of handing that row someone else's
//! secret.

use std::fmt;
use std::sync::Arc;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::Nonce;
use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use rand::TryRngCore;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Vars};

/// What every envelope starts with, whatever its version.
pub const ENVELOPE_PREFIX: &str = "enc:";

/// The prefix of the envelopes this module writes.
const V1_PREFIX: &str = "enc:v1:";

/// Bytes in a key (AES-256).
pub const KEY_BYTES: usize = 32;

/// Bytes in a nonce (96 bits, as GCM wants them).
const NONCE_BYTES: usize = 12;

/// Bytes in the authentication tag that ends each ciphertext.
const TAG_BYTES: usize = 16;

/// Hex characters of the key fingerprint kept in envelopes.
const KEY_ID_CHARS: usize = 8;

/// Binds every ciphertext to this scheme and version, before the caller's associated data.
const AAD_DOMAIN: &[u8] = b"mosaic-social secrets v1\0";

/// Reads keys with or without `=` padding (`openssl rand -base64 32` pads; not every tool does).
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a key could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is not valid base64 (generate one with `openssl rand -base64 32`)")]
    NotBase64,
    #[error(
        "the key is {0} bytes long; it must be 32 (generate one with `openssl rand -base64 32`)"
    )]
    WrongLength(usize),
}

/// Why the pair of settings could not be read; the message names the setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("SECRETS_KEY: {0}")]
    Current(KeyError),
    #[error("SECRETS_KEY_PREVIOUS: {0}")]
    Previous(KeyError),
    #[error("SECRETS_KEY_PREVIOUS is the same key as SECRETS_KEY; unset it or set the old key")]
    PreviousIsCurrent,
}

/// Why a stored value could not be decrypted. The messages name no secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("the value is not an encrypted envelope")]
    NotEnvelope,
    #[error("the envelope is malformed")]
    Malformed,
    #[error("the envelope has version '{0}', which this version does not read")]
    UnsupportedVersion(String),
    #[error(
        "the value was encrypted under key {0}, which is neither the current nor the previous key"
    )]
    UnknownKey(String),
    #[error(
        "the value does not decrypt: tampered with, moved from another row, or under another key"
    )]
    Undecryptable,
    #[error("the decrypted value is not utf-8")]
    NotUtf8,
    #[error("SECRETS_KEY is not set: a secret cannot be stored or read without it")]
    NoKey,
}

/// A 32-byte AES-256-GCM key. `Debug` shows only its fingerprint; the key schedule is zeroed
/// when dropped.
#[derive(Clone)]
pub struct SecretsKey {
    cipher: Aes256Gcm,
    id: String,
}

impl SecretsKey {
    /// Reads a key as `SECRETS_KEY` holds it: standard base64 of 32 bytes, padding optional,
    /// surrounding whitespace ignored.
    pub fn from_base64(text: &str) -> Result<SecretsKey, KeyError> {
        let mut bytes = KEY_BASE64
            .decode(text.trim())
            .map_err(|_| KeyError::NotBase64)?;
        let key = SecretsKey::from_bytes(&bytes);
        secrecy::zeroize::Zeroize::zeroize(&mut bytes);
        key
    }

    /// A key from its raw bytes, which must be 32.
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretsKey, KeyError> {
        let cipher =
            Aes256Gcm::new_from_slice(bytes).map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Ok(SecretsKey {
            cipher,
            id: fingerprint(bytes),
        })
    }

    /// A new random key from the operating system's generator (for the sandbox, which keeps it
    /// in memory for its lifetime).
    pub fn generate() -> SecretsKey {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random generator works");
        let key = SecretsKey::from_bytes(&bytes).expect("32 bytes make a key");
        secrecy::zeroize::Zeroize::zeroize(&mut bytes);
        key
    }

    /// A new random key with its base64 text (as `SECRETS_KEY` would hold it), for a key that
    /// must outlive the process: the sandbox writes the text to a file of its own.
    pub fn generate_with_text() -> (SecretsKey, SecretString) {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random generator works");
        let key = SecretsKey::from_bytes(&bytes).expect("32 bytes make a key");
        let text = SecretString::from(general_purpose::STANDARD.encode(bytes));
        secrecy::zeroize::Zeroize::zeroize(&mut bytes);
        (key, text)
    }

    /// The fingerprint written into envelopes: eight hex characters of a SHA-256 of the key,
    /// which tell keys apart and reveal nothing of them.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn fingerprint(key: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"mosaic-social secrets key id\0")
        .chain_update(key)
        .finalize();
    hex::encode(digest)[..KEY_ID_CHARS].to_owned()
}

/// The key that encrypts, and the one before it that still decrypts during a rotation.
#[derive(Clone, Debug)]
pub struct Keyring {
    /// Encrypts every new value; decrypts too.
    pub current: SecretsKey,
    /// Decrypts values written before the rotation began (`SECRETS_KEY_PREVIOUS`).
    pub previous: Option<SecretsKey>,
}

impl Keyring {
    /// A keyring of one key.
    pub fn new(current: SecretsKey) -> Keyring {
        Keyring {
            current,
            previous: None,
        }
    }

    /// Reads `SECRETS_KEY` and, when set, `SECRETS_KEY_PREVIOUS`. A previous key equal to the
    /// current one is refused: it is a rotation that was never made.
    pub fn from_base64(current: &str, previous: Option<&str>) -> Result<Keyring, KeyringError> {
        let current = SecretsKey::from_base64(current).map_err(KeyringError::Current)?;
        let previous = previous
            .map(SecretsKey::from_base64)
            .transpose()
            .map_err(KeyringError::Previous)?;
        if previous.as_ref().is_some_and(|p| p.id == current.id) {
            return Err(KeyringError::PreviousIsCurrent);
        }
        Ok(Keyring { current, previous })
    }

    /// Encrypts `plaintext` under the current key, bound to `aad` (which the same call to
    /// [`Keyring::decrypt`] must repeat). Each call draws a fresh random nonce.
    pub fn encrypt(&self, plaintext: &str, aad: &[u8]) -> String {
        let nonce = Nonce::<Aes256Gcm>::generate();
        let aad = full_aad(aad);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            // AES-GCM refuses only a plaintext over 64 GiB, which no secret is.
            .expect("AES-GCM encrypts any secret-sized plaintext");
        let mut blob = Vec::with_capacity(NONCE_BYTES + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        format!(
            "{V1_PREFIX}{}:{}",
            self.current.id,
            general_purpose::STANDARD.encode(blob)
        )
    }

    /// Decrypts an envelope written by [`Keyring::encrypt`] with the same `aad`, under whichever
    /// of the two keys its id names.
    pub fn decrypt(&self, envelope: &str, aad: &[u8]) -> Result<SecretString, SecretsError> {
        let parts = parse_envelope(envelope)?;
        let aad = full_aad(aad);
        let mut tried = false;
        // Both keys when both match the id: two keys sharing a 32-bit fingerprint is unlikely,
        // not impossible.
        for key in self.keys().filter(|key| key.id == parts.key_id) {
            tried = true;
            let opened = key.cipher.decrypt(
                &parts.nonce,
                Payload {
                    msg: &parts.sealed,
                    aad: &aad,
                },
            );
            if let Ok(plain) = opened {
                return String::from_utf8(plain)
                    .map(SecretString::from)
                    .map_err(|e| {
                        secrecy::zeroize::Zeroize::zeroize(&mut e.into_bytes());
                        SecretsError::NotUtf8
                    });
            }
        }
        if tried {
            Err(SecretsError::Undecryptable)
        } else {
            Err(SecretsError::UnknownKey(parts.key_id.to_owned()))
        }
    }

    /// Whether a stored value should be written again under the current key: it is under the
    /// previous key, under a key we do not know, malformed, or not encrypted at all.
    pub fn needs_rotation(&self, stored: &str) -> bool {
        key_id_of(stored) != Some(self.current.id.as_str())
    }

    fn keys(&self) -> impl Iterator<Item = &SecretsKey> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }
}

/// Whether a stored value is an envelope rather than a plain value written before encryption
/// (the migration that encrypts existing profile keys skips the former). Anything starting with
/// `enc:` counts, so a damaged envelope is reported as such and never re-encrypted as plain text.
pub fn is_envelope(stored: &str) -> bool {
    stored.starts_with(ENVELOPE_PREFIX)
}

/// The key id of a well-formed v1 envelope, or `None`.
pub fn key_id_of(stored: &str) -> Option<&str> {
    parse_envelope(stored).ok().map(|parts| parts.key_id)
}

/// A v1 envelope taken apart.
struct Envelope<'a> {
    key_id: &'a str,
    nonce: Nonce<Aes256Gcm>,
    /// The ciphertext followed by its tag.
    sealed: Vec<u8>,
}

fn parse_envelope(stored: &str) -> Result<Envelope<'_>, SecretsError> {
    let rest = stored
        .strip_prefix(ENVELOPE_PREFIX)
        .ok_or(SecretsError::NotEnvelope)?;
    let (version, rest) = rest.split_once(':').ok_or(SecretsError::Malformed)?;
    if version != "v1" {
        return Err(SecretsError::UnsupportedVersion(
            version.chars().take(16).collect(),
        ));
    }
    let (key_id, payload) = rest.split_once(':').ok_or(SecretsError::Malformed)?;
    if key_id.len() != KEY_ID_CHARS || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SecretsError::Malformed);
    }
    let blob = general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| SecretsError::Malformed)?;
    if blob.len() < NONCE_BYTES + TAG_BYTES {
        return Err(SecretsError::Malformed);
    }
    let (nonce, sealed) = blob.split_at(NONCE_BYTES);
    Ok(Envelope {
        key_id,
        nonce: Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| SecretsError::Malformed)?,
        sealed: sealed.to_vec(),
    })
}

fn full_aad(aad: &[u8]) -> Vec<u8> {
    [AAD_DOMAIN, aad].concat()
}

/// Reads `SECRETS_KEY` and `SECRETS_KEY_PREVIOUS` (base64 of 32 bytes each); `None` when
/// `SECRETS_KEY` is unset. The previous key alone is refused: it only decrypts beside a current one.
pub fn read_settings(vars: &Vars) -> Result<Option<Keyring>, ConfigError> {
    match (vars.get("SECRETS_KEY"), vars.get("SECRETS_KEY_PREVIOUS")) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ConfigError::new(
            "SECRETS_KEY",
            "is not set, but SECRETS_KEY_PREVIOUS is: the previous key is only accepted beside \
             a current one",
        )),
        (Some(current), previous) => Keyring::from_base64(&current, previous.as_deref())
            .map(Some)
            .map_err(|e| {
                let name = match e {
                    KeyringError::Current(_) => "SECRETS_KEY",
                    _ => "SECRETS_KEY_PREVIOUS",
                };
                // The keyring's message starts with the setting's name; say it once.
                let text = e.to_string();
                let problem = text.strip_prefix(&format!("{name}: ")).unwrap_or(&text);
                ConfigError::new(name, problem.to_owned())
            }),
    }
}

/// What a store holds to keep secrets encrypted at rest: the keyring when `SECRETS_KEY` (or the
/// sandbox's own key) is set. Cheap to clone. Every stored secret goes through [`Secrets::seal`]
/// on its way in and [`Secrets::open`] on its way out, with the row it belongs to as associated
/// data (`b"<table>.<column>:<row id>"`), so that a value moved to another row does not decrypt.
#[derive(Clone, Debug, Default)]
pub struct Secrets(Option<Arc<Keyring>>);

impl Secrets {
    pub fn new(keyring: Option<Keyring>) -> Secrets {
        Secrets(keyring.map(Arc::new))
    }

    /// Whether a key is set.
    pub fn is_configured(&self) -> bool {
        self.0.is_some()
    }

    /// The keyring, when a key is set.
    pub fn keyring(&self) -> Option<&Keyring> {
        self.0.as_deref()
    }

    /// The envelope to store for `plaintext`.
    pub fn seal(&self, plaintext: &str, aad: &[u8]) -> Result<String, SecretsError> {
        Ok(self
            .0
            .as_ref()
            .ok_or(SecretsError::NoKey)?
            .encrypt(plaintext, aad))
    }

    /// The secret a stored envelope holds.
    pub fn open(&self, envelope: &str, aad: &[u8]) -> Result<SecretString, SecretsError> {
        self.0
            .as_ref()
            .ok_or(SecretsError::NoKey)?
            .decrypt(envelope, aad)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    const ROW: &[u8] = b"workspaces.profile_key:7d1c";

    fn keyring(current: &str, previous: Option<&str>) -> Keyring {
        Keyring::from_base64(current, previous).unwrap()
    }

    #[test]
    fn an_encrypted_value_decrypts_to_what_was_encrypted() {
        let ring = keyring(KEY_A, None);
        let envelope = ring.encrypt("PROFILE-KEY-123", ROW);
        assert!(
            envelope.starts_with(&format!("enc:v1:{}:", ring.current.id())),
            "{envelope}"
        );
        assert!(!envelope.contains("PROFILE-KEY-123"));
        let plain = ring.decrypt(&envelope, ROW).unwrap();
        assert_eq!(plain.expose_secret(), "PROFILE-KEY-123");
    }

    #[test]
    fn an_empty_and_a_long_value_round_trip() {
        let ring = keyring(KEY_A, None);
        for text in [String::new(), "é".repeat(10_000)] {
            let envelope = ring.encrypt(&text, ROW);
            assert_eq!(ring.decrypt(&envelope, ROW).unwrap().expose_secret(), text);
        }
    }

    #[test]
    fn the_same_value_encrypts_differently_each_time() {
        let ring = keyring(KEY_A, None);
        assert_ne!(ring.encrypt("same", ROW), ring.encrypt("same", ROW));
    }

    #[test]
    fn a_value_under_another_key_does_not_decrypt_even_with_a_forged_key_id() {
        let envelope = keyring(KEY_A, None).encrypt("secret", ROW);
        // Forge the id of key B onto key A's ciphertext: B is then tried, and fails.
        let ring_b = keyring(KEY_B, None);
        let forged = envelope.replacen(keyring(KEY_A, None).current.id(), ring_b.current.id(), 1);
        assert_eq!(
            ring_b.decrypt(&forged, ROW).unwrap_err(),
            SecretsError::Undecryptable
        );
    }

    #[test]
    fn a_value_under_an_unknown_key_names_that_key() {
        let envelope = keyring(KEY_A, None).encrypt("secret", ROW);
        let ring_b = keyring(KEY_B, None);
        let id_a = keyring(KEY_A, None).current.id().to_owned();
        let error = ring_b.decrypt(&envelope, ROW).unwrap_err();
        assert_eq!(error, SecretsError::UnknownKey(id_a.clone()));
        assert!(error.to_string().contains(&id_a), "{error}");
    }

    #[test]
    fn a_value_moved_to_another_row_does_not_decrypt() {
        let ring = keyring(KEY_A, None);
        let envelope = ring.encrypt("secret", ROW);
        assert_eq!(
            ring.decrypt(&envelope, b"workspaces.profile_key:9999")
                .unwrap_err(),
            SecretsError::Undecryptable
        );
        assert_eq!(
            ring.decrypt(&envelope, b"").unwrap_err(),
            SecretsError::Undecryptable
        );
    }

    #[test]
    fn a_tampered_ciphertext_does_not_decrypt() {
        let ring = keyring(KEY_A, None);
        let envelope = ring.encrypt("secret", ROW);
        let (head, payload) = envelope.rsplit_once(':').unwrap();
        let blob = general_purpose::STANDARD.decode(payload).unwrap();
        // Every byte: nonce, ciphertext and tag.
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            let tampered = format!("{head}:{}", general_purpose::STANDARD.encode(&bad));
            assert_eq!(
                ring.decrypt(&tampered, ROW).unwrap_err(),
                SecretsError::Undecryptable,
                "byte {i}"
            );
        }
        // A truncated tag, still long enough to parse.
        let short = format!(
            "{head}:{}",
            general_purpose::STANDARD.encode(&blob[..blob.len() - 1])
        );
        assert_eq!(
            ring.decrypt(&short, ROW).unwrap_err(),
            SecretsError::Undecryptable
        );
    }

    #[test]
    fn the_previous_key_still_decrypts_and_its_values_need_rotation() {
        let old = keyring(KEY_A, None);
        let envelope = old.encrypt("secret", ROW);
        assert!(!old.needs_rotation(&envelope));

        let rotating = keyring(KEY_B, Some(KEY_A));
        assert_eq!(
            rotating.decrypt(&envelope, ROW).unwrap().expose_secret(),
            "secret"
        );
        assert!(rotating.needs_rotation(&envelope));

        let renewed = rotating.encrypt("secret", ROW);
        assert!(!rotating.needs_rotation(&renewed));
        assert_eq!(key_id_of(&renewed), Some(rotating.current.id()));
        // Once the rotation is over, the old value is unreadable and the new one is fine.
        let after = keyring(KEY_B, None);
        assert!(matches!(
            after.decrypt(&envelope, ROW),
            Err(SecretsError::UnknownKey(_))
        ));
        assert_eq!(
            after.decrypt(&renewed, ROW).unwrap().expose_secret(),
            "secret"
        );
    }

    #[test]
    fn plain_and_malformed_values_need_rotation() {
        let ring = keyring(KEY_A, None);
        assert!(ring.needs_rotation("PLAIN-PROFILE-KEY"));
        assert!(ring.needs_rotation("enc:v1:zz"));
        assert!(ring.needs_rotation(""));
    }

    #[test]
    fn malformed_envelopes_are_errors_not_panics() {
        let ring = keyring(KEY_A, None);
        let id = ring.current.id().to_owned();
        let short = general_purpose::STANDARD.encode([0u8; NONCE_BYTES + TAG_BYTES - 1]);
        let payload = ring
            .encrypt("x", ROW)
            .rsplit_once(':')
            .map(|(_, p)| p.to_owned())
            .unwrap();
        let cases = [
            ("PLAIN-PROFILE-KEY".to_owned(), SecretsError::NotEnvelope),
            (String::new(), SecretsError::NotEnvelope),
            ("enc:".to_owned(), SecretsError::Malformed),
            ("enc:v1".to_owned(), SecretsError::Malformed),
            ("enc:v1:".to_owned(), SecretsError::Malformed),
            (format!("enc:v1:{id}"), SecretsError::Malformed),
            (format!("enc:v1:{id}:"), SecretsError::Malformed),
            (
                format!("enc:v1:{id}:!!!not base64"),
                SecretsError::Malformed,
            ),
            (format!("enc:v1:{id}:{short}"), SecretsError::Malformed),
            ("enc:v1:abc:AAAA".to_owned(), SecretsError::Malformed),
            // A key id of the wrong shape before a payload that parses: refused for the id,
            // so that no message ever echoes more than eight hex characters of it.
            (format!("enc:v1:abc:{payload}"), SecretsError::Malformed),
            (format!("enc:v1:{id}0:{payload}"), SecretsError::Malformed),
            (
                format!("enc:v1:zzzzzzzz:{payload}"),
                SecretsError::Malformed,
            ),
            ("enc:v1:é€é€é€é€:AAAA".to_owned(), SecretsError::Malformed),
            (
                format!("enc:v2:{id}:AAAA"),
                SecretsError::UnsupportedVersion("v2".into()),
            ),
            (
                format!("enc:{}:x:y", "v".repeat(10_000)),
                SecretsError::UnsupportedVersion("v".repeat(16)),
            ),
        ];
        for (envelope, expected) in cases {
            assert_eq!(
                ring.decrypt(&envelope, ROW).unwrap_err(),
                expected,
                "{envelope:.40}"
            );
        }
    }

    #[test]
    fn envelopes_are_told_from_plain_values() {
        let ring = keyring(KEY_A, None);
        assert!(is_envelope(&ring.encrypt("x", ROW)));
        assert!(is_envelope("enc:v9:whatever"));
        assert!(!is_envelope("PLAIN-PROFILE-KEY"));
        assert!(!is_envelope(""));
        assert_eq!(key_id_of("PLAIN-PROFILE-KEY"), None);
        assert_eq!(key_id_of(&ring.encrypt("x", ROW)), Some(ring.current.id()));
    }

    #[test]
    fn keys_are_read_from_base64_of_32_bytes() {
        let padded = SecretsKey::from_base64(KEY_A).unwrap();
        let unpadded = SecretsKey::from_base64(KEY_A.trim_end_matches('=')).unwrap();
        let spaced = SecretsKey::from_base64(&format!("  {KEY_A}\n")).unwrap();
        assert_eq!(padded.id(), unpadded.id());
        assert_eq!(padded.id(), spaced.id());
        assert_eq!(padded.id().len(), KEY_ID_CHARS);
        assert_ne!(padded.id(), SecretsKey::from_base64(KEY_B).unwrap().id());
    }

    #[test]
    fn a_key_of_the_wrong_length_or_not_base64_is_refused() {
        let error = |text: &str| SecretsKey::from_base64(text).unwrap_err();
        assert_eq!(
            error(&general_purpose::STANDARD.encode([7u8; 16])),
            KeyError::WrongLength(16)
        );
        assert_eq!(
            error(&general_purpose::STANDARD.encode([7u8; 33])),
            KeyError::WrongLength(33)
        );
        assert_eq!(error(""), KeyError::WrongLength(0));
        assert_eq!(error("not base64!"), KeyError::NotBase64);
        // A 64-character hex key is valid base64 of 48 bytes: refused for its length.
        assert_eq!(error(&"ab".repeat(32)), KeyError::WrongLength(48));
        assert!(
            error("x")
                .to_string()
                .starts_with("the key is not valid base64")
        );
        assert!(
            error(&general_purpose::STANDARD.encode([7u8; 16]))
                .to_string()
                .contains("16 bytes long; it must be 32")
        );
    }

    #[test]
    fn keyring_errors_name_the_setting_at_fault() {
        let short = general_purpose::STANDARD.encode([7u8; 16]);
        let current = Keyring::from_base64(&short, Some(KEY_A)).unwrap_err();
        assert_eq!(current, KeyringError::Current(KeyError::WrongLength(16)));
        assert!(
            current
                .to_string()
                .starts_with("SECRETS_KEY: the key is 16 bytes")
        );
        let previous = Keyring::from_base64(KEY_A, Some("nope!")).unwrap_err();
        assert_eq!(previous, KeyringError::Previous(KeyError::NotBase64));
        assert!(
            previous
                .to_string()
                .starts_with("SECRETS_KEY_PREVIOUS: the key is not")
        );
        assert_eq!(
            Keyring::from_base64(KEY_A, Some(&format!(" {KEY_A} "))).unwrap_err(),
            KeyringError::PreviousIsCurrent
        );
    }

    #[test]
    fn generated_keys_are_random_and_work() {
        let a = Keyring::new(SecretsKey::generate());
        let b = Keyring::new(SecretsKey::generate());
        assert_ne!(a.current.id(), b.current.id());
        let envelope = a.encrypt("sandbox", ROW);
        assert_eq!(
            a.decrypt(&envelope, ROW).unwrap().expose_secret(),
            "sandbox"
        );
        assert!(b.decrypt(&envelope, ROW).is_err());
    }

    #[test]
    fn debug_shows_no_key_and_no_plaintext() {
        let ring = keyring(KEY_B, Some(KEY_A));
        let shown = format!("{ring:?}");
        assert!(shown.contains(ring.current.id()), "{shown}");
        for secret in [KEY_A, KEY_B, "ICEiIyQl", "AAECAwQF"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        // The raw key bytes (0x00 0x01 0x02 …) appear in no form either.
        assert!(!shown.contains("[0, 1, 2"), "{shown}");
        let plain = ring
            .decrypt(&ring.encrypt("PROFILE-KEY-123", ROW), ROW)
            .unwrap();
        assert!(!format!("{plain:?}").contains("PROFILE-KEY-123"));
    }
}
