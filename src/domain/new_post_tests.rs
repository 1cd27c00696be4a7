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
