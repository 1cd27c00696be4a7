//! `schedule_date` with an optional IANA `timezone`: a timestamp with an offset (`Z` or
//! `+hh:mm`) is taken as written, the zone only recorded; a naive `YYYY-MM-DDTHH:MM[:SS[.fff]]`
//! is wall-clock time in the zone, refused where that time does not exist (the spring gap) or
//! exists twice (the autumn fold). Without a zone a naive time stays an error, worded as
//! `NewPost::parse` words it today. Pure code; the tz database is compiled in (chrono-tz), so a
//! server without /usr/share/zoneinfo reads zones the same way.

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

use super::new_post::quote;

/// Why `schedule_date` (with its `timezone`) names no single instant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocalTimeError {
    /// Without a zone: today's message of `NewPost::parse`, unchanged.
    #[error(
        "'{}' is not an RFC 3339 timestamp with an offset (Z or +hh:mm), such as 2026-03-10T16:00:00Z",
        quote(.0)
    )]
    NotTimestamp(String),
    #[error(
        "'{}' is neither an RFC 3339 timestamp with an offset nor a local time such as 2026-03-10T16:00:00",
        quote(.0)
    )]
    NotLocalTime(String),
    #[error("'{}' is not an IANA time zone name, such as Europe/Berlin", quote(.0))]
    UnknownZone(String),
    #[error(
        "'{}' does not exist in {zone}: the clocks skip it when daylight saving time begins",
        quote(local)
    )]
    Gap { local: String, zone: String },
    #[error(
        "'{}' happens twice in {zone}, at {} and at {}: write the one meant with its offset ({} or {})",
        quote(local),
        utc(earlier),
        utc(later),
        offset(earlier),
        offset(later)
    )]
    Fold {
        local: String,
        zone: String,
        earlier: DateTime<FixedOffset>,
        later: DateTime<FixedOffset>,
    },
}

/// The instant `schedule_date` names, read in `timezone` (an IANA name) when it is a naive local
/// time. An unknown zone is an error even beside a timestamp with an offset. Sub-second digits
/// are kept; truncating to what Ayrshare takes, and checking the date is in the future, stay
/// with the caller.
pub fn resolve_schedule_date(
    text: &str,
    timezone: Option<&str>,
) -> Result<DateTime<Utc>, LocalTimeError> {
    let zone = timezone.map(parse_time_zone).transpose()?;
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    let Some(zone) = zone else {
        return Err(LocalTimeError::NotTimestamp(text.to_owned()));
    };
    let naive = parse_naive(text).ok_or_else(|| LocalTimeError::NotLocalTime(text.to_owned()))?;
    match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(instant) => Ok(instant.with_timezone(&Utc)),
        chrono::LocalResult::None => Err(LocalTimeError::Gap {
            local: text.to_owned(),
            zone: zone.name().to_owned(),
        }),
        chrono::LocalResult::Ambiguous(earlier, later) => Err(LocalTimeError::Fold {
            local: text.to_owned(),
            zone: zone.name().to_owned(),
            earlier: earlier.fixed_offset(),
            later: later.fixed_offset(),
        }),
    }
}

/// An IANA time zone by its exact name (`Europe/Berlin`; links such as `US/Eastern` and `UTC`
/// are names too).
pub fn parse_time_zone(name: &str) -> Result<Tz, LocalTimeError> {
    name.parse::<Tz>()
        .map_err(|_| LocalTimeError::UnknownZone(name.to_owned()))
}

