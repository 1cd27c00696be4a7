//! Ayrshare's profile routes: `POST`/`GET /api/profiles`, `DELETE /api/profiles/social` and
//! `GET /api/user`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::AppState;
use super::accounts::{Change, MAX_TITLE_LEN, SocialEvent, Source};
use super::handlers::{admit, admit_json, admit_marked};
use super::platforms::Platform;
use super::profile::Profile;
use super::reply::{ApiError, json_response};

/// How many profiles `GET /api/profiles` lists without `limit`.
const PROFILES_DEFAULT_LIMIT: usize = 25;

/// The most profiles `GET /api/profiles` lists at once.
const PROFILES_MAX_LIMIT: usize = 1_000;

/// `POST /api/profiles` (also `/api/profiles/profile` and `/api/profiles/create-profile`, the
/// SDKs' paths) `{"title", ...}`: creates a User Profile and shows its key, this once.
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (parsed, _) = admit_marked(&state, &headers, body, "title").await?;
    let parsed = parsed?;
    let title = match parsed.get("title") {
        Some(Value::String(title)) if !title.trim().is_empty() && title.len() <= MAX_TITLE_LEN => {
            title.clone()
        }
        _ => {
            return Err(ApiError::bad_parameter(format!(
                "Missing or incorrect title parameter. Please send a non-empty title of at most {MAX_TITLE_LEN} characters."
            ))
            .into());
        }
    };
    let now = state.now();
    let mut store = state.store();
    let mut rng = rand::rng();
    let profile = store.accounts.register(&title, now, &mut rng)?;
    let body = json!({
        "status": "success",
        "title": title,
        "refId": profile.ref_id(),
        "profileKey": profile.key(),
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/profiles?title=&refId=&limit=&cursor=`: the created profiles, never their keys.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Response> {
    admit(&state, &headers, None).await?;
    let title = query_param(&uri, "title");
    let ref_id = query_param(&uri, "refId");
    let limit = query_param(&uri, "limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .map_or(PROFILES_DEFAULT_LIMIT, |limit| {
            limit.clamp(1, PROFILES_MAX_LIMIT)
        });
    let cursor = match query_param(&uri, "cursor") {
        None => None,
        Some(cursor) => Some(cursor.parse::<u64>().map_err(|_| {
            ApiError::bad_parameter(
                "Incorrect cursor parameter. Please send the nextCursor of the previous page.",
            )
        })?),
    };
    let body = state
        .store()
        .accounts
        .list(title.as_deref(), ref_id.as_deref(), limit, cursor);
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /api/profiles/social` `{"platform"}`: unlinks the network from the `Profile-Key`'s
/// profile, or from the Primary Profile without one, as Ayrshare does. 200 even if nothing was
/// linked.
pub(super) async fn unlink(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let parsed = admit_json(&state, &headers, body).await?;
    let platform = parsed
        .get("platform")
        .and_then(Value::as_str)
        .and_then(Platform::from_name)
        .ok_or_else(|| {
            ApiError::bad_parameter(format!(
                "Missing or incorrect platform parameter. Please send one platform name: {}.",
                super::platforms::valid_names()
            ))
        })?;
    // Ayrshare reads the profile from the header only: a `profileKey` in the body (the npm SDK
    // sends one) changes nothing.
    let profile = Profile::from_headers(&headers);
    let now = state.now();
    let mut store = state.store();
    if let Some(account) = store.accounts.unlink(&profile, platform)? {
        store.announce_social(SocialEvent {
            profile: profile.clone(),
            account,
            change: Change::Unlink,
            source: Source::User,
            at: now,
        });
    }
    let body = json!({"status": "success", "platform": platform.name(), "refId": profile.ref_id()});
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/user`: the profile's linked accounts.
pub(super) async fn user(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    admit(&state, &headers, None).await?;
    let profile = Profile::from_headers(&headers);
    let store = state.store();
    let active = store.accounts.active(&profile);
    let body = json!({
        "activeSocialAccounts": active.iter().map(|a| a.platform.name()).collect::<Vec<_>>(),
        "displayNames": active.iter().map(super::accounts::Account::to_json).collect::<Vec<_>>(),
        "refId": profile.ref_id(),
        "title": store.title(&profile),
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// The percent-decoded first value of query parameter `name`.
pub(super) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode(value))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(high), Some(low)) => {
                    // Two hex digits make one byte: high * 16 + low < 256.
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
