//! Finding a post in Ayrshare's history (`GET /history`) when its record never learnt the post
//! id (a crash, a timeout). Ayrshare cannot be asked by `idempotencyKey`, so a post is recognised
//! by what it is: its text, its platforms, its schedule date, and when Ayrshare received it.
//! Pure code; the design and its limits are in `docs/reconciler.md`.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::platform::Platform;

/// What a record says about its post, to recognise it in the history.
#[derive(Clone, Debug)]
pub struct Wanted<'a> {
    /// The text as the record keeps it (and as it was sent).
    pub post: &'a str,
    /// Our platform names, as stored.
    pub platforms: &'a [String],
    pub schedule_date: Option<DateTime<Utc>>,
    /// When Ayrshare may have received the post: from the record's creation to its answer
    /// deadline, widened by the allowed clock difference on both sides.
    pub received_from: DateTime<Utc>,
    pub received_until: DateTime<Utc>,
}

/// The clock difference allowed between Ayrshare and this service.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// What the history says about a record's post.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// Exactly one post matches: its history item, a reading like `GET /post/{id}` answers.
    One(Value),
    /// No post matches.
    None,
    /// Several posts match (the same text sent twice in the window): none is taken, since
    /// picking one could give a record another request's post. Their ids, for the log.
    Ambiguous(Vec<String>),
}

/// The items of a `GET /history` answer: `{"history": [...]}`, or a bare array (older form).
pub fn items(answer: &Value) -> Option<&Vec<Value>> {
    match answer {
        Value::Array(items) => Some(items),
        Value::Object(body) => body.get("history").and_then(Value::as_array),
        _ => None,
    }
}

/// The one item of `items` that is the wanted post, leaving out posts whose id `taken` says
/// belongs to another record already.
pub fn find(items: &[Value], wanted: &Wanted<'_>, taken: impl Fn(&str) -> bool) -> Found {
    let platforms: BTreeSet<String> = wanted
        .platforms
        .iter()
        .map(|p| Platform::parse(p).map_or_else(|| p.clone(), |p| p.ayrshare_name().to_owned()))
        .collect();
    let mut matches: Vec<(&Value, String)> = items
        .iter()
        .filter(|item| is_match(item, wanted, &platforms))
        .filter_map(|item| Some((item, id_of(item)?)))
        .filter(|(_, id)| !taken(id))
        .collect();
    match matches.len() {
        0 => Found::None,
        1 => Found::One(matches.remove(0).0.clone()),
        _ => Found::Ambiguous(matches.into_iter().map(|(_, id)| id).collect()),
    }
}

fn is_match(item: &Value, wanted: &Wanted<'_>, platforms: &BTreeSet<String>) -> bool {
    let Some(item) = item.as_object() else {
        return false;
    };
    // Every test must be passed on what the item says: a missing field never matches, since a
    // wrong match would give the record another post's outcome.
    let text = item.get("post").and_then(Value::as_str) == Some(wanted.post);
    let listed: Option<BTreeSet<String>> = item.get("platforms").and_then(|p| {
        p.as_array()?
            .iter()
            .map(|name| name.as_str().map(str::to_ascii_lowercase))
            .collect()
    });
    let same_platforms = listed.as_ref() == Some(platforms);
    let received = item
        .get("created")
        .and_then(time_of)
        .is_some_and(|at| wanted.received_from <= at && at <= wanted.received_until);
    // A post sent without a date is listed with its creation time as `scheduleDate`.
    let same_date = match wanted.schedule_date {
        Some(date) => item
            .get("scheduleDate")
            .and_then(time_of)
            .is_some_and(|at| at.timestamp() == date.timestamp()),
        None => true,
    };
    text && same_platforms && received && same_date
}

