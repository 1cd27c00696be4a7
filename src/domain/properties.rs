//! Property tests (proptest) on what reads untrusted input: the request body reader and parser
//! never panic, refuse what must be refused, and forward what they accept unchanged; the reader
//! of Ayrshare's answers never panics on any JSON. Case counts stay modest so that the suite
//! stays fast on two cores; CI runs them on every push.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

use super::new_post::{NewPost, number_problem};
use super::outcome::{DeliveryFailure, ProviderAnswer, judge_create, judge_status};
use super::strict_json;
use super::tracked_status::TrackedStatus;

fn now() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Number texts: ordinary ones, and the edges of what is accepted.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        (1u32..9, -400i32..400).prop_map(|(m, e)| format!("{m}e{e}")),
        "-?[1-9][0-9]{18,40}",
        "-?0\\.[0-9]{1,40}",
        Just("1.10".to_owned()),
        Just("-0".to_owned()),
    ]
}

/// Keys, drawn from a small set so that objects built as text repeat them.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("title".to_owned()),
        Just("A".to_owned()),
        "[a-zA-Z_$:\\-]{0,12}",
        ".{0,6}",
    ]
}

/// Any JSON value, kept small (a few levels, a few items).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number_text().prop_map(|t| Value::Number(t.parse::<Number>().unwrap())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A media URL that must be accepted.
fn good_url() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("http"), Just("https"), Just("HTTPS")],
        "[a-z][a-z0-9]{0,9}(\\.[a-z]{2,5}){0,2}",
        prop::option::of(1u16..=65535),
        "(/[a-zA-Z0-9._~%!$&'()*+,;=:-]{0,10}){0,3}",
        prop::option::of("[a-zA-Z0-9=&%]{0,10}"),
    )
        .prop_map(|(scheme, host, port, path, query)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("{scheme}://{host}{port}{path}{query}")
        })
}

const PLATFORMS: [&str; 6] = [
    "x",
    "linkedin",
    "instagram",
    "facebook",
    "tiktok",
    "youtube",
];

/// An extra key that is never refused (not a documented field, not a profile key).
fn extra_key() -> impl Strategy<Value = String> {
    "[a-z]{1,8}Option[a-z]{0,4}"
}

/// A value whose numbers are all accepted and which has no U+0000.
fn accepted_extra() -> impl Strategy<Value = Value> {
    json_value().prop_filter("acceptable", is_acceptable)
}

