//! A post's analytics: Ayrshare's answer to `POST /analytics/post` read per platform, with the
//! common numbers under this API's names and Ayrshare's own object kept whole.
//!
//! Ayrshare answers `{"<platform>": {"id", "postUrl", "analytics": {...}, ...}, "status",
//! "errors"}` and names each network's numbers its own way (`likeCount`, `likes`, X's
//! `publicMetrics.likeCount`, TikTok's `videoViews`...); an X thread may give one object per
//! tweet, whose numbers are added up.

use serde::Serialize;
use serde_json::{Map, Number, Value};

use super::change::lenient_string;
use super::new_post::{FieldError, Problems, ValidationErrors, quote};
use super::outcome::{DeliveryFailure, ProviderAnswer, Verdict, refusal_of};
use super::platform::{Platform, platform_from_ayrshare};

/// The common metrics, each with the names Ayrshare's networks use for it, most usual first.
const METRICS: [(&str, &[&str]); 8] = [
    (
        "likes",
        &["likes", "likeCount", "likesCount", "favoriteCount", "ups"],
    ),
    (
        "comments",
        &[
            "comments",
            "commentCount",
            "commentsCount",
            "replyCount",
            "replies",
            "numComments",
        ],
    ),
    (
        "shares",
        &[
            "shares",
            "shareCount",
            "sharesCount",
            "retweetCount",
            "repostCount",
            "reposts",
        ],
    ),
    (
        "impressions",
        &["impressions", "impressionCount", "impressionsCount"],
    ),
    (
        "views",
        &[
            "views",
            "viewCount",
            "viewsCount",
            "videoViews",
            "videoViewCount",
            "playCount",
        ],
    ),
    (
        "reach",
        &[
            "reach",
            "reachCount",
            "uniqueImpressionsCount",
            "impressionsUnique",
        ],
    ),
    ("clicks", &["clicks", "clickCount", "clicksCount"]),
    (
        "saves",
        &["saves", "saveCount", "savedCount", "bookmarkCount"],
    ),
];

/// One platform's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlatformAnalytics {
    /// Our name (`x`, never `twitter`).
    pub platform: String,
    /// The platform's native post id, as a string.
    pub post_id: Option<String>,
    pub post_url: Option<String>,
    /// `likes`, `comments`, `shares`, `impressions`, `views`, `reach`, `clicks`, `saves`: a
    /// number where Ayrshare has it, else null.
    pub metrics: Map<String, Value>,
    /// Ayrshare's object for the platform, as it came.
    pub raw: Value,
}

/// A platform Ayrshare had no numbers for, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PlatformError {
    pub platform: String,
    pub message: String,
}

/// What Ayrshare's answer holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnalyticsReading {
    pub platforms: Vec<PlatformAnalytics>,
    pub errors: Vec<PlatformError>,
}

/// Parses the query of the analytics route: `platforms=x,linkedin` (optional; our names, any
/// case, no duplicates). `None` means every platform of the post.
pub fn parse_query(pairs: &[(String, String)]) -> Result<Option<Vec<Platform>>, ValidationErrors> {
    let mut errors = Problems::default();
    let mut platforms = None;
    for (name, value) in pairs {
        if name != "platforms" {
            errors.push(FieldError::new(
                quote(name),
                "is not a parameter of this route (known: platforms)",
            ));
            continue;
        }
        if platforms.is_some() {
            errors.push(FieldError::new("platforms", "is given more than once"));
            continue;
        }
        let mut chosen: Vec<Platform> = Vec::new();
        for (j, item) in value.split(',').map(str::trim).enumerate() {
            let field = format!("platforms[{j}]");
            match Platform::parse(item) {
                None => errors.push(FieldError::new(
                    field,
                    format!("'{}' is not one of {}", quote(item), Platform::names()),
                )),
                Some(p) if chosen.contains(&p) => errors.push(FieldError::new(
                    field,
                    format!("'{}' is a duplicate of {p}", quote(item)),
                )),
                Some(p) => chosen.push(p),
            }
        }
        platforms = Some(chosen);
    }
    errors.finish()?;
    Ok(platforms)
}

