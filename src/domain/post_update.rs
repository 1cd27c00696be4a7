//! The bodies of `PATCH /social/post/{post_id}` and `DELETE /social/post/{post_id}`: parsed
//! once, every problem reported at once, and the Ayrshare body built from them.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::new_post::{
    FieldError, Problems, ValidationErrors, Zone, ayrshare_timestamp, check_forwarded,
    normalize_key, parse_schedule_date, parse_timezone, quote,
};

/// A validated update of a post Ayrshare holds.
#[derive(Clone, Debug, PartialEq)]
pub struct PostUpdate {
    /// The new time, whole seconds, UTC.
    pub schedule_date: Option<DateTime<Utc>>,
    /// The IANA zone the new time was given in (a naive `schedule_date` is read in it); the
    /// record keeps it with the new time, and a reschedule without one records none. Only
    /// with `schedule_date`; never sent to Ayrshare.
    pub timezone: Option<String>,
    /// Pause (`true`) or resume (`false`) a scheduled post.
    pub scheduled_pause: Option<bool>,
    pub notes: Option<String>,
    /// Ayrshare's approval flow (`approved`).
    pub approve: Option<bool>,
    /// Ayrshare update fields we do not interpret (`disableComments`, `youTubeOptions`, ...),
    /// forwarded unchanged.
    pub extra: Map<String, Value>,
}

/// Extra keys the service controls, in their normalized form: the post's id and profile, the
/// fields it maps from its own names (and must record), and what Ayrshare cannot change.
const REFUSED_EXTRAS: [&str; 13] = [
    "timezone",
    "id",
    "post",
    "platforms",
    "mediaurls",
    "scheduledate",
    "scheduledpause",
    "approved",
    "approve",
    "notes",
    "workspaceid",
    "profilekey",
    "profilekeys",
];

/// The documented fields, spelled as the API spells them.
const DOCUMENTED: [&str; 5] = [
    "schedule_date",
    "timezone",
    "scheduled_pause",
    "notes",
    "approve",
];

impl PostUpdate {
    /// Parses a PATCH body; `now` is the server's clock (a new schedule date must be later).
    pub fn parse(body: Value, now: DateTime<Utc>) -> Result<PostUpdate, ValidationErrors> {
        let Value::Object(mut fields) = body else {
            return Err(ValidationErrors::one(FieldError::new(
                "body",
                "must be a JSON object",
            )));
        };
        let mut errors = Problems::default();
        let mut take = |name: &str| fields.remove(name).filter(|v| !v.is_null());
        let timezone = parse_timezone(take("timezone"), &mut errors);
        let schedule_value = take("schedule_date");
        if timezone.is_some() && schedule_value.is_none() {
            errors.push(FieldError::new(
                "timezone",
                "is only read with schedule_date: send the new time with it",
            ));
        }
        let schedule_date =
            parse_schedule_date(schedule_value, timezone.as_ref(), now, &mut errors);
        let scheduled_pause = take_bool(take("scheduled_pause"), "scheduled_pause", &mut errors);
        let approve = take_bool(take("approve"), "approve", &mut errors);
        let notes = match take("notes") {
            None => None,
            Some(Value::String(s)) if s.contains('\0') => {
                errors.push(FieldError::new("notes", "must not contain NUL characters"));
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                errors.push(FieldError::new("notes", "must be a string"));
                None
            }
        };
        for (key, value) in &fields {
            if REFUSED_EXTRAS.contains(&normalize_key(key).as_str()) {
                errors.push(FieldError::new(
                    quote(key),
                    format!(
                        "may not be forwarded to Ayrshare: the post's id and workspace are fixed, \
                         its text, platforms and media cannot change, and the rest has a \
                         documented field ({})",
                        DOCUMENTED.join(", ")
                    ),
                ));
            } else {
                check_forwarded(key, value, &mut errors);
            }
        }
        errors.finish()?;
        let update = PostUpdate {
            schedule_date,
            timezone: timezone.and_then(Zone::into_name),
            scheduled_pause,
            notes,
            approve,
            extra: fields,
        };
        if update.is_empty() {
            return Err(ValidationErrors::one(FieldError::new(
                "body",
                format!(
                    "names no change: send at least one of {} or an Ayrshare update field",
                    DOCUMENTED.join(", ")
                ),
            )));
        }
        Ok(update)
    }

