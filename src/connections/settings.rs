//! The connections family's settings, read from their own variables (`config.rs` assembles
//! them): the Ayrshare domain and private key that `POST /profiles/generateJWT` needs.

use std::fmt;

use secrecy::SecretString;

use crate::config::{ConfigError, Vars};

/// The settings of the linking page.
#[derive(Clone, Default)]
pub struct ConnectionSettings {
    /// `AYRSHARE_DOMAIN`: the domain Ayrshare gave the account for its linking page.
    pub domain: Option<String>,
    /// `AYRSHARE_PRIVATE_KEY`, or the content of the file `AYRSHARE_PRIVATE_KEY_FILE` names.
    pub private_key: Option<SecretString>,
}

// By hand, so that the private key never lands in a log line.
impl fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("domain", &self.domain)
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// The longest private key file read: a PEM key is a few KiB.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

impl ConnectionSettings {
    /// Reads `AYRSHARE_DOMAIN` and `AYRSHARE_PRIVATE_KEY` or `AYRSHARE_PRIVATE_KEY_FILE` (not
    /// both). Either may be missing: the server starts, and `connect` answers 503 naming them.
    pub fn read(vars: &Vars) -> Result<ConnectionSettings, ConfigError> {
        let domain = vars.get("AYRSHARE_DOMAIN").map(|d| d.trim().to_owned());
        let inline = vars.get("AYRSHARE_PRIVATE_KEY");
        let file = vars.get("AYRSHARE_PRIVATE_KEY_FILE");
        let private_key = match (inline, file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "AYRSHARE_PRIVATE_KEY_FILE",
                    "set AYRSHARE_PRIVATE_KEY or AYRSHARE_PRIVATE_KEY_FILE, not both",
                ));
            }
            // A key pasted into an .env file often has its newlines written as `\n`.
            (Some(key), None) => Some(SecretString::from(key.replace("\\n", "\n"))),
            (None, Some(path)) => Some(read_key_file(path.trim())?),
            (None, None) => None,
        };
        Ok(ConnectionSettings {
            domain,
            private_key,
        })
    }

    /// The settings `generateJWT` needs, or the sentence naming those missing.
    pub fn linking(&self) -> Result<(&str, &SecretString), String> {
        match (&self.domain, &self.private_key) {
            (Some(domain), Some(key)) => Ok((domain, key)),
            (None, None) => Err(
                "linking social accounts is not configured: set AYRSHARE_DOMAIN and \
                 AYRSHARE_PRIVATE_KEY (or AYRSHARE_PRIVATE_KEY_FILE), from the Ayrshare \
                 dashboard's Business plan integration settings"
                    .into(),
            ),
            (None, Some(_)) => {
                Err("linking social accounts is not configured: AYRSHARE_DOMAIN is not set".into())
            }
            (Some(_), None) => Err(
                "linking social accounts is not configured: set AYRSHARE_PRIVATE_KEY (or \
                 AYRSHARE_PRIVATE_KEY_FILE)"
                    .into(),
            ),
        }
    }
}

fn read_key_file(path: &str) -> Result<SecretString, ConfigError> {
    let name = "AYRSHARE_PRIVATE_KEY_FILE";
    let size = std::fs::metadata(path)
        .map_err(|e| ConfigError::new(name, format!("cannot read {path}: {e}")))?
        .len();
    if size > MAX_KEY_FILE_BYTES {
        return Err(ConfigError::new(
            name,
            format!("{path} is larger than {MAX_KEY_FILE_BYTES} bytes: not a private key"),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(name, format!("cannot read {path}: {e}")))?;
    if text.trim().is_empty() {
        return Err(ConfigError::new(name, format!("{path} is empty")));
    }
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<ConnectionSettings, ConfigError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let lookup = move |name: &str| {
            owned
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        ConnectionSettings::read(&Vars::new(&lookup))
    }

    #[test]
    fn the_settings_are_read_and_each_gap_is_named() {
        let none = read(&[]).unwrap();
        assert!(none.linking().unwrap_err().contains("AYRSHARE_DOMAIN"));
        let only_domain = read(&[("AYRSHARE_DOMAIN", "acme")]).unwrap();
        assert!(
            only_domain
                .linking()
                .unwrap_err()
                .contains("AYRSHARE_PRIVATE_KEY")
        );
        let both = read(&[
            ("AYRSHARE_DOMAIN", "acme"),
            ("AYRSHARE_PRIVATE_KEY", "a\\nb"),
        ])
        .unwrap();
        let (domain, key) = both.linking().unwrap();
        assert_eq!((domain, key.expose_secret()), ("acme", "a\nb"));
        assert!(!format!("{both:?}").contains("a\nb"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key.pem");
        std::fs::write(&file, "-----BEGIN KEY-----\nx\n").unwrap();
        let from_file = read(&[("AYRSHARE_PRIVATE_KEY_FILE", file.to_str().unwrap())]).unwrap();
        assert!(
            from_file
                .private_key
                .unwrap()
                .expose_secret()
                .contains("BEGIN")
        );
        assert!(
            read(&[
                ("AYRSHARE_PRIVATE_KEY", "k"),
                ("AYRSHARE_PRIVATE_KEY_FILE", "/x")
            ])
            .is_err()
        );
        assert!(read(&[("AYRSHARE_PRIVATE_KEY_FILE", "/nonexistent/key")]).is_err());
    }
}
