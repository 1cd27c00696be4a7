//! Finding a post in Ayrshare's history (`GET /history`) when its record never learnt the post
//! id (a crash, a timeout). Ayrshare cannot be asked by `idempotencyKey`; where a history item
//! shows one, it decides. Otherwise a post is recognised by what it is: its text, its platforms,
//! its schedule date, and when Ayrshare received it. Pure code; the design and its limits are in
//! `docs/reconciler.md`.

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
    /// The `idempotencyKey` sent with the post: an item that shows it is the post, an item that
    /// shows another is not.
    pub idempotency_key: Option<&'a str>,
}

impl Wanted<'_> {
    /// The publish dates (`scheduleDate`, else `created`: what `/history` filters and sorts by)
    /// the post can have: its schedule date for a scheduled post, else when it was received.
    pub fn dates(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        match self.schedule_date {
            Some(date) => (date - Duration::seconds(1), date + Duration::seconds(1)),
            None => (self.received_from, self.received_until),
        }
    }
}

/// The clock difference allowed between Ayrshare and this service.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// What the history says about a record's post.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// The item that shows the record's `idempotencyKey`: the post, whatever else is listed.
    Keyed(Value),
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

/// The item of `items` that shows the wanted post's `idempotencyKey`, if any does.
pub fn keyed<'v>(items: &'v [Value], wanted: &Wanted<'_>) -> Option<&'v Value> {
    let key = wanted.idempotency_key?;
    items
        .iter()
        .find(|item| key_of(item) == Some(key) && id_of(item).is_some())
}

/// The one item of `items` that is the wanted post, leaving out posts whose id `taken` says
/// belongs to another record already.
pub fn find(items: &[Value], wanted: &Wanted<'_>, taken: impl Fn(&str) -> bool) -> Found {
    if let Some(item) = keyed(items, wanted) {
        return match id_of(item) {
            Some(id) if taken(&id) => Found::None,
            _ => Found::Keyed(item.clone()),
        };
    }
    let platforms = ayrshare_platforms(wanted.platforms);
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

/// Whether `item` could be the wanted post by the rules of [`find`]: its key when it shows one,
/// else its text, platforms, dates.
pub fn matches(item: &Value, wanted: &Wanted<'_>) -> bool {
    match (key_of(item), wanted.idempotency_key) {
        (Some(shown), Some(key)) => shown == key,
        _ => is_match(item, wanted, &ayrshare_platforms(wanted.platforms)),
    }
}

/// Our platform names as Ayrshare lists them (`x` is `twitter`).
fn ayrshare_platforms(platforms: &[String]) -> BTreeSet<String> {
    platforms
        .iter()
        .map(|p| Platform::parse(p).map_or_else(|| p.clone(), |p| p.ayrshare_name().to_owned()))
        .collect()
}

fn is_match(item: &Value, wanted: &Wanted<'_>, platforms: &BTreeSet<String>) -> bool {
    let Some(item) = item.as_object() else {
        return false;
    };
    // An item that shows another request's key is that request's post.
    if let (Some(shown), Some(key)) = (
        item.get("idempotencyKey").and_then(Value::as_str),
        wanted.idempotency_key,
    ) {
        if shown != key {
            return false;
        }
    }
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

/// The `idempotencyKey` a history item shows, if it shows one.
fn key_of(item: &Value) -> Option<&str> {
    item.get("idempotencyKey")
        .and_then(Value::as_str)
        .filter(|key| !key.is_empty())
}

/// When Ayrshare received a history item (`created`).
pub fn received_at(item: &Value) -> Option<DateTime<Utc>> {
    item.get("created").and_then(time_of)
}

/// A history item's publish date, what `/history`'s `startDate`/`endDate` filter and sort by:
/// its `scheduleDate` (a post sent at once is listed with its creation time there), else its
/// `created`.
pub fn date_of(item: &Value) -> Option<DateTime<Utc>> {
    item.get("scheduleDate")
        .and_then(time_of)
        .or_else(|| received_at(item))
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
            idempotency_key: None,
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
    fn an_item_showing_the_records_key_is_its_post_and_one_showing_another_is_not() {
        let platforms = platforms();
        let mut wanted = wanted(&platforms);
        wanted.idempotency_key = Some("K1");
        let ours = with(item("OURS"), "idempotencyKey", json!("K1"));
        let theirs = with(item("THEIRS"), "idempotencyKey", json!("K2"));
        // Rewritten by Ayrshare, and out of the window: the key decides all the same.
        let rewritten = with(
            with(ours.clone(), "post", json!("Hello #hi")),
            "created",
            json!("2025-01-01T00:00:00Z"),
        );
        let plain = item("PLAIN");
        assert_eq!(
            find(
                &[theirs.clone(), ours.clone(), plain.clone()],
                &wanted,
                |_| false
            ),
            Found::Keyed(ours.clone())
        );
        assert_eq!(
            find(std::slice::from_ref(&rewritten), &wanted, |_| false),
            Found::Keyed(rewritten.clone())
        );
        assert_eq!(
            find(std::slice::from_ref(&ours), &wanted, |id| id == "OURS"),
            Found::None
        );
        // Another request's key: not ours, whatever it says.
        assert_eq!(
            find(&[theirs.clone(), plain.clone()], &wanted, |_| false),
            Found::One(plain.clone())
        );
        assert!(matches(&ours, &wanted) && matches(&rewritten, &wanted));
        assert!(!matches(&theirs, &wanted));
        assert!(matches(&plain, &wanted));
        // Without a key of its own, a record matches by what the item is.
        wanted.idempotency_key = None;
        assert!(matches(&theirs, &wanted));
        assert!(!matches(&rewritten, &wanted));
    }

    #[test]
    fn an_items_publish_date_is_its_schedule_date_else_its_creation() {
        let scheduled = with(item("S"), "scheduleDate", json!("2026-02-01T09:00:00Z"));
        assert_eq!(date_of(&scheduled), Some(at("2026-02-01T09:00:00Z")));
        assert_eq!(date_of(&item("N")), Some(at("2026-01-01T10:00:01Z")));
        assert_eq!(received_at(&scheduled), Some(at("2026-01-01T10:00:01Z")));
        assert_eq!(date_of(&with(item("X"), "created", Value::Null)), None);
        let platforms = platforms();
        let mut wanted = wanted(&platforms);
        assert_eq!(
            wanted.dates(),
            (wanted.received_from, wanted.received_until)
        );
        wanted.schedule_date = Some(at("2026-02-01T09:00:00Z"));
        assert_eq!(
            wanted.dates(),
            (at("2026-02-01T08:59:59Z"), at("2026-02-01T09:00:01Z"))
        );
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
