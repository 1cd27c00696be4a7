//! Ayrshare's platform names and the fake native post ids and URLs the mock hands out for them.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

/// One of the 13 networks Ayrshare accepts in `platforms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Platform {
    Twitter,
    Facebook,
    Instagram,
    Linkedin,
    Tiktok,
    Youtube,
    Pinterest,
    Reddit,
    Telegram,
    Gmb,
    Bluesky,
    Snapchat,
    Threads,
}

impl Platform {
    /// Every platform, in the order Ayrshare's documentation lists them.
    pub(super) const ALL: [Platform; 13] = [
        Platform::Twitter,
        Platform::Facebook,
        Platform::Instagram,
        Platform::Linkedin,
        Platform::Tiktok,
        Platform::Youtube,
        Platform::Pinterest,
        Platform::Reddit,
        Platform::Telegram,
        Platform::Gmb,
        Platform::Bluesky,
        Platform::Snapchat,
        Platform::Threads,
    ];

    /// Parses an exact, lowercase Ayrshare platform name (`"x"` and `"Twitter"` are not names).
    pub(super) fn from_name(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The name Ayrshare uses in requests and in `platform` fields of answers.
    pub(super) fn name(self) -> &'static str {
        match self {
            Platform::Twitter => "twitter",
            Platform::Facebook => "facebook",
            Platform::Instagram => "instagram",
            Platform::Linkedin => "linkedin",
            Platform::Tiktok => "tiktok",
            Platform::Youtube => "youtube",
            Platform::Pinterest => "pinterest",
            Platform::Reddit => "reddit",
            Platform::Telegram => "telegram",
            Platform::Gmb => "gmb",
            Platform::Bluesky => "bluesky",
            Platform::Snapchat => "snapchat",
            Platform::Threads => "threads",
        }
    }

    /// Whether the network's API can delete a published post (Instagram and TikTok cannot).
    pub(super) fn can_delete_published(self) -> bool {
        !matches!(self, Platform::Instagram | Platform::Tiktok)
    }

    /// The human name used inside error messages.
    pub(super) fn display_name(self) -> &'static str {
        match self {
            Platform::Twitter => "X/Twitter",
            Platform::Facebook => "Facebook",
            Platform::Instagram => "Instagram",
            Platform::Linkedin => "LinkedIn",
            Platform::Tiktok => "TikTok",
            Platform::Youtube => "YouTube",
            Platform::Pinterest => "Pinterest",
            Platform::Reddit => "Reddit",
            Platform::Telegram => "Telegram",
            Platform::Gmb => "Google Business Profile",
            Platform::Bluesky => "Bluesky",
            Platform::Snapchat => "Snapchat",
            Platform::Threads => "Threads",
        }
    }
}

/// The comma-separated list of valid names, for error messages.
pub(super) fn valid_names() -> String {
    Platform::ALL.map(Platform::name).join(", ")
}

/// The handle that appears in the fake post URLs.
const HANDLE: &str = "ayrshare_mock";

/// A 20-character alphanumeric Ayrshare post id, like `RhrbDtYh7hdSMc67zC8H`.
pub(super) fn ayrshare_id(rng: &mut impl Rng) -> String {
    alphanumeric(rng, 20)
}

/// Per-profile counters that some networks expose in their `postIds` entries.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Counters {
    /// Instagram posts published so far, reported as `usedQuota`.
    pub(super) instagram_posts: u64,
    /// The last Telegram message number handed out.
    pub(super) telegram_message: u64,
}