/// The JSON body of Ayrshare's `POST /analytics/post`.
pub fn ayrshare_body(post_id: &str, platforms: Option<&[Platform]>) -> Value {
    let mut body = Map::new();
    body.insert("id".into(), Value::String(post_id.to_owned()));
    if let Some(platforms) = platforms {
        body.insert(
            "platforms".into(),
            platforms.iter().map(|p| p.ayrshare_name()).collect(),
        );
    }
    Value::Object(body)
}

/// Judges the answer: the numbers (also when only some platforms have them), or a failure
/// mapped as on the create.
pub fn judge_analytics(
    answer: Result<&ProviderAnswer, DeliveryFailure>,
) -> Result<AnalyticsReading, Verdict> {
    let answer = match answer {
        Ok(answer) => answer,
        Err(DeliveryFailure::NotSent) => {
            return Err(Verdict::Unavailable {
                detail: "ayrshare could not be reached; nothing was sent".into(),
            });
        }
        Err(DeliveryFailure::OutcomeUnknown) => {
            return Err(Verdict::TimedOut {
                detail: "ayrshare did not answer in time".into(),
            });
        }
        Err(DeliveryFailure::HeldOff { retry_after_secs }) => {
            return Err(Verdict::RateLimited {
                retry_after: retry_after_secs.to_string(),
            });
        }
    };
    if let Some(refusal) = refusal_of(answer, "ayrshare failed") {
        return Err(refusal);
    }
    let status = answer.http_status;
    let Some(body) = answer.json.as_ref().and_then(Value::as_object) else {
        return Err(Verdict::ProviderError {
            detail: format!(
                "ayrshare answered HTTP {status} with a body that is not Ayrshare JSON"
            ),
        });
    };
    let reading = read(body);
    if !reading.platforms.is_empty() && (200..=499).contains(&status) {
        return Ok(reading);
    }
    let word = body.get("status").and_then(lenient_string);
    let refused = word
        .as_deref()
        .is_some_and(|w| w.eq_ignore_ascii_case("error"));
    match status {
        404 => Err(Verdict::NotFound {
            detail: "ayrshare no longer knows this post".into(),
        }),
        200..=299 if !refused => Ok(reading),
        200..=299 | 400..=499 => Err(Verdict::Rejected {
            detail: format!(
                "ayrshare refused the analytics request: {}",
                refusal(body, &reading.errors)
            ),
        }),
        _ => Err(Verdict::ProviderError {
            detail: format!("ayrshare answered HTTP {status}"),
        }),
    }
}

fn read(body: &Map<String, Value>) -> AnalyticsReading {
    let mut platforms: Vec<PlatformAnalytics> = body
        .iter()
        .filter_map(|(key, value)| {
            let entry = value.as_object()?;
            if !(entry.contains_key("analytics") || entry.contains_key("postUrl")) {
                return None;
            }
            Some(PlatformAnalytics {
                platform: platform_from_ayrshare(key),
                post_id: entry.get("id").and_then(lenient_string),
                post_url: entry.get("postUrl").and_then(lenient_string),
                metrics: metrics_of(entry.get("analytics")),
                raw: value.clone(),
            })
        })
        .collect();
    platforms.sort_by_key(|p| order_of(&p.platform));
    let errors = body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(|entry| {
            let message = entry.get("message").and_then(lenient_string)?;
            Some(PlatformError {
                platform: platform_from_ayrshare(&entry.get("platform").and_then(lenient_string)?),
                message: match entry.get("code").and_then(lenient_string) {
                    Some(code) => format!("{message} (code {code})"),
                    None => message,
                },
            })
        })
        .collect();
    AnalyticsReading { platforms, errors }
}

/// Our platforms in the documentation's order, then any other network by name.
fn order_of(platform: &str) -> (usize, String) {
    let rank = Platform::ALL
        .iter()
        .position(|p| p.as_str() == platform)
        .unwrap_or(Platform::ALL.len());
    (rank, platform.to_owned())
}

fn refusal(body: &Map<String, Value>, errors: &[PlatformError]) -> String {
    let mut parts: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.platform, e.message))
        .collect();
    if parts.is_empty() {
        let message = body.get("message").and_then(lenient_string);
        let code = body.get("code").and_then(lenient_string);
        parts.push(match (message, code) {
            (Some(m), Some(c)) => format!("{m} (code {c})"),
            (Some(m), None) => m,
            (None, Some(c)) => format!("code {c}"),
            (None, None) => "no reason given".into(),
        });
    }
    parts.join("; ")
}