/// `YYYY-MM-DDTHH:MM`, `…:SS` or `…:SS.f` (1 to 9 digits), and nothing looser: chrono's own
/// parsers also take one-digit fields, signs and longer years, so the shape is checked first.
fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    // `d` stands for a digit.
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    let bytes = text.as_bytes();
    let (head, fraction) = bytes.split_at(bytes.len().min(SHAPE.len()));
    let head_ok = (head.len() == 16 || head.len() == SHAPE.len())
        && head.iter().zip(SHAPE).all(|(byte, shape)| match shape {
            b'd' => byte.is_ascii_digit(),
            _ => byte == shape,
        });
    let fraction_ok = match fraction {
        [] => true,
        [b'.', digits @ ..] => {
            (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    if !head_ok || !fraction_ok {
        return None;
    }
    let format = if head.len() == 16 {
        "%Y-%m-%dT%H:%M"
    } else {
        "%Y-%m-%dT%H:%M:%S%.f"
    };
    NaiveDateTime::parse_from_str(text, format).ok()
}

fn utc(instant: &DateTime<FixedOffset>) -> String {
    instant
        .with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn offset(instant: &DateTime<FixedOffset>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::NewPost;

    fn instant(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn resolve(text: &str, zone: Option<&str>) -> Result<DateTime<Utc>, LocalTimeError> {
        resolve_schedule_date(text, zone)
    }

    #[test]
    fn a_naive_time_is_read_as_wall_clock_time_in_the_zone() {
        assert_eq!(
            resolve("2027-03-10T16:00:00", Some("Europe/Berlin")),
            Ok(instant("2027-03-10T15:00:00Z"))
        );
        // Summer time: two hours ahead of UTC.
        assert_eq!(
            resolve("2027-07-10T16:00", Some("Europe/Berlin")),
            Ok(instant("2027-07-10T14:00:00Z"))
        );
        assert_eq!(
            resolve("2027-03-10T16:00:00.250", Some("Asia/Kolkata")),
            Ok(instant("2027-03-10T10:30:00.250Z"))
        );
        assert_eq!(
            resolve("2027-03-10T16:00:00", Some("UTC")),
            Ok(instant("2027-03-10T16:00:00Z"))
        );
    }

    #[test]
    fn an_offset_wins_over_the_zone() {
        for zone in [None, Some("Europe/Berlin"), Some("America/New_York")] {
            assert_eq!(
                resolve("2027-03-10T16:00:00+05:00", zone),
                Ok(instant("2027-03-10T11:00:00Z"))
            );
            assert_eq!(
                resolve("2027-03-10T16:00:00Z", zone),
                Ok(instant("2027-03-10T16:00:00Z"))
            );
        }
        // Even a time in the zone's gap: the offset makes it exact.
        assert_eq!(
            resolve("2027-03-14T02:30:00-05:00", Some("America/New_York")),
            Ok(instant("2027-03-14T07:30:00Z"))
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_is_refused() {
        let error = resolve("2027-03-14T02:30:00", Some("America/New_York")).unwrap_err();
        assert_eq!(
            error,
            LocalTimeError::Gap {
                local: "2027-03-14T02:30:00".into(),
                zone: "America/New_York".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "'2027-03-14T02:30:00' does not exist in America/New_York: \
             the clocks skip it when daylight saving time begins"
        );
        // The minutes either side of the gap exist.
        assert_eq!(
            resolve("2027-03-14T01:59:59", Some("America/New_York")),
            Ok(instant("2027-03-14T06:59:59Z"))
        );
        assert_eq!(
            resolve("2027-03-14T03:00:00", Some("America/New_York")),
            Ok(instant("2027-03-14T07:00:00Z"))
        );
    }

    #[test]
    fn a_time_in_the_autumn_fold_is_refused_with_both_instants() {
        let error = resolve("2027-11-07T01:30:00", Some("America/New_York")).unwrap_err();
        let LocalTimeError::Fold { earlier, later, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(earlier.to_utc(), instant("2027-11-07T05:30:00Z"));
        assert_eq!(later.to_utc(), instant("2027-11-07T06:30:00Z"));
        assert_eq!(
            error.to_string(),
            "'2027-11-07T01:30:00' happens twice in America/New_York, at 2027-11-07T05:30:00Z \
             and at 2027-11-07T06:30:00Z: write the one meant with its offset \
             (2027-11-07T01:30:00-04:00 or 2027-11-07T01:30:00-05:00)"
        );
        // Each suggested form reads back as its instant.
        assert_eq!(
            resolve("2027-11-07T01:30:00-04:00", Some("America/New_York")),
            Ok(instant("2027-11-07T05:30:00Z"))
        );
        assert_eq!(
            resolve("2027-11-07T01:30:00-05:00", Some("America/New_York")),
            Ok(instant("2027-11-07T06:30:00Z"))
        );
    }

    #[test]
    fn an_unknown_zone_is_refused_even_beside_an_offset() {
        for text in ["2027-03-10T16:00:00", "2027-03-10T16:00:00Z"] {
            let error = resolve(text, Some("Mars/Olympus")).unwrap_err();
            assert_eq!(error, LocalTimeError::UnknownZone("Mars/Olympus".into()));
            assert_eq!(
                error.to_string(),
                "'Mars/Olympus' is not an IANA time zone name, such as Europe/Berlin"
            );
        }
        for name in ["", "europe/berlin", "Europe/Berlin ", "+01:00", "CET\0"] {
            assert!(parse_time_zone(name).is_err(), "{name:?}");
        }
        let long = "A".repeat(10_000);
        let message = parse_time_zone(&long).unwrap_err().to_string();
        assert!(message.chars().count() < 150, "{message}");
    }

    #[test]
    fn a_naive_time_without_a_zone_is_refused_as_new_post_refuses_it_today() {
        for text in [
            "2027-03-10T16:00:00",
            "2027-03-10",
            "tomorrow",
            "",
            &"é".repeat(1000),
        ] {
            let error = resolve(text, None).unwrap_err();
            assert_eq!(error, LocalTimeError::NotTimestamp(text.to_owned()));
            let body = json!({"platforms": ["x"], "schedule_date": text});
            let today = NewPost::parse(body, Utc::now()).unwrap_err();
            let messages: Vec<&str> = today
                .listed()
                .iter()
                .filter(|e| e.field == "schedule_date")
                .map(|e| e.message.as_str())
                .collect();
            assert_eq!(messages, [error.to_string()], "{text:.20}");
        }
    }

    #[test]
    fn only_the_documented_naive_forms_are_read() {
        for text in [
            "2027-03-10T16:00",
            "2027-03-10T16:00:00",
            "2027-03-10T16:00:00.5",
            "2027-03-10T16:00:00.123456789",
        ] {
            assert!(resolve(text, Some("Europe/Berlin")).is_ok(), "{text}");
        }
        for text in [
            "2027-03-10",
            "2027-03-10T16",
            "2027-3-10T16:00",
            "2027-03-10 16:00:00",
            "2027-03-10t16:00:00",
            "+2027-03-10T16:00:00",
            "12027-03-10T16:00:00",
            "2027-03-10T16:00:00.",
            "2027-03-10T16:00:00.1234567890",
            "2027-03-10T16:00:00,5",
            "2027-03-10T16:00:0",
            "2027-03-10T16:00:",
            "2027-03-10T16:00x00",
            "2027-03-10T16:00:00.5x",
            "2027-03-10T16:00.5",
            "2027-03-10X16:00",
            "2027/03/10T16:00",
            "2027-03-10T16:00:00 ",
            "2027-13-10T16:00:00",
            "2027-02-30T16:00:00",
            "2027-03-10T24:00:00",
            "2027-03-10T16:60",
            "２０２７-03-10T16:00",
            "2027-03-10T16:00:00é",
            "",
        ] {
            assert_eq!(
                resolve(text, Some("Europe/Berlin")),
                Err(LocalTimeError::NotLocalTime(text.to_owned())),
                "{text}"
            );
        }
        assert_eq!(
            LocalTimeError::NotLocalTime("x".into()).to_string(),
            "'x' is neither an RFC 3339 timestamp with an offset nor a local time \
             such as 2026-03-10T16:00:00"
        );
    }
}
