//! The HTTP handlers of the mock's routes and the checks every route shares.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, RawPathParamsRejection};
use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde_json::{Value, json};

use super::analytics;
use super::journal;
use super::post;
use super::profile::Profile;
use super::reply::{self, ApiError, CODE_INVALID_POST, DEFAULT_RATE_LIMIT_MAX, json_response};
use super::scenario::{self, Choice, Scenario};
use super::store::{self, DEFAULT_SCHEDULE_DELAY, Hold, Store};
use super::validate::{self, DeleteTarget};
use super::{AppState, MockConfig};

/// How many posts `GET /api/history` lists when no `limit` is given, as Ayrshare does.
const HISTORY_DEFAULT_LIMIT: usize = 25;

/// The most posts `GET /api/history` lists at once.
const HISTORY_MAX_LIMIT: usize = 1_000;

/// `POST /api/post`: checks, remembers and publishes, schedules or holds a post.
pub(super) async fn create_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (parsed, choice) = admit_marked(&state, &headers, body, "post").await?;
    state
        .posts_received
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scenario = choice.scenario;
    let mut request = validate::check_post(&parsed?)?;
    let now = state.now();
    if scenario == Scenario::Scheduled && request.schedule_date.is_none() {
        request.schedule_date = Some(now + DEFAULT_SCHEDULE_DELAY);
    }
    let hold = if request.requires_approval {
        Hold::Approval
    } else {
        scenario.hold()
    };
    let profile = Profile::from_headers(&headers);
    if state.config.forget {
        return Ok(answer_unremembered(
            &state, &profile, request, choice, hold, now,
        ));
    }
    let mut store = state.store();
    let wrap = choice.wrap.unwrap_or_else(|| {
        store
            .settings(&profile)
            .wrap_answers
            .unwrap_or(state.config.wrap_profile_answers && profile.key().is_some())
    });
    if let Some(refused) = store.suspension(&profile, &request.platforms) {
        return Err(refused.into());
    }
    let title = store.title(&profile);
    let post = store.create(&profile, request, scenario.outcome(), hold, now)?;
    let (mut http, mut body) = post.creation_answer(&title);
    let id = post.id.clone();
    tracing::info!(
        %id,
        status = post.status.as_str(),
        ?scenario,
        "mock ayrshare remembered a post"
    );
    if scenario == Scenario::Deleted {
        store.delete(&profile, &id)?;
    }
    drop(store);
    // The timer may be asleep until a later post: this one may be due sooner.
    state.wake.notify_one();
    if wrap {
        (http, body) = post::wrap(http, body);
    }
    Ok(json_response(http, &body))
}

/// `--forget`: the answer `create_post` would give, without touching the store (no idempotency
/// key, nothing remembered, no lock), so that a load benchmark measures its client, not the mock.
fn answer_unremembered(
    state: &AppState,
    profile: &Profile,
    request: validate::PostRequest,
    choice: Choice,
    hold: Hold,
    now: chrono::DateTime<chrono::Utc>,
) -> Response {
    let post = store::unremembered(profile, request, choice.scenario.outcome(), hold, now);
    let title = profile.default_title();
    let (mut http, mut body) = post.creation_answer(&title);
    let wrap = choice
        .wrap
        .unwrap_or(state.config.wrap_profile_answers && profile.key().is_some());
    if wrap {
        (http, body) = post::wrap(http, body);
    }
    json_response(http, &body)
}

