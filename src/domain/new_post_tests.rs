//! More tests of `new_post`, kept apart from its own module so that they merge cleanly: each one
//! pins a behaviour that mutation testing (`cargo mutants`) showed no other test checked.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::new_post::{FieldError, NewPost, ValidationErrors};

fn now() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn parse(body: Value) -> Result<NewPost, ValidationErrors> {
    NewPost::parse(body, now())
}

#[test]
fn the_detail_names_each_field_and_its_problem_in_order() {
    let errors = parse(json!({"post": 5})).unwrap_err();
    assert_eq!(
        errors.detail(),
        "post: must be a string; platforms: is required"
    );
    let one = ValidationErrors::one(FieldError::new("body", "must be a JSON object"));
    assert_eq!(one.detail(), "body: must be a JSON object");
}

#[test]
fn only_a_post_to_x_involves_x() {
    let without = parse(json!({"platforms": ["linkedin", "facebook"]})).unwrap();
    assert!(!without.involves_x());
    let with = parse(json!({"platforms": ["linkedin", "x"]})).unwrap();
    assert!(with.involves_x());
}

#[test]
fn a_schedule_date_in_the_year_9999_is_still_accepted() {
    let post = parse(json!({"platforms": ["x"], "schedule_date": "9999-12-31T23:59:59Z"})).unwrap();
    assert_eq!(post.ayrshare_body()["scheduleDate"], "9999-12-31T23:59:59Z");
}

#[test]
fn a_local_schedule_date_is_read_in_the_timezone_which_is_kept_but_never_forwarded() {
    let body = json!({"platforms": ["x"], "schedule_date": "2027-03-10T16:00:00.7",
                       "timezone": "Europe/Berlin"});
    let post = parse(body).unwrap();
    assert_eq!(post.timezone.as_deref(), Some("Europe/Berlin"));
    assert!(post.extra.is_empty());
    assert_eq!(
        post.ayrshare_body(),
        json!({"post": "", "platforms": ["twitter"], "scheduleDate": "2027-03-10T15:00:00Z"})
    );
    // A zone without a date is only recorded.
    let zone_only = parse(json!({"platforms": ["x"], "timezone": "UTC"})).unwrap();
    assert_eq!(zone_only.timezone.as_deref(), Some("UTC"));
    assert_eq!(zone_only.schedule_date, None);
}

#[test]
fn a_bad_timezone_is_one_problem_and_a_local_date_beside_it_is_only_checked_for_its_shape() {
    let fields = |body: Value| -> Vec<String> {
        parse(body)
            .unwrap_err()
            .listed()
            .iter()
            .map(|e| e.field.clone())
            .collect()
    };
    assert_eq!(
        fields(
            json!({"platforms": ["x"], "schedule_date": "2027-03-10T16:00", "timezone": "Nowhere"})
        ),
        ["timezone"]
    );
    assert_eq!(
        fields(json!({"platforms": ["x"], "schedule_date": "soon", "timezone": 3})),
        ["timezone", "schedule_date"]
    );
    // The past is still the past, wherever it is.
    assert_eq!(
        fields(
            json!({"platforms": ["x"], "schedule_date": "2025-03-10T16:00", "timezone": "Asia/Tokyo"})
        ),
        ["schedule_date"]
    );
}

#[test]
fn a_timezone_is_kept_as_named_links_included() {
    for name in [
        "US/Eastern",
        "UTC",
        "Etc/GMT+5",
        "America/Argentina/Buenos_Aires",
    ] {
        let post = parse(json!({"platforms": ["x"], "timezone": name})).unwrap();
        assert_eq!(post.timezone.as_deref(), Some(name));
    }
}