    fn is_empty(&self) -> bool {
        self.schedule_date.is_none()
            && self.scheduled_pause.is_none()
            && self.notes.is_none()
            && self.approve.is_none()
            && self.extra.is_empty()
    }

    /// Whether the update reschedules or pauses: only a post still scheduled allows that.
    pub fn needs_scheduled(&self) -> bool {
        self.schedule_date.is_some() || self.scheduled_pause.is_some()
    }

    /// The JSON body of Ayrshare's `PATCH /post` for the post `post_id`.
    pub fn ayrshare_body(&self, post_id: &str) -> Value {
        let mut body = self.extra.clone();
        body.insert("id".into(), Value::String(post_id.to_owned()));
        if let Some(date) = self.schedule_date {
            body.insert(
                "scheduleDate".into(),
                Value::String(ayrshare_timestamp(date)),
            );
        }
        if let Some(pause) = self.scheduled_pause {
            body.insert("scheduledPause".into(), Value::Bool(pause));
        }
        if let Some(notes) = &self.notes {
            body.insert("notes".into(), Value::String(notes.clone()));
        }
        if let Some(approve) = self.approve {
            body.insert("approved".into(), Value::Bool(approve));
        }
        Value::Object(body)
    }
}

fn take_bool(value: Option<Value>, field: &str, errors: &mut Problems) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(b),
        _ => {
            errors.push(FieldError::new(field, "must be true or false"));
            None
        }
    }
}

/// A validated (optional) body of `DELETE /social/post/{post_id}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PostDeletion {
    /// Ayrshare's `markManualDeleted`: mark the post deleted at Ayrshare only (it was deleted by
    /// hand on its network).
    pub mark_manual_deleted: bool,
}

impl PostDeletion {
    /// Parses the body; `None` (no body) deletes normally. Unknown keys are refused: the delete
    /// has one option, and a misspelt one must not delete the post the other way.
    pub fn parse(body: Option<Value>) -> Result<PostDeletion, ValidationErrors> {
        let Some(body) = body else {
            return Ok(PostDeletion::default());
        };
        let Value::Object(fields) = body else {
            return Err(ValidationErrors::one(FieldError::new(
                "body",
                "must be a JSON object",
            )));
        };
        let mut deletion = PostDeletion::default();
        let mut errors = Problems::default();
        for (key, value) in fields {
            match (key.as_str(), value) {
                ("mark_manual_deleted", Value::Bool(b)) => deletion.mark_manual_deleted = b,
                ("mark_manual_deleted", Value::Null) => {}
                ("mark_manual_deleted", _) => errors.push(FieldError::new(
                    "mark_manual_deleted",
                    "must be true or false",
                )),
                (other, _) => errors.push(FieldError::new(
                    other.replace('\0', "\u{fffd}"),
                    "is not a field of a delete (known: mark_manual_deleted)",
                )),
            }
        }
        errors.finish()?;
        Ok(deletion)
    }