/// The common metrics of one `analytics` value: an object, or (an X thread) a list of them whose
/// numbers are added up.
fn metrics_of(analytics: Option<&Value>) -> Map<String, Value> {
    let objects: Vec<&Map<String, Value>> = match analytics {
        Some(Value::Object(object)) => vec![object],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    };
    METRICS
        .iter()
        .map(|(name, spellings)| {
            let total = objects
                .iter()
                .filter_map(|object| find(object, spellings))
                .reduce(add);
            ((*name).to_owned(), total.map_or(Value::Null, Value::Number))
        })
        .collect()
}

/// The first spelling found on the object itself, then in X's `publicMetrics`, then in any other
/// nested object (by key, so that the choice is stable).
fn find(object: &Map<String, Value>, spellings: &[&str]) -> Option<Number> {
    let direct = |o: &Map<String, Value>| spellings.iter().find_map(|s| number_of(o.get(*s)?));
    if let Some(n) = direct(object) {
        return Some(n);
    }
    if let Some(n) = object
        .get("publicMetrics")
        .and_then(Value::as_object)
        .and_then(direct)
    {
        return Some(n);
    }
    let mut nested: Vec<(&String, &Map<String, Value>)> = object
        .iter()
        .filter_map(|(k, v)| Some((k, v.as_object()?)))
        .collect();
    nested.sort_by_key(|(k, _)| *k);
    nested.into_iter().find_map(|(_, o)| direct(o))
}

/// A count: a JSON number, or a string of digits.
fn number_of(value: &Value) -> Option<Number> {
    match value {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => s.trim().parse::<i64>().ok().map(Number::from),
        _ => None,
    }
}

