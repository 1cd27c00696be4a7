//! The mock's own control routes under `/mock` (not Ayrshare's): per-profile settings and the
//! request counter.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, RawPathParamsRejection};
use axum::extract::{RawPathParams, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::AppState;
use super::handlers::{authenticate, path_id, unreadable_body};
use super::profile::{Profile, ProfileSettings};
use super::reply::{ApiError, json_response};
use super::validate;

/// The keys `PUT /mock/profiles/{profile_key}` accepts.
const SETTING_KEYS: &str = "wrap_answers (true, false or null), title (a string or null)";

/// `PUT /mock/profiles/{profile_key}`: replaces the profile's settings with the body's; a key
/// left out (or `null`) goes back to its default.
pub(super) async fn put_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<RawPathParams, RawPathParamsRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let bytes = body.map_err(unreadable_body)?;
    authenticate(&state.config, &headers)?;
    let profile = Profile::keyed(&path_id(params)?);
    let settings = parse_settings(&validate::parse_body(&bytes)?)?;
    let mut store = state.store();
    store.set_settings(&profile, settings)?;
    let body = settings_answer(&state, &store.settings(&profile), &store.title(&profile));
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /mock/stats`: how many `POST /api/post` requests the mock has received with an accepted
/// key (even under `--forget`, which remembers no post), so that a load test can check that
/// every request its client answered reached the mock exactly once.
pub(super) async fn stats(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    authenticate(&state.config, &headers)?;
    let received = state
        .posts_received
        .load(std::sync::atomic::Ordering::Relaxed);
    Ok(json_response(
        StatusCode::OK,
        &json!({"posts_received": received}),
    ))
}

/// `GET /mock/profiles/{profile_key}`: the profile's settings as they apply.
pub(super) async fn get_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<RawPathParams, RawPathParamsRejection>,
) -> Result<Response, Response> {
    authenticate(&state.config, &headers)?;
    let profile = Profile::keyed(&path_id(params)?);
    let store = state.store();
    let body = settings_answer(&state, &store.settings(&profile), &store.title(&profile));
    Ok(json_response(StatusCode::OK, &body))
}

fn settings_answer(state: &AppState, settings: &ProfileSettings, title: &str) -> Value {
    json!({
        "status": "success",
        // What applies: the profile's own setting, else the --wrap-profile-answers default.
        "wrap_answers": settings.wrap_answers.unwrap_or(state.config.wrap_profile_answers),
        "title": title,
    })
}

fn parse_settings(body: &Value) -> Result<ProfileSettings, ApiError> {
    let fields = body.as_object().ok_or_else(|| {
        ApiError::mock(format!(
            "the body must be a JSON object with {SETTING_KEYS}"
        ))
    })?;
    let mut settings = ProfileSettings::default();
    for (key, value) in fields {
        match (key.as_str(), value) {
            (_, Value::Null) => {}
            ("wrap_answers", Value::Bool(wrap)) => settings.wrap_answers = Some(*wrap),
            ("title", Value::String(title)) if title.len() <= 200 => {
                settings.title = Some(title.clone());
            }
            // Ignored like the SDKs' `source` elsewhere.
            ("source", _) => {}
            _ => {
                return Err(ApiError::mock(format!(
                    "invalid profile setting {key:?}: known settings are {SETTING_KEYS} \
                     (titles up to 200 bytes)"
                )));
            }
        }
    }
    Ok(settings)
}