    /// The JSON body of Ayrshare's `DELETE /post` for the post `post_id`.
    pub fn ayrshare_body(&self, post_id: &str) -> Value {
        let mut body = Map::new();
        body.insert("id".into(), Value::String(post_id.to_owned()));
        if self.mark_manual_deleted {
            body.insert("markManualDeleted".into(), Value::Bool(true));
        }
        Value::Object(body)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn fields_of(body: Value) -> Vec<String> {
        PostUpdate::parse(body, now())
            .unwrap_err()
            .listed()
            .iter()
            .map(|e| e.field.clone())
            .collect()
    }

    #[test]
    fn an_update_maps_our_names_to_ayrshares_and_forwards_the_rest() {
        let update = PostUpdate::parse(
            json!({"schedule_date": "2026-03-10T17:00:00.5+01:00", "scheduled_pause": false,
                   "notes": "n", "approve": true, "disableComments": true,
                   "youTubeOptions": {"title": "T"}}),
            now(),
        )
        .unwrap();
        assert!(update.needs_scheduled());
        assert_eq!(
            update.ayrshare_body("AYR1"),
            json!({"id": "AYR1", "scheduleDate": "2026-03-10T16:00:00Z", "scheduledPause": false,
                   "notes": "n", "approved": true, "disableComments": true,
                   "youTubeOptions": {"title": "T"}})
        );
        let approve = PostUpdate::parse(json!({"approve": true, "notes": null}), now()).unwrap();
        assert!(!approve.needs_scheduled());
        assert_eq!(
            approve.ayrshare_body("A"),
            json!({"id": "A", "approved": true})
        );
    }

    #[test]
    fn an_update_must_name_a_change() {
        assert_eq!(fields_of(json!({})), ["body"]);
        assert_eq!(fields_of(json!({"notes": null})), ["body"]);
        assert_eq!(fields_of(json!([1])), ["body"]);
    }

    #[test]
    fn every_problem_is_reported_and_controlled_fields_are_refused() {
        assert_eq!(
            fields_of(json!({
                "schedule_date": "2025-01-01T00:00:00Z",
                "scheduled_pause": "yes",
                "approve": 1,
                "notes": 5,
                "id": "OTHER",
                "scheduleDate": "2027-01-01T00:00:00Z",
                "Profile-Key": "pk",
                "approved": true,
                "post": "new text",
                "workspace_id": "w"
            })),
            // Extras in the map's order (sorted), after the documented fields.
            [
                "schedule_date",
                "scheduled_pause",
                "approve",
                "notes",
                "Profile-Key",
                "approved",
                "id",
                "post",
                "scheduleDate",
                "workspace_id"
            ]
        );
    }

    #[test]
    fn a_reschedule_reads_a_local_time_in_its_timezone_which_is_not_sent() {
        let update = PostUpdate::parse(
            json!({"schedule_date": "2026-07-01T09:00", "timezone": "America/New_York"}),
            now(),
        )
        .unwrap();
        assert_eq!(update.timezone.as_deref(), Some("America/New_York"));
        assert_eq!(
            update.ayrshare_body("A"),
            json!({"id": "A", "scheduleDate": "2026-07-01T13:00:00Z"})
        );
        assert_eq!(fields_of(json!({"timezone": "UTC"})), ["timezone"]);
        assert_eq!(
            fields_of(json!({"schedule_date": "2026-07-01T09:00", "timezone": "Nowhere/Else"})),
            ["timezone"]
        );
        assert_eq!(
            fields_of(json!({"schedule_date": "2026-07-01T09:00"})),
            ["schedule_date"]
        );
        assert_eq!(
            fields_of(json!({"schedule_date": "2026-07-01T09:00:00Z", "timeZone": "UTC"})),
            ["timeZone"]
        );
    }

    #[test]
    fn a_deletion_takes_only_mark_manual_deleted() {
        assert_eq!(PostDeletion::parse(None).unwrap(), PostDeletion::default());
        assert_eq!(
            PostDeletion::parse(Some(json!({}))).unwrap(),
            PostDeletion::default()
        );
        let manual = PostDeletion::parse(Some(json!({"mark_manual_deleted": true}))).unwrap();
        assert_eq!(
            manual.ayrshare_body("A"),
            json!({"id": "A", "markManualDeleted": true})
        );
        assert_eq!(
            PostDeletion::default().ayrshare_body("A"),
            json!({"id": "A"})
        );
        for bad in [
            json!({"mark_manual_deleted": "yes"}),
            json!({"markManualDeleted": true}),
            json!([true]),
        ] {
            assert!(PostDeletion::parse(Some(bad.clone())).is_err(), "{bad}");
        }
    }
}
