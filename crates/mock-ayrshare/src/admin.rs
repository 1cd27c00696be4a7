//! The mock's own control routes under `/mock` (not Ayrshare's): per-profile settings and
//! faults, reset, the clock, the request journal, dropped tokens and the request counter.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, RawPathParamsRejection};
use axum::extract::{RawPathParams, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::AppState;
use super::accounts::{Change, SocialEvent, Source};
use super::faults::{self, Fault};
use super::handlers::{authenticate, path_id, unreadable_body};
use super::platforms::Platform;
use super::post::format_time;
use super::profile::{Profile, ProfileSettings};
use super::profile_routes::query_param;
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
    let body = settings_answer(
        &state,
        &store.settings(&profile),
        &store.title(&profile),
        &store.accounts.faults(&profile),
    );
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
    let body = settings_answer(
        &state,
        &store.settings(&profile),
        &store.title(&profile),
        &store.accounts.faults(&profile),
    );
    Ok(json_response(StatusCode::OK, &body))
}

fn settings_answer(
    state: &AppState,
    settings: &ProfileSettings,
    title: &str,
    faults: &faults::Faults,
) -> Value {
    json!({
        "status": "success",
        // What applies: the profile's own setting, else the --wrap-profile-answers default.
        "wrap_answers": settings.wrap_answers.unwrap_or(state.config.wrap_profile_answers),
        "title": title,
        "faults": faults::to_json(faults),
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

/// The two path parameters of a route like `/mock/profiles/{profile_key}/faults/{platform}`.
fn two_params(
    params: Result<RawPathParams, RawPathParamsRejection>,
) -> Result<(String, String), ApiError> {
    let params = params.map_err(|_| ApiError::mock("the path does not decode to UTF-8"))?;
    let mut values = params.iter().map(|(_, value)| value.to_owned());
    match (values.next(), values.next()) {
        (Some(first), Some(second)) => Ok((first, second)),
        _ => Err(ApiError::mock(
            "the path needs a profile key and a platform",
        )),
    }
}

/// `PUT /mock/profiles/{profile_key}/faults/{platform}` `{"fault": "expired_token"}`: the fault
/// stays until cleared. `{platform}` is an Ayrshare platform name or `all`.
pub(super) async fn put_fault(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<RawPathParams, RawPathParamsRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let bytes = body.map_err(unreadable_body)?;
    authenticate(&state.config, &headers)?;
    let (key, target) = two_params(params)?;
    let target = faults::parse_target(&target)?;
    let fault = validate::parse_body(&bytes)?
        .get("fault")
        .and_then(Value::as_str)
        .map(Fault::parse)
        .transpose()?
        .ok_or_else(|| ApiError::mock("the body must be {\"fault\": \"<name>\"}: not_linked, rate_limited, expired_token or suspended"))?;
    let profile = Profile::keyed(&key);
    let mut store = state.store();
    store.accounts.set_fault(&profile, target, Some(fault))?;
    let body =
        json!({"status": "success", "faults": faults::to_json(&store.accounts.faults(&profile))});
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /mock/profiles/{profile_key}/faults/{platform}`: clears that fault (`all` clears only
/// the profile-wide one).
pub(super) async fn delete_fault(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<RawPathParams, RawPathParamsRejection>,
) -> Result<Response, Response> {
    authenticate(&state.config, &headers)?;
    let (key, target) = two_params(params)?;
    let target = faults::parse_target(&target)?;
    let profile = Profile::keyed(&key);
    let mut store = state.store();
    store.accounts.set_fault(&profile, target, None)?;
    let body =
        json!({"status": "success", "faults": faults::to_json(&store.accounts.faults(&profile))});
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /mock/profiles/{profile_key}/drop/{platform}`: Ayrshare drops a dead token: the network
/// is unlinked and the `social` webhook says `source: system`.
pub(super) async fn drop_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<RawPathParams, RawPathParamsRejection>,
) -> Result<Response, Response> {
    authenticate(&state.config, &headers)?;
    let (key, platform) = two_params(params)?;
    let platform = Platform::from_name(&platform).ok_or_else(|| {
        ApiError::mock(format!(
            "unknown platform {platform:?}: use an Ayrshare platform name ({})",
            super::platforms::valid_names()
        ))
    })?;
    let profile = Profile::keyed(&key);
    let now = state.now();
    let mut store = state.store();
    let dropped = store.accounts.unlink(&profile, platform)?;
    let was_linked = dropped.is_some();
    if let Some(account) = dropped {
        store.announce_social(SocialEvent {
            profile: profile.clone(),
            account,
            change: Change::Unlink,
            source: Source::System,
            at: now,
        });
    }
    let body = json!({
        "status": "success",
        "platform": platform.name(),
        "refId": profile.ref_id(),
        "was_linked": was_linked,
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /mock/reset`: forgets everything (posts, keys, profiles, links, faults, webhooks,
/// comments, the journal, the clock's advance, the counter), or with `{"profile_key": "…"}` (or
/// `{"primary_profile": true}`) everything about that one profile.
pub(super) async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let bytes = body.map_err(unreadable_body)?;
    authenticate(&state.config, &headers)?;
    let parsed = validate::parse_body(&bytes)?;
    let profile = match (parsed.get("profile_key"), parsed.get("primary_profile")) {
        (Some(Value::String(key)), None) if !key.trim().is_empty() => {
            Some(Profile::keyed(key.trim()))
        }
        (None | Some(Value::Null), Some(Value::Bool(true))) => Some(Profile::default()),
        (None | Some(Value::Null), None | Some(Value::Null | Value::Bool(false))) => None,
        _ => {
            return Err(ApiError::mock(
                "the body must be empty, {\"profile_key\": \"<key>\"} or {\"primary_profile\": true}",
            )
            .into());
        }
    };
    match &profile {
        Some(profile) => {
            state.store().forget_profile(profile);
            state.journal().clear(Some(profile));
        }
        None => state.reset(),
    }
    let body = json!({"status": "success", "reset": if profile.is_some() { "profile" } else { "everything" }});
    Ok(json_response(StatusCode::OK, &body))
}

/// The most seconds one `POST /mock/clock` may advance (100 years).
const MAX_ADVANCE_SECS: f64 = 3_155_760_000.0;

/// `POST /mock/clock` `{"advance_secs": N}`: moves the mock's clock forward; posts due by then
/// are published at once and their webhooks sent.
pub(super) async fn advance_clock(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let bytes = body.map_err(unreadable_body)?;
    authenticate(&state.config, &headers)?;
    let seconds = validate::parse_body(&bytes)?
        .get("advance_secs")
        .and_then(Value::as_f64)
        .filter(|secs| secs.is_finite() && (0.0..=MAX_ADVANCE_SECS).contains(secs))
        .ok_or_else(|| {
            ApiError::mock(format!(
                "the body must be {{\"advance_secs\": N}} with N from 0 to {MAX_ADVANCE_SECS}: the clock only moves forward"
            ))
        })?;
    // Bounded above, so the product fits an i64 of milliseconds.
    #[allow(clippy::cast_possible_truncation)]
    let millis = (seconds * 1000.0).round() as i64;
    if !state.advance_clock(millis) {
        return Err(ApiError::mock(
            "the clock cannot be advanced by more than 1000 years in all: reset the mock with POST /mock/reset",
        )
        .into());
    }
    let now = state.now();
    let published = {
        let mut store = state.store();
        store.publish_due(now);
        store.published_ids()
    };
    state.wake.notify_one();
    Ok(json_response(
        StatusCode::OK,
        &clock_answer(&state, Some(published)),
    ))
}

/// `GET /mock/clock`: the mock's time and how far it was advanced.
pub(super) async fn get_clock(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    authenticate(&state.config, &headers)?;
    Ok(json_response(StatusCode::OK, &clock_answer(&state, None)))
}

fn clock_answer(state: &AppState, published: Option<Vec<String>>) -> Value {
    let mut body = json!({
        "status": "success",
        "now": format_time(state.now()),
        "advanced_secs": state.clock_offset_millis() as f64 / 1000.0,
    });
    if let Some(published) = published {
        body["published"] = json!(published);
    }
    body
}

/// The most entries `GET /mock/requests` lists without `limit`.
const REQUESTS_DEFAULT_LIMIT: usize = 1_000;

/// `GET /mock/requests?profile_key=&path=&limit=`: the journal, oldest first.
pub(super) async fn requests(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Response> {
    authenticate(&state.config, &headers)?;
    let profile = match (
        query_param(&uri, "profile_key"),
        query_param(&uri, "primary_profile"),
    ) {
        (Some(key), _) if !key.trim().is_empty() => Some(Profile::keyed(key.trim())),
        (_, Some(flag)) if flag == "true" => Some(Profile::default()),
        _ => None,
    };
    let path = query_param(&uri, "path");
    let limit = query_param(&uri, "limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .unwrap_or(REQUESTS_DEFAULT_LIMIT)
        .max(1);
    let body = state
        .journal()
        .list(profile.as_ref(), path.as_deref(), limit);
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /mock/health`: answers as long as the mock serves (no key needed: for healthchecks).
pub(super) async fn health() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}