fn add(a: Number, b: Number) -> Number {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => Number::from(x.saturating_add(y)),
        _ => Number::from_f64(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)).unwrap_or(a),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn judge(status: u16, body: Value) -> Result<AnalyticsReading, Verdict> {
        judge_analytics(Ok(&ProviderAnswer::new(status, &body.to_string(), None)))
    }

    #[test]
    fn each_networks_names_map_to_ours_and_raw_is_kept_whole() {
        let twitter = json!({"id": "1901", "postUrl": "https://x.com/a/status/1901",
            "analytics": {"publicMetrics": {"impressionCount": 900, "likeCount": 40,
                          "retweetCount": 5, "replyCount": 3, "bookmarkCount": 2}},
            "lastUpdated": "2026-01-01T00:00:00Z"});
        let body = json!({
            "status": "success", "errors": [],
            "twitter": twitter,
            "linkedin": {"id": 7206, "postUrl": "https://linkedin.com/p/7206",
                "analytics": {"impressionCount": 1000, "uniqueImpressionsCount": 800,
                              "likeCount": 30, "commentCount": 4, "shareCount": 2, "clickCount": 9}},
            "instagram": {"id": "1787", "analytics": {"likeCount": 12, "commentsCount": "3",
                "viewsCount": 300, "reachCount": 250, "savedCount": 1}},
            "tiktok": {"id": "73", "analytics": {"videoViews": 5000, "likeCount": 100,
                "commentsCount": 7, "shareCount": 6}},
            "youtube": {"id": "yt", "analytics": {"views": 70, "likes": 5, "comments": 1}},
            "facebook": {"id": "fb", "analytics": {"impressionsUnique": 66, "likeCount": 3,
                "commentCount": 0, "shareCount": 1, "reactions": {"like": 3}}}
        });
        let reading = judge(200, body).unwrap();
        let names: Vec<&str> = reading
            .platforms
            .iter()
            .map(|p| p.platform.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "x",
                "linkedin",
                "instagram",
                "facebook",
                "tiktok",
                "youtube"
            ]
        );
        let x = &reading.platforms[0];
        assert_eq!(x.post_id.as_deref(), Some("1901"));
        assert_eq!(x.post_url.as_deref(), Some("https://x.com/a/status/1901"));
        assert_eq!(
            Value::Object(x.metrics.clone()),
            json!({"likes": 40, "comments": 3, "shares": 5, "impressions": 900, "views": null,
                   "reach": null, "clicks": null, "saves": 2})
        );
        assert_eq!(x.raw, twitter);
        let linkedin = &reading.platforms[1];
        assert_eq!(linkedin.post_id.as_deref(), Some("7206"));
        assert_eq!(
            Value::Object(linkedin.metrics.clone()),
            json!({"likes": 30, "comments": 4, "shares": 2, "impressions": 1000, "views": null,
                   "reach": 800, "clicks": 9, "saves": null})
        );
        let metric = |i: usize, name: &str| reading.platforms[i].metrics[name].clone();
        assert_eq!(metric(2, "comments"), json!(3));
        assert_eq!(metric(2, "views"), json!(300));
        assert_eq!(metric(3, "reach"), json!(66));
        assert_eq!(metric(3, "impressions"), Value::Null);
        assert_eq!(metric(4, "views"), json!(5000));
        assert_eq!(metric(5, "likes"), json!(5));
        assert!(reading.errors.is_empty());
    }

    #[test]
    fn a_threads_numbers_are_added_up() {
        let reading = judge(200, json!({"status": "success", "twitter": {"id": "1",
            "analytics": [{"publicMetrics": {"likeCount": 2}}, {"publicMetrics": {"likeCount": 3, "replyCount": 1}}]}}))
        .unwrap();
        assert_eq!(reading.platforms[0].metrics["likes"], json!(5));
        assert_eq!(reading.platforms[0].metrics["comments"], json!(1));
    }

    #[test]
    fn a_partial_answer_keeps_the_numbers_and_says_what_is_missing() {
        let reading = judge(
            200,
            json!({"status": "partial",
            "linkedin": {"id": "1", "analytics": {"likeCount": 1}},
            "errors": [{"action": "analytics", "status": "error", "code": 386,
                        "message": "No analytics for X.", "platform": "twitter"}]}),
        )
        .unwrap();
        assert_eq!(reading.platforms.len(), 1);
        assert_eq!(
            reading.errors,
            [PlatformError {
                platform: "x".into(),
                message: "No analytics for X. (code 386)".into()
            }]
        );
    }

    #[test]
    fn the_query_names_our_platforms_and_maps_them_for_ayrshare() {
        let query = |q: &[(&str, &str)]| {
            parse_query(
                &q.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(query(&[]).unwrap(), None);
        let chosen = query(&[("platforms", "X, linkedin")]).unwrap().unwrap();
        assert_eq!(chosen, [Platform::X, Platform::Linkedin]);
        assert_eq!(
            ayrshare_body("A", Some(&chosen)),
            json!({"id": "A", "platforms": ["twitter", "linkedin"]})
        );
        assert_eq!(ayrshare_body("A", None), json!({"id": "A"}));
        let fields = |q| {
            query(q)
                .unwrap_err()
                .listed()
                .iter()
                .map(|e| e.field.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(&[("platforms", "x,twitter,x,")]),
            ["platforms[1]", "platforms[2]", "platforms[3]"]
        );
        assert_eq!(fields(&[("platform", "x")]), ["platform"]);
    }

    #[test]
    fn failures_map_as_on_the_create() {
        let refused = judge(
            400,
            json!({"status": "error", "errors": [{"platform": "twitter",
            "message": "No analytics", "code": 386}]}),
        );
        assert_eq!(
            refused,
            Err(Verdict::Rejected {
                detail: "ayrshare refused the analytics request: x: No analytics (code 386)".into()
            })
        );
        assert!(matches!(
            judge(404, json!({"status": "error"})),
            Err(Verdict::NotFound { .. })
        ));
        assert!(matches!(
            judge(401, json!({})),
            Err(Verdict::ProviderError { .. })
        ));
        assert!(matches!(
            judge(502, json!({})),
            Err(Verdict::ProviderError { .. })
        ));
        assert!(matches!(
            judge(429, json!({})),
            Err(Verdict::RateLimited { .. })
        ));
        assert!(matches!(
            judge_analytics(Ok(&ProviderAnswer::new(200, "<html>", None))),
            Err(Verdict::ProviderError { .. })
        ));
        assert!(matches!(
            judge_analytics(Err(DeliveryFailure::NotSent)),
            Err(Verdict::Unavailable { .. })
        ));
    }
}