/// `GET /api/post/{id}` and `GET /api/history/{id}`: the status of one remembered post.
pub(super) async fn get_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<RawPathParams, RawPathParamsRejection>,
) -> Result<Response, Response> {
    admit(&state, &headers, None).await?;
    let id = path_id(params)?;
    let profile = Profile::from_headers(&headers);
    let mut store = state.store();
    store.publish_due(state.now());
    let title = store.title(&profile);
    let body = store.get(&profile, &id)?.status_answer(&title);
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/history`: the profile's remembered posts, newest first; with `startDate` and/or
/// `endDate`, only those whose publish date (`scheduleDate` for a scheduled post, else
/// `created`) lies between them (both included), newest publish date first.
pub(super) async fn list_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Response> {
    admit(&state, &headers, None).await?;
    // Unknown parameters (like the SDKs' `source`) are ignored.
    let param = |name: &str| query_param(&uri, name);
    let limit = param("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .map_or(HISTORY_DEFAULT_LIMIT, |limit| {
            limit.clamp(1, HISTORY_MAX_LIMIT)
        });
    // `awaiting approval` arrives as `awaiting+approval` or `awaiting%20approval`.
    let status = param("status").map(|status| status.replace("%20", " ").replace('+', " "));
    let dates = match (
        history_date(&uri, "startDate"),
        history_date(&uri, "endDate"),
    ) {
        (Ok(from), Ok(until)) => (from, until),
        (Err(error), _) | (_, Err(error)) => return Err(error.into_response()),
    };
    let profile = Profile::from_headers(&headers);
    let mut store = state.store();
    store.publish_due(state.now());
    let title = store.title(&profile);
    let posts = match dates {
        (None, None) => store.history(&profile, status.as_deref(), limit),
        (from, until) => store.history_between(&profile, status.as_deref(), from, until, limit),
    };
    let posts: Vec<Value> = posts
        .into_iter()
        .map(|post| post.status_answer(&title))
        .collect();
    Ok(json_response(StatusCode::OK, &Value::from(posts)))
}

/// `/history`'s `startDate` or `endDate`: a UTC time as Ayrshare writes it
/// (`2026-07-08T12:30:00Z`; the docs' examples also drop the `Z`), or a day (`2026-07-08`,
/// its start). Percent-encoded as a client sends it.
fn history_date(uri: &Uri, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    // The URL type the mock's HTTP client already brings decodes the query as clients encode it.
    let query = uri.query().unwrap_or_default();
    let url = reqwest::Url::parse(&format!("http://mock.invalid/?{query}"))
        .map_err(|_| ApiError::bad_parameter("The query string cannot be read."))?;
    let Some(text) = url
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.trim().to_owned())
    else {
        return Ok(None);
    };
    let parsed = DateTime::parse_from_rfc3339(&text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|at| at.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .ok()
                .map(|day| day.and_time(NaiveTime::MIN).and_utc())
        });
    match parsed {
        Some(at) => Ok(Some(at)),
        None => Err(ApiError::bad_parameter(format!(
            "Incorrect {name} parameter {text}. Please send a UTC date in the format \
             YYYY-MM-DDThh:mm:ssZ, for example 2026-07-08T12:30:00Z."
        ))),
    }
}

/// `DELETE /api/post` and `DELETE /api/delete`: deletes one post (`id`) or several (`bulk`),
/// optionally only marking them deleted (`markManualDeleted`).
pub(super) async fn delete_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let parsed = admit_json(&state, &headers, body).await?;
    let target = validate::check_delete(&parsed)?;
    let manual = validate::mark_manual_deleted(&parsed);
    let profile = Profile::from_headers(&headers);
    let mut store = state.store();
    // A post whose time has come was published before the delete arrived.
    store.publish_due(state.now());
    let body = match target {
        DeleteTarget::One(id) => store.delete_post(&profile, &id, manual)?,
        DeleteTarget::Bulk(ids) => delete_bulk(&mut store, &profile, &ids, manual),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// Deletes each id it can and reports every one; the top-level status is `error` if any failed.
fn delete_bulk(store: &mut Store, profile: &Profile, ids: &[String], manual: bool) -> Value {
    let results: Vec<Value> = ids
        .iter()
        .map(|id| match store.delete_post(profile, id, manual) {
            Ok(answer) => answer,
            Err(error) => {
                let mut entry = error.body();
                entry["id"] = json!(id);
                entry
            }
        })
        .collect();
    let all_deleted = results.iter().all(|result| result["status"] == "success");
    let status = if all_deleted { "success" } else { "error" };
    json!({"status": status, "bulk": results})
}

/// `PATCH /api/post` (and `PUT`, which the SDKs send): updates a post still pending, paused or
/// awaiting approval.
pub(super) async fn update_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (id, update) = validate::check_update(&admit_json(&state, &headers, body).await?)?;
    let profile = Profile::from_headers(&headers);
    let now = state.now();
    let mut store = state.store();
    store.publish_due(now);
    let post = store.update(&profile, &id, update, now)?;
    let mut body = json!({
        "status": "success",
        "id": post.id,
        "postStatus": post.status.as_str(),
    });
    if let Some(date) = post.schedule_date {
        body["scheduleDate"] = json!(post::format_time(date));
    }
    drop(store);
    // A new scheduleDate may fall due before the timer's next look.
    state.wake.notify_one();
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/analytics/post`: the numbers of a published post per network.
pub(super) async fn post_analytics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (id, platforms) = validate::check_analytics(&admit_json(&state, &headers, body).await?)?;
    let profile = Profile::from_headers(&headers);
    let now = state.now();
    let mut store = state.store();
    store.publish_due(now);
    let (http, body) = analytics::answer(store.get(&profile, &id)?, platforms, now)?;
    Ok(json_response(http, &body))
}

