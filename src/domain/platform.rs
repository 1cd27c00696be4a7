//! The six platforms this API accepts, and the translation of their names to and from Ayrshare's.

use std::fmt;

/// A platform a post can be published to, under this API's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    X,
    Linkedin,
    Instagram,
    Facebook,
    Tiktok,
    Youtube,
}

/// Written under this API's name (`x`), as stored and reported.
impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Platform {
    /// Every platform, in the order the documentation lists them.
    pub const ALL: [Platform; 6] = [
        Platform::X,
        Platform::Linkedin,
        Platform::Instagram,
        Platform::Facebook,
        Platform::Tiktok,
        Platform::Youtube,
    ];

    /// Parses a platform name case-insensitively (`"X"` and `"x"` are the same platform).
    pub fn parse(name: &str) -> Option<Platform> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
    }

    /// The name this API uses, stored and reported (`x`, never `twitter`).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::X => "x",
            Platform::Linkedin => "linkedin",
            Platform::Instagram => "instagram",
            Platform::Facebook => "facebook",
            Platform::Tiktok => "tiktok",
            Platform::Youtube => "youtube",
        }
    }

    /// The name Ayrshare expects: it still calls X `twitter` and refuses `x`.
    pub fn ayrshare_name(self) -> &'static str {
        match self {
            Platform::X => "twitter",
            other => other.as_str(),
        }
    }

    /// The comma-separated list used in validation messages.
    pub fn names() -> String {
        Platform::ALL.map(Platform::as_str).join(", ")
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Translates a platform name found in an Ayrshare answer back to this API's name.
///
/// `twitter` becomes `x`; names we do not offer (Ayrshare knows more networks, such as
/// `gmb`) are passed through lowercased rather than dropped, so nothing Ayrshare reported is hidden.
pub fn platform_from_ayrshare(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower == "twitter" {
        "x".to_owned()
    } else {
        lower
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platform_is_written_under_this_apis_name() {
        let written: Vec<serde_json::Value> = Platform::ALL
            .iter()
            .map(|p| serde_json::to_value(p).unwrap())
            .collect();
        assert_eq!(
            written,
            [
                "x",
                "linkedin",
                "instagram",
                "facebook",
                "tiktok",
                "youtube"
            ]
        );
    }

    #[test]
    fn parse_is_case_insensitive_and_rejects_unknown_names() {
        assert_eq!(Platform::parse("X"), Some(Platform::X));
        assert_eq!(Platform::parse("LinkedIn"), Some(Platform::Linkedin));
        assert_eq!(Platform::parse("twitter"), None);
        assert_eq!(Platform::parse("myspace"), None);
    }

    #[test]
    fn x_is_twitter_on_the_ayrshare_side_only() {
        assert_eq!(Platform::X.ayrshare_name(), "twitter");
        assert_eq!(Platform::Youtube.ayrshare_name(), "youtube");
        assert_eq!(platform_from_ayrshare("twitter"), "x");
        assert_eq!(platform_from_ayrshare("Twitter"), "x");
        assert_eq!(platform_from_ayrshare("gmb"), "gmb");
    }
}
