//! Profiles: the `Profile-Key` a request acts on, and what the admin routes set for one.

use axum::http::HeaderMap;

/// The header that picks a User Profile.
const PROFILE_HEADER: &str = "profile-key";

/// The profile a request acts on: a `Profile-Key`, or the Primary Profile without one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Profile(Option<String>);

impl Profile {
    /// Reads the `Profile-Key` header (any case); a blank value means the Primary Profile.
    pub(super) fn from_headers(headers: &HeaderMap) -> Profile {
        let key = headers
            .get(PROFILE_HEADER)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
            .filter(|key| !key.is_empty());
        Profile(key)
    }

    /// The profile of a `Profile-Key` (the admin routes name profiles by key).
    pub(super) fn keyed(key: &str) -> Profile {
        Profile(Some(key.to_owned()))
    }

    /// The `Profile-Key`, or `None` for the Primary Profile.
    pub(super) fn key(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// A stable 32-hex-digit user reference id, like Ayrshare's `refId`.
    pub(super) fn ref_id(&self) -> String {
        let key = self.0.as_deref().unwrap_or("\0primary");
        format!(
            "{:016x}{:016x}",
            fnv1a(key, 0xcbf2_9ce4_8422_2325),
            fnv1a(key, 0x6c62_272e_07bb_0142)
        )
    }

    /// The profile's default title: never derived from the key itself, which is a secret.
    pub(super) fn default_title(&self) -> String {
        match self.0 {
            None => "Primary Profile".to_owned(),
            Some(_) => format!("Profile {}", &self.ref_id()[..8]),
        }
    }
}

fn fnv1a(text: &str, offset: u64) -> u64 {
    text.bytes().fold(offset, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What `PUT /mock/profiles/{profile_key}` sets for one profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ProfileSettings {
    /// Whether `POST /api/post` answers come wrapped (`{"status", "posts": [...]}`); `None`
    /// follows `MockConfig::wrap_profile_answers`.
    pub(super) wrap_answers: Option<bool>,
    /// The `profileTitle` in answers; `None` uses [`Profile::default_title`].
    pub(super) title: Option<String>,
}