/// The JSON 404 for every path the mock does not serve.
pub(super) async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::route_not_found(method.as_str(), uri.path())
}

/// The JSON 405 for a known path called with another method.
pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(method.as_str(), uri.path())
}

/// Middleware: counts the request against its profile's 5-minute window, refuses it with 429
/// past [`MockConfig::rate_limit_max`], and adds Ayrshare's rate-limit headers.
///
/// Only requests whose API key is accepted are counted (whatever their answer); the others get
/// the profile's count so far and leave nothing behind, so a flood of refused requests with
/// fresh `Profile-Key`s cannot grow the mock's memory. The mock's own `/mock` routes, and every
/// route when the limit is off (`0`, or `--forget`), are neither counted nor limited; nor is
/// the linking page (`/link/`), which a browser opens without a key.
pub(super) async fn rate_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let max = state.config.rate_limit_max;
    let path = request.uri().path();
    if max == 0 || state.config.forget || path.starts_with("/mock/") || path.starts_with("/link/") {
        return next.run(request).await;
    }
    let profile = Profile::from_headers(request.headers());
    let now = state.now();
    let count = if authenticate(&state.config, request.headers()).is_ok() {
        let counted = state.store().count_request(&profile, now);
        if counted.count > max {
            let seconds = (counted.window_end - now).num_seconds().max(1);
            let retry_after = u64::try_from(seconds).unwrap_or(1);
            tracing::info!(
                count = counted.count,
                max,
                "mock ayrshare refused a request over the rate limit"
            );
            return reply::rate_limited(retry_after, max, counted.count);
        }
        counted.count
    } else {
        state.store().current_count(&profile, now)
    };
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    tracing::debug!(%method, %path, status = response.status().as_u16(), "mock ayrshare answered");
    // Answers that set their own values (the `rate_limit` scenario) keep them.
    let headers = response.headers_mut();
    headers
        .entry("x-ratelimit-max")
        .or_insert(HeaderValue::from(max));
    headers
        .entry("x-ratelimit-count")
        .or_insert(HeaderValue::from(count));
    response
}

/// The checks every route makes first: the scenario, its simulated failures, then the API key.
pub(super) async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    post_text: Option<&str>,
) -> Result<Choice, Response> {
    let choice = scenario::choose(headers, post_text)?;
    match choice.scenario {
        Scenario::Unauthorized => return Err(ApiError::unauthorized().into()),
        Scenario::RateLimit(retry_after) => {
            let max = match state.config.rate_limit_max {
                0 => DEFAULT_RATE_LIMIT_MAX,
                max => max,
            };
            return Err(reply::rate_limited(retry_after, max, max));
        }
        Scenario::ServerError => return Err(reply::server_error()),
        Scenario::NotJson => return Err(reply::bad_gateway_html()),
        // The request is carried out now; the answer is delayed or withheld afterwards.
        Scenario::Slow(delay) => journal::delay_answer(delay),
        Scenario::Lost(hold) => journal::lose_answer(hold),
        Scenario::Success
        | Scenario::Scheduled
        | Scenario::Partial
        | Scenario::Duplicate
        | Scenario::Approval
        | Scenario::Processing(_)
        | Scenario::Paused
        | Scenario::Deleted => {}
    }
    authenticate(&state.config, headers)?;
    // A suspended User Profile is refused everywhere (benchmark mode does not lock the store).
    if !state.config.forget
        && state
            .store()
            .accounts
            .suspended(&Profile::from_headers(headers))
    {
        return Err(super::faults::Fault::suspended(None).into());
    }
    Ok(choice)
}

