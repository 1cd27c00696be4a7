//! `POST`, `DELETE` and `GET /api/hook/webhook`: a profile's `scheduled` and `social` webhooks.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::AppState;
use super::handlers::{admit, admit_json};
use super::profile::Profile;
use super::reply::{ApiError, json_response};
use super::store::HOOK_ACTIONS;
use super::webhook::{self, WebhookTarget};

/// The longest webhook URL or secret accepted, in bytes.
const MAX_FIELD_LEN: usize = 2_048;

/// `POST /api/hook/webhook` `{"action": "scheduled" | "social", "url", "secret"?}`: registers (or
/// replaces) the profile's webhook for that action.
pub(super) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let parsed = admit_json(&state, &headers, body).await?;
    let fields = object(&parsed)?;
    let action = check_action(fields)?;
    let url = string_field(fields, "url")?.ok_or_else(|| {
        ApiError::bad_parameter("Missing url parameter. Please send the webhook URL.")
    })?;
    webhook::check_url(&url)
        .map_err(|why| ApiError::bad_parameter(format!("Incorrect url parameter: {why}.")))?;
    let secret = string_field(fields, "secret")?;
    let profile = Profile::from_headers(&headers);
    state.store().set_hook(
        &profile,
        action,
        WebhookTarget {
            url: url.clone(),
            secret,
        },
    )?;
    let body = json!({
        "status": "success",
        "action": action,
        "url": url,
        "refId": profile.ref_id(),
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /api/hook/webhook` `{"action": "scheduled" | "social"}`: unregisters the profile's
/// webhook for that action.
pub(super) async fn unregister(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let action = check_action(object(&admit_json(&state, &headers, body).await?)?)?;
    let profile = Profile::from_headers(&headers);
    if !state.store().remove_hook(&profile, action) {
        return Err(ApiError::not_found(format!(
            "Webhook not found: no {action} webhook is registered for this profile."
        ))
        .into());
    }
    let body = json!({"status": "success", "action": action});
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/hook/webhook`: the profile's own webhooks (never the secret).
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    admit(&state, &headers, None).await?;
    let profile = Profile::from_headers(&headers);
    let store = state.store();
    let hooks: Vec<Value> = HOOK_ACTIONS
        .iter()
        .filter_map(|&action| {
            let target = store.hook(&profile, action)?;
            Some(json!({"action": action, "url": target.url, "signed": target.secret.is_some()}))
        })
        .collect();
    let body = json!({"status": "success", "webhooks": hooks});
    Ok(json_response(StatusCode::OK, &body))
}

fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object().ok_or_else(|| {
        ApiError::bad_parameter(
            "Missing or incorrect parameters. The request body must be a JSON object.",
        )
    })
}

/// `action` must be `scheduled` or `social`: the actions the mock simulates.
fn check_action(fields: &Map<String, Value>) -> Result<&'static str, ApiError> {
    match string_field(fields, "action")? {
        Some(action) => HOOK_ACTIONS
            .iter()
            .find(|known| **known == action)
            .copied()
            .ok_or_else(|| {
                ApiError::mock(format!(
                    "the webhook action {action:?} is not simulated by the mock: only \"scheduled\" and \"social\" are"
                ))
            }),
        None => Err(ApiError::bad_parameter(
            "Missing action parameter. Please send the webhook action, e.g. \"scheduled\".",
        )),
    }
}

/// A string field of at most [`MAX_FIELD_LEN`] bytes; `null` or absent is `None`.
fn string_field(fields: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= MAX_FIELD_LEN => {
            Ok(Some(text.clone()))
        }
        Some(_) => Err(ApiError::bad_parameter(format!(
            "Incorrect {key} parameter. Please send a non-empty string of at most {MAX_FIELD_LEN} characters."
        ))),
    }
}