fn is_acceptable(value: &Value) -> bool {
    match value {
        Value::Number(n) => number_problem(n).is_none(),
        Value::String(s) => !s.contains('\0'),
        Value::Array(items) => items.iter().all(is_acceptable),
        Value::Object(fields) => fields
            .iter()
            .all(|(k, v)| !k.contains('\0') && is_acceptable(v)),
        _ => true,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_body_reader_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = strict_json::from_slice::<Value>(&bytes);
    }

    #[test]
    fn the_body_reader_never_panics_on_json_like_text(
        tokens in prop::collection::vec(prop_oneof![
            Just("{"), Just("}"), Just("["), Just("]"), Just(","), Just(":"), Just("\"a\""),
            Just("\"$serde_json::private::Number\""), Just("1e999"), Just("-0.5"), Just("null"),
            Just("\"\\u0061\""), Just("\"\\ud800\""), Just(" "),
        ], 0..64)
    ) {
        let text = tokens.concat();
        let _ = strict_json::from_slice::<Value>(text.as_bytes());
    }

    #[test]
    fn what_the_body_reader_accepts_is_read_unchanged(value in json_value()) {
        let text = value.to_string();
        let read: Value = strict_json::from_slice(text.as_bytes()).unwrap();
        prop_assert_eq!(read, value);
    }

    #[test]
    fn a_repeated_key_is_always_refused_and_named(
        fields in prop::collection::vec((key(), json_value()), 1..5),
        repeated in 0usize..5,
        nested in any::<bool>(),
    ) {
        let (dup_key, dup_value) = fields[repeated % fields.len()].clone();
        let mut members: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
            .collect();
        members.push(format!("{}:{}", Value::String(dup_key.clone()), dup_value));
        let object = format!("{{{}}}", members.join(","));
        let text = if nested { format!("{{\"outer\":[{object}]}}") } else { object };
        let error = strict_json::from_slice::<Value>(text.as_bytes()).unwrap_err();
        prop_assert!(error.message.contains("more than once"), "{:?}", error);
        prop_assert_eq!(nested, error.field.starts_with("outer[0]"));
    }

    #[test]
    fn the_request_parser_never_panics(
        fields in prop::collection::btree_map(
            prop_oneof![
                Just("post".to_owned()), Just("platforms".to_owned()),
                Just("media_urls".to_owned()), Just("schedule_date".to_owned()),
                Just("workspace_id".to_owned()), Just("profileKey".to_owned()), key(),
            ],
            prop_oneof![
                json_value(),
                prop::collection::vec(prop_oneof![
                    prop::sample::select(&PLATFORMS[..]).prop_map(|p| json!(p)),
                    good_url().prop_map(Value::String),
                    ".{0,20}".prop_map(Value::String),
                ], 0..4).prop_map(Value::Array),
            ],
            0..8,
        ),
    ) {
        let body = Value::Object(fields.into_iter().collect());
        if let Ok(post) = NewPost::parse(body.clone(), now()) {
            // Accepted: the extras are forwarded exactly, and so is every documented value.
            let sent = post.ayrshare_body();
            for (key, value) in body.as_object().unwrap() {
                match key.as_str() {
                    "post" | "schedule_date" | "workspace_id" | "platforms" | "media_urls" => {}
                    _ if value.is_null() => {}
                    _ => prop_assert_eq!(&sent[key], value, "{}", key),
                }
            }
            if let Some(Value::String(text)) = body.get("post") {
                prop_assert_eq!(&sent["post"], &Value::String(text.clone()));
            }
            if let Some(urls @ Value::Array(items)) = body.get("media_urls") {
                if !items.is_empty() {
                    prop_assert_eq!(&sent["mediaUrls"], urls);
                }
            }
        }
    }

    #[test]
    fn a_valid_request_is_accepted_and_forwarded_unchanged(
        post in ".{0,40}".prop_filter("no NUL", |s| !s.contains('\0')),
        platforms in prop::sample::subsequence(&PLATFORMS[..], 1..=6),
        media_urls in prop::collection::vec(good_url(), 0..4),
        extras in prop::collection::btree_map(extra_key(), accepted_extra(), 0..4),
    ) {
        let mut body = json!({"post": post, "platforms": platforms, "media_urls": media_urls});
        body.as_object_mut().unwrap().extend(extras.clone());
        let parsed = NewPost::parse(body, now());
        prop_assert!(parsed.is_ok(), "{:?}", parsed);
        let sent = parsed.unwrap().ayrshare_body();
        prop_assert_eq!(&sent["post"], &json!(post));
        if !media_urls.is_empty() {
            prop_assert_eq!(&sent["mediaUrls"], &json!(media_urls));
        }
        for (key, value) in &extras {
            prop_assert_eq!(&sent[key], value);
        }
    }

    #[test]
    fn a_media_url_with_whitespace_control_or_credentials_is_refused(
        url in good_url(),
        position in any::<prop::sample::Index>(),
        bad in prop_oneof![
            Just(" "), Just("\t"), Just("\n"), Just("\u{0}"), Just("\u{a0}"), Just("\u{7f}"),
            Just("\\"),
        ],
        credentials in prop_oneof![Just("user@"), Just("user:pass@"), Just("@"), Just(":@")],
        use_credentials in any::<bool>(),
    ) {
        let url = if use_credentials {
            let (scheme, rest) = url.split_once("://").unwrap();
            format!("{scheme}://{credentials}{rest}")
        } else {
            let at = position.index(url.len() + 1);
            let at = (0..=at).rev().find(|i| url.is_char_boundary(*i)).unwrap_or(0);
            format!("{}{bad}{}", &url[..at], &url[at..])
        };
        let errors = NewPost::parse(json!({"platforms": ["x"], "media_urls": [url]}), now())
            .unwrap_err();
        prop_assert_eq!(errors.listed()[0].field.as_str(), "media_urls[0]");
    }

    #[test]
    fn a_number_past_64_bits_in_an_extra_is_refused(
        digits in "[1-9][0-9]{20,40}",
        exponent in 309u32..100_000,
        path in prop::collection::vec(extra_key(), 1..4),
    ) {
        for number in [digits.clone(), format!("1e{exponent}"), format!("-1e{exponent}"),
                       format!("1e-{}", exponent + 100)] {
            let mut value: Value = serde_json::from_str(&number).unwrap();
            for key in path.iter().rev() {
                value = json!({ key: value });
            }
            let mut body = value;
            body["platforms"] = json!(["x"]);
            let errors = NewPost::parse(body, now()).unwrap_err();
            prop_assert_eq!(&errors.listed()[0].field, &path.join("."), "{}", number);
        }
    }

    #[test]
    fn the_ayrshare_answer_reader_never_panics(
        status in 100u16..600,
        body in prop_oneof![
            json_value().prop_map(|v| v.to_string()),
            ayrshare_like().prop_map(|v| v.to_string()),
            ".{0,64}",
        ],
        retry_after in prop::option::of(".{0,8}"),
        scheduled in any::<bool>(),
        was in prop::sample::select(TrackedStatus::ALL.to_vec()),
    ) {
        let answer = ProviderAnswer::new(status, &body, retry_after);
        let _ = judge_create(Ok(&answer), scheduled);
        let _ = judge_status(Ok(&answer), was, &[]);
    }
}

/// JSON shaped like Ayrshare's answers, with every field of any type: where a reader that
/// trusts shapes would panic.
fn ayrshare_like() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("status"),
        Just("id"),
        Just("postIds"),
        Just("errors"),
        Just("platform"),
        Just("postUrl"),
        Just("code"),
        Just("message"),
        Just("posts"),
        Just("scheduleDate"),
    ];
    let scalar = prop_oneof![
        Just(json!("success")),
        Just(json!("error")),
        Just(json!("scheduled")),
        Just(json!("twitter")),
        Just(json!("x")),
        Just(json!(null)),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,8}".prop_map(Value::String),
    ];
    scalar.prop_recursive(3, 32, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(field.clone(), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

#[test]
fn transport_failures_are_read_without_panicking() {
    for failure in [
        DeliveryFailure::NotSent,
        DeliveryFailure::OutcomeUnknown,
        DeliveryFailure::HeldOff {
            retry_after_secs: 1,
        },
    ] {
        let _ = judge_create(Err(failure), true);
        for was in TrackedStatus::ALL {
            let _ = judge_status(Err(failure), was, &[]);
        }
    }
}