/// The checks a route with a JSON body makes first, when the body names no scenario: the body
/// was read, the caller is admitted (see [`admit`]), the body is JSON. Answers the parsed body.
pub(super) async fn admit_json(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, Response> {
    let bytes = body.map_err(unreadable_body)?;
    admit(state, headers, None).await?;
    Ok(validate::parse_body(&bytes)?)
}

/// The checks a route makes first when its body may carry the scenario marker (in `field`: a
/// post's text, a comment, a profile's title): the body was read, the caller is admitted with
/// the marker the body names (a body that is not JSON names none). The body's parse is answered
/// whatever it gave, for the route to refuse a bad body in its own turn.
pub(super) async fn admit_marked(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    field: &str,
) -> Result<(Result<Value, ApiError>, Choice), Response> {
    let bytes = body.map_err(unreadable_body)?;
    let parsed = validate::parse_body(&bytes);
    let marker = parsed
        .as_ref()
        .ok()
        .and_then(|body| body.get(field))
        .and_then(Value::as_str);
    let choice = admit(state, headers, marker).await?;
    Ok((parsed, choice))
}

/// Accepts `Authorization: Bearer <key>`: the configured key, or any non-empty key without one.
pub(super) fn authenticate(config: &MockConfig, headers: &HeaderMap) -> Result<(), ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_key);
    match (key, config.api_key.as_deref()) {
        (Some(key), Some(expected)) if key == expected => Ok(()),
        (Some(_), None) => Ok(()),
        _ => Err(ApiError::unauthorized()),
    }
}

fn bearer_key(value: &str) -> Option<&str> {
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// The `{id}` of the route; ids that do not decode to UTF-8 cannot exist.
pub(super) fn path_id(
    params: Result<RawPathParams, RawPathParamsRejection>,
) -> Result<String, ApiError> {
    params
        .ok()
        .and_then(|params| params.iter().next().map(|(_, id)| id.to_owned()))
        .ok_or_else(|| ApiError::post_not_found("(undecodable id)"))
}

/// The first value of query parameter `name`. Values are not percent-decoded: the only
/// parameters read (`limit`, `status`) are plain ASCII words.
fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

pub(super) fn unreadable_body(rejection: BytesRejection) -> Response {
    ApiError::unreadable_body(rejection.status(), &rejection.body_text()).into_response()
}

/// `PUT /api/post/retry` `{"id"}`: sends a failed post again, once; it reads `pending` until the
/// mock's timer publishes it (see [`store::RETRY_DELAY`]), with a `scheduled` webhook.
pub(super) async fn retry_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let id = validate::check_retry(&admit_json(&state, &headers, body).await?)?;
    let profile = Profile::from_headers(&headers);
    let now = state.now();
    let mut store = state.store();
    store.publish_due(now);
    let post = store.retry(&profile, &id, now)?;
    let body = json!({"status": "success", "id": post.id, "postStatus": post.status.as_str()});
    drop(store);
    state.wake.notify_one();
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/validate/post`: the checks of `POST /api/post` on its body, with nothing stored or
/// sent; the networks the post would fail on (faults, unlinked accounts) come as `warnings`.
pub(super) async fn validate_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let bytes = body.map_err(unreadable_body)?;
    admit(&state, &headers, None).await?;
    let request = match validate::parse_body(&bytes).and_then(|body| validate::check_post(&body)) {
        Ok(request) => request,
        Err(error) => {
            let body = json!({
                "action": "post",
                "status": "error",
                "code": CODE_INVALID_POST,
                "message": error.message,
            });
            return Ok(json_response(StatusCode::BAD_REQUEST, &body));
        }
    };
    let profile = Profile::from_headers(&headers);
    let store = state.store();
    let warnings: Vec<Value> = request
        .platforms
        .iter()
        .filter_map(|&platform| {
            let fault = store.accounts.block(&profile, platform)?;
            let entry = fault.error_entry("post", platform);
            Some(json!({"code": entry["code"], "message": entry["message"], "platform": entry["platform"]}))
        })
        .collect();
    let mut body = json!({
        "status": "success",
        "message": "Post validated: it passes the checks of POST /post. Nothing was posted.",
    });
    if !warnings.is_empty() {
        body["warnings"] = Value::from(warnings);
    }
    Ok(json_response(StatusCode::OK, &body))
}
