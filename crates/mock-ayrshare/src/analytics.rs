//! `POST /api/analytics/post`: plausible per-platform numbers under Ayrshare's metric names.
//!
//! The numbers are fixed per post and network (derived from the native post id), so repeated
//! reads agree, and ordered as real ones are: impressions ≥ views ≥ likes ≥ comments, shares.

use axum::http::StatusCode;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::{Value, json};

use super::platforms::Platform;
use super::post::{PostStatus, StoredPost, format_time};
use super::reply::{ApiError, CODE_ALREADY_DELETED, CODE_NO_ANALYTICS};

/// How long until Ayrshare refreshes the numbers, as reported in `nextUpdate`.
const REFRESH: TimeDelta = TimeDelta::minutes(10);

/// The answer for `post` on `platforms` (all the networks it was published on by default):
/// `{"<platform>": {"id", "postUrl", "analytics", "lastUpdated", "nextUpdate"}, "status",
/// "errors"}`. `partial` (HTTP 200) when some asked network has no numbers, `error` (HTTP 400)
/// when none has.
pub(super) fn answer(
    post: &StoredPost,
    platforms: Option<Vec<Platform>>,
    now: DateTime<Utc>,
) -> Result<(StatusCode, Value), ApiError> {
    if post.status == PostStatus::Deleted {
        return Err(ApiError::refused(
            "analytics",
            CODE_ALREADY_DELETED,
            "Post deleted: no analytics are available for a deleted post.",
        ));
    }
    if post.post_ids.is_empty() {
        return Err(ApiError::refused(
            "analytics",
            CODE_NO_ANALYTICS,
            format!(
                "No analytics: the post has not been published on any network (its status is {:?}).",
                post.status.as_str()
            ),
        ));
    }
    let asked = platforms.unwrap_or_else(|| post.platforms.clone());
    let now = now.trunc_subsecs(0);
    let mut body = json!({});
    let mut errors = Vec::new();
    for platform in &asked {
        match post.post_id_entry(*platform) {
            Some(entry) => {
                let seed = seed(&entry["id"].to_string(), platform.name());
                body[platform.name()] = json!({
                    "id": entry["id"],
                    "postUrl": entry["postUrl"],
                    "analytics": metrics(*platform, seed),
                    "lastUpdated": format_time(now),
                    "nextUpdate": format_time(now + REFRESH),
                });
            }
            None => errors.push(json!({
                "action": "analytics",
                "status": "error",
                "code": CODE_NO_ANALYTICS,
                "message": format!(
                    "No analytics for {}: the post was not published there.",
                    platform.display_name()
                ),
                "platform": platform.name(),
            })),
        }
    }
    let (http, status) = match (errors.len(), asked.len()) {
        (0, _) => (StatusCode::OK, "success"),
        (failed, all) if failed < all => (StatusCode::OK, "partial"),
        _ => (StatusCode::BAD_REQUEST, "error"),
    };
    body["status"] = json!(status);
    body["errors"] = json!(errors);
    Ok((http, body))
}

/// A number derived from the native id and the network (FNV-1a).
fn seed(native_id: &str, platform: &str) -> u64 {
    native_id
        .bytes()
        .chain(platform.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// The common numbers every network's metrics are built from.
struct Numbers {
    impressions: u64,
    reach: u64,
    views: u64,
    likes: u64,
    comments: u64,
    shares: u64,
    clicks: u64,
    saves: u64,
}

impl Numbers {
    fn from_seed(seed: u64) -> Numbers {
        let part = |shift: u32, range: u64| (seed >> shift) % range;
        let impressions = 500 + part(0, 20_000);
        let reach = impressions * (60 + part(14, 30)) / 100;
        let views = impressions * (40 + part(20, 40)) / 100;
        let likes = views * (2 + part(26, 8)) / 100;
        let comments = likes / (4 + part(30, 8));
        let shares = likes / (6 + part(34, 10));
        let clicks = impressions * (1 + part(40, 4)) / 100;
        let saves = likes / (5 + part(44, 10));
        Numbers {
            impressions,
            reach,
            views,
            likes,
            comments,
            shares,
            clicks,
            saves,
        }
    }
}

/// The `analytics` object of one network, under that network's own names in Ayrshare.
fn metrics(platform: Platform, seed: u64) -> Value {
    let n = Numbers::from_seed(seed);
    match platform {
        Platform::Twitter => json!({
            "publicMetrics": {
                "impressionCount": n.impressions,
                "likeCount": n.likes,
                "retweetCount": n.shares,
                "replyCount": n.comments,
                "quoteCount": n.shares / 3,
                "bookmarkCount": n.saves,
            },
        }),
        Platform::Facebook => json!({
            "impressionsUnique": n.reach,
            "likeCount": n.likes,
            "commentCount": n.comments,
            "shareCount": n.shares,
            "clickCount": n.clicks,
            "reactions": {"like": n.likes, "love": n.likes / 5, "wow": n.likes / 20},
        }),
        Platform::Instagram => json!({
            "likeCount": n.likes,
            "commentsCount": n.comments,
            "viewsCount": n.views,
            "reachCount": n.reach,
            "savedCount": n.saves,
            "sharesCount": n.shares,
        }),
        Platform::Linkedin => json!({
            "impressionCount": n.impressions,
            "uniqueImpressionsCount": n.reach,
            "likeCount": n.likes,
            "commentCount": n.comments,
            "shareCount": n.shares,
            "clickCount": n.clicks,
        }),
        Platform::Tiktok => json!({
            "videoViews": n.views,
            "likeCount": n.likes,
            "commentsCount": n.comments,
            "shareCount": n.shares,
            "reach": n.reach,
        }),
        Platform::Youtube => json!({
            "views": n.views,
            "likes": n.likes,
            "dislikes": n.likes / 40,
            "comments": n.comments,
            "shares": n.shares,
        }),
        Platform::Pinterest => json!({
            "impressionCount": n.impressions,
            "saveCount": n.saves,
            "pinClickCount": n.clicks,
            "outboundClickCount": n.clicks / 3,
        }),
        Platform::Reddit => json!({
            "ups": n.likes,
            "score": n.likes - n.likes / 10,
            "numComments": n.comments,
            "viewCount": n.views,
        }),
        Platform::Threads => json!({
            "views": n.views,
            "likes": n.likes,
            "replies": n.comments,
            "reposts": n.shares,
            "quotes": n.shares / 3,
        }),
        Platform::Bluesky => json!({
            "likeCount": n.likes,
            "repostCount": n.shares,
            "replyCount": n.comments,
            "quoteCount": n.shares / 3,
        }),
        Platform::Gmb => json!({"views": n.views, "clicks": n.clicks}),
        Platform::Telegram => json!({"views": n.views}),
        Platform::Snapchat => json!({"views": n.views, "shares": n.shares}),
    }
}