/// A successful `postIds` entry for `platform`, with a native id and URL shaped like the real ones.
pub(super) fn post_id_entry(
    platform: Platform,
    rng: &mut impl Rng,
    counters: &mut Counters,
) -> Value {
    let name = platform.name();
    match platform {
        Platform::Twitter => {
            let id = digits(rng, "1", 19);
            entry(
                name,
                json!(id),
                format!("https://twitter.com/{HANDLE}/status/{id}"),
            )
        }
        Platform::Facebook => {
            let id = format!("{}_{}", digits(rng, "1", 15), digits(rng, "1", 15));
            entry(name, json!(id), format!("https://www.facebook.com/{id}"))
        }
        Platform::Instagram => {
            counters.instagram_posts += 1;
            let url = format!("https://www.instagram.com/p/{}/", shortcode(rng, 11));
            let mut value = entry(name, json!(digits(rng, "1", 17)), url);
            value["usedQuota"] = json!(counters.instagram_posts);
            value
        }
        Platform::Linkedin => {
            let id = format!("urn:li:share:{}", digits(rng, "7", 19));
            entry(
                name,
                json!(id),
                format!("https://www.linkedin.com/feed/update/{id}"),
            )
        }
        Platform::Tiktok => {
            let id = digits(rng, "7", 19);
            entry(
                name,
                json!(id),
                format!("https://www.tiktok.com/@{HANDLE}/video/{id}"),
            )
        }
        Platform::Youtube => {
            let id = shortcode(rng, 11);
            entry(name, json!(id), format!("https://youtu.be/{id}"))
        }
        Platform::Pinterest => {
            let id = digits(rng, "1", 18);
            entry(
                name,
                json!(id),
                format!("https://www.pinterest.com/pin/{id}/"),
            )
        }
        Platform::Reddit => {
            let id = base36(rng, 7);
            let url = format!("https://www.reddit.com/r/{HANDLE}/comments/{id}/");
            entry(name, json!(id), url)
        }
        Platform::Telegram => {
            // Ayrshare really answers a JSON number here, unlike every other network.
            counters.telegram_message += 1;
            let number = counters.telegram_message;
            entry(
                name,
                json!(number),
                format!("https://t.me/c/1424847122/{number}"),
            )
        }
        Platform::Gmb => {
            let id = digits(rng, "3", 19);
            let url = format!("https://local.google.com/place?use=posts&lpsid={id}");
            let mut value = entry(name, json!(id), url);
            value["type"] = json!("localPosts");
            value
        }
        Platform::Bluesky => {
            let did = base32(rng, 24);
            let record = base32(rng, 13);
            let id = format!("at://did:plc:{did}/app.bsky.feed.post/{record}");
            let url = format!("https://bsky.app/profile/{HANDLE}.bsky.social/post/{record}");
            let mut value = entry(name, json!(id), url);
            value["cid"] = json!(format!("bafyrei{}", base32(rng, 52)));
            value
        }
        Platform::Snapchat => {
            let id = uuid::Uuid::from_u128(rng.random::<u128>()).to_string();
            entry(
                name,
                json!(id),
                format!("https://www.snapchat.com/spotlight/{id}"),
            )
        }
        Platform::Threads => {
            let url = format!(
                "https://www.threads.net/@{HANDLE}/post/{}",
                shortcode(rng, 11)
            );
            entry(name, json!(digits(rng, "1", 17)), url)
        }
    }
}

fn entry(platform: &str, id: Value, post_url: String) -> Value {
    json!({"status": "success", "id": id, "platform": platform, "postUrl": post_url})
}

/// A native comment id on `platform`, shaped like the network's own.
pub(super) fn comment_id(platform: Platform, rng: &mut impl Rng) -> String {
    match platform {
        Platform::Facebook => format!("{}_{}", digits(rng, "1", 15), digits(rng, "1", 16)),
        Platform::Instagram | Platform::Threads => digits(rng, "1", 17),
        Platform::Linkedin => format!("urn:li:comment:{}", digits(rng, "7", 19)),
        Platform::Youtube => format!("Ugz{}", shortcode(rng, 23)),
        Platform::Reddit => format!("t1_{}", base36(rng, 7)),
        Platform::Bluesky => format!(
            "at://did:plc:{}/app.bsky.feed.post/{}",
            base32(rng, 24),
            base32(rng, 13)
        ),
        _ => digits(rng, "1", 19),
    }
}

/// `len` decimal digits starting with `first`, so the number never has a leading zero.
pub(super) fn digits(rng: &mut impl Rng, first: &str, len: usize) -> String {
    let mut out = String::with_capacity(len);
    out.push_str(first);
    while out.len() < len {
        out.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    out
}

fn alphanumeric(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect()
}

fn from_alphabet(rng: &mut impl Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// The URL-safe base64 alphabet used by YouTube, Instagram and Threads short codes.
fn shortcode(rng: &mut impl Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    from_alphabet(rng, ALPHABET, len)
}

fn base36(rng: &mut impl Rng, len: usize) -> String {
    from_alphabet(rng, b"abcdefghijklmnopqrstuvwxyz0123456789", len)
}

fn base32(rng: &mut impl Rng, len: usize) -> String {
    from_alphabet(rng, b"abcdefghijklmnopqrstuvwxyz234567", len)
}