/// A history item's post id (a string, or a number written as one).
pub fn id_of(item: &Value) -> Option<String> {
    match item.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A time as Ayrshare writes it: an RFC 3339 string, or the older `{_seconds, _nanoseconds}`
/// (or `{utc: "..."}`) object.
pub fn time_of(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Object(fields) => {
            if let Some(seconds) = fields.get("_seconds").and_then(Value::as_i64) {
                let nanos = fields
                    .get("_nanoseconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                return DateTime::from_timestamp(seconds, u32::try_from(nanos).ok()?);
            }
            fields.get("utc").and_then(time_of)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn platforms() -> Vec<String> {
        vec!["x".into(), "linkedin".into()]
    }

    fn wanted(platforms: &[String]) -> Wanted<'_> {
        Wanted {
            post: "Hello",
            platforms,
            schedule_date: None,
            received_from: at("2026-01-01T10:00:00Z") - CLOCK_SKEW,
            received_until: at("2026-01-01T10:00:40Z") + CLOCK_SKEW,
        }
    }

    fn item(id: &str) -> Value {
        json!({"id": id, "post": "Hello", "platforms": ["linkedin", "twitter"],
               "created": "2026-01-01T10:00:01Z", "status": "success"})
    }

    fn with(mut item: Value, key: &str, value: Value) -> Value {
        item[key] = value;
        item
    }

    #[test]
    fn the_post_is_found_by_text_platforms_and_time() {
        let platforms = platforms();
        let items = vec![
            with(item("OTHER-TEXT"), "post", json!("Hello!")),
            with(item("OTHER-PLATFORMS"), "platforms", json!(["twitter"])),
            with(item("TOO-EARLY"), "created", json!("2026-01-01T09:54:59Z")),
            with(item("TOO-LATE"), "created", json!("2026-01-01T10:05:41Z")),
            with(item("NO-TIME"), "created", Value::Null),
            with(item("NO-PLATFORMS"), "platforms", Value::Null),
            item("P1"),
        ];
        assert_eq!(
            find(&items, &wanted(&platforms), |_| false),
            Found::One(item("P1"))
        );
        // The edges of the window are inside it.
        for edge in ["2026-01-01T09:55:00Z", "2026-01-01T10:05:40Z"] {
            let edge_item = with(item("EDGE"), "created", json!(edge));
            assert_eq!(
                find(
                    std::slice::from_ref(&edge_item),
                    &wanted(&platforms),
                    |_| false
                ),
                Found::One(edge_item),
                "{edge}"
            );
        }
    }

    #[test]
    fn an_id_already_on_a_record_and_two_matches_are_never_taken() {
        let platforms = platforms();
        let items = vec![item("P1"), item("P2")];
        assert_eq!(
            find(&items, &wanted(&platforms), |_| false),
            Found::Ambiguous(vec!["P1".into(), "P2".into()])
        );
        assert_eq!(
            find(&items, &wanted(&platforms), |id| id == "P1"),
            Found::One(item("P2"))
        );
        assert_eq!(find(&items, &wanted(&platforms), |_| true), Found::None);
        assert_eq!(find(&[], &wanted(&platforms), |_| false), Found::None);
    }

    #[test]
    fn a_scheduled_post_must_have_the_same_date_in_either_form() {
        let platforms = platforms();
        let mut wanted = wanted(&platforms);
        wanted.schedule_date = Some(at("2026-01-02T09:00:00Z"));
        let string = with(item("S1"), "scheduleDate", json!("2026-01-02T09:00:00Z"));
        let object = with(
            item("S2"),
            "scheduleDate",
            json!({"_seconds": 1767344400, "_nanoseconds": 0}),
        );
        let other = with(item("S3"), "scheduleDate", json!("2026-01-02T09:01:00Z"));
        assert_eq!(
            find(std::slice::from_ref(&string), &wanted, |_| false),
            Found::One(string)
        );
        assert_eq!(
            find(std::slice::from_ref(&object), &wanted, |_| false),
            Found::One(object)
        );
        assert_eq!(find(&[other], &wanted, |_| false), Found::None);
        assert_eq!(find(&[item("S4")], &wanted, |_| false), Found::None);
    }

    #[test]
    fn both_forms_of_the_answer_and_numeric_ids_are_read() {
        assert_eq!(items(&json!([1, 2])).map(Vec::len), Some(2));
        assert_eq!(items(&json!({"history": [1]})).map(Vec::len), Some(1));
        assert_eq!(items(&json!({"status": "error"})), None);
        let platforms = platforms();
        let numeric = with(item("x"), "id", json!(42));
        let Found::One(found) = find(&[numeric], &wanted(&platforms), |id| id == "41") else {
            panic!("a numeric id is an id");
        };
        assert_eq!(found["id"], 42);
        let no_id = with(item("x"), "id", json!(""));
        assert_eq!(find(&[no_id], &wanted(&platforms), |_| false), Found::None);
    }

    #[test]
    fn times_are_read_in_every_form() {
        let expected = at("2026-01-01T10:00:00Z");
        for value in [
            json!("2026-01-01T10:00:00Z"),
            json!("2026-01-01T11:00:00+01:00"),
            json!({"_seconds": 1767261600, "_nanoseconds": 0}),
            json!({"utc": "2026-01-01T10:00:00Z"}),
        ] {
            assert_eq!(time_of(&value), Some(expected), "{value}");
        }
        assert_eq!(time_of(&json!("yesterday")), None);
        assert_eq!(time_of(&json!(12)), None);
    }
}
