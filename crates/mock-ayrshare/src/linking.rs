//! Linking social accounts: `POST /api/profiles/generateJWT` hands out a URL on the mock itself,
//! whose plain HTML page (`/link/{token}`) links or unlinks demo accounts, as a person or a
//! headless browser would on Ayrshare's page.

use std::collections::{HashMap, VecDeque};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, RawPathParamsRejection};
use axum::extract::{RawPathParams, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Map, Value, json};

use super::AppState;
use super::accounts::{Change, SocialEvent, Source};
use super::handlers::{admit_json, unreadable_body};
use super::platforms::Platform;
use super::profile::Profile;
use super::reply::{ApiError, json_response};
use super::webhook;

/// How long a linking URL lives when `expiresIn` is not sent, in minutes (Ayrshare's default).
const DEFAULT_EXPIRES_MIN: i64 = 5;

/// The longest `expiresIn` accepted, in minutes (30 days).
const MAX_EXPIRES_MIN: i64 = 43_200;

/// The most linking URLs alive at once; past it the oldest stops working.
const MAX_LINKS: usize = 10_000;

/// The longest string field accepted in a `generateJWT` body, in bytes.
const MAX_FIELD_LEN: usize = 8_192;

/// One linking page.
#[derive(Clone, Debug)]
struct Link {
    profile: Profile,
    domain: String,
    redirect: Option<String>,
    expires: DateTime<Utc>,
}

/// The linking pages handed out, by token.
#[derive(Default)]
pub(super) struct Links {
    by_token: HashMap<String, Link>,
    order: VecDeque<String>,
}

impl Links {
    fn insert(&mut self, token: String, link: Link) {
        while self.order.len() >= MAX_LINKS {
            if let Some(oldest) = self.order.pop_front() {
                self.by_token.remove(&oldest);
            }
        }
        self.order.push_back(token.clone());
        self.by_token.insert(token, link);
    }

    /// The page of `token` if it is alive at `now`; else the HTTP status and message of the
    /// error page.
    fn alive(&self, token: &str, now: DateTime<Utc>) -> Result<&Link, (StatusCode, &'static str)> {
        match self.by_token.get(token) {
            None => Err((
                StatusCode::NOT_FOUND,
                "This linking link is not valid. Ask for a new one.",
            )),
            Some(link) if link.expires <= now => Err((
                StatusCode::GONE,
                "This linking link has expired. Ask for a new one.",
            )),
            Some(link) => Ok(link),
        }
    }

    /// Forgets the pages of `profile`.
    pub(super) fn forget(&mut self, profile: &Profile) {
        self.by_token.retain(|_, link| &link.profile != profile);
        self.order.retain(|token| self.by_token.contains_key(token));
    }
}

/// `POST /api/profiles/generateJWT` `{domain, privateKey, profileKey, redirect?, expiresIn?}`.
pub(super) async fn generate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let parsed = admit_json(&state, &headers, body).await?;
    let fields = parsed.as_object().ok_or_else(|| {
        ApiError::bad_parameter(
            "Missing or incorrect parameters. The request body must be a JSON object.",
        )
    })?;
    let domain = required(fields, "domain")?;
    let private_key = required(fields, "privateKey")?;
    if let Some(expected) = &state.config.link_private_key {
        if &private_key != expected {
            return Err(ApiError::bad_parameter(
                "Incorrect privateKey parameter. Please send the private key of your domain.",
            )
            .into());
        }
    }
    let profile_key = required(fields, "profileKey")?;
    let redirect = match fields.get("redirect") {
        None | Some(Value::Null) => None,
        Some(Value::String(url))
            if webhook::check_url(url).is_ok() && url.len() <= MAX_FIELD_LEN =>
        {
            Some(url.clone())
        }
        Some(_) => {
            return Err(ApiError::bad_parameter(
                "Incorrect redirect parameter. Please send an http:// or https:// URL.",
            )
            .into());
        }
    };
    let minutes = match fields.get("expiresIn") {
        None | Some(Value::Null) => DEFAULT_EXPIRES_MIN,
        Some(value) => value
            .as_i64()
            .filter(|minutes| (1..=MAX_EXPIRES_MIN).contains(minutes))
            .ok_or_else(|| {
                ApiError::bad_parameter(format!(
                    "Incorrect expiresIn parameter. Please send a number of minutes from 1 to {MAX_EXPIRES_MIN}."
                ))
            })?,
    };
    let now = state.now();
    let mut store = state.store();
    let token: String = (0..40)
        .map(|_| char::from(store.rng().sample(Alphanumeric)))
        .collect();
    store.links.insert(
        token.clone(),
        Link {
            profile: Profile::keyed(&profile_key),
            domain,
            redirect,
            expires: now + TimeDelta::minutes(minutes),
        },
    );
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        // A host name or address with its port, nothing that could break out of a URL.
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    let body = json!({
        "status": "success",
        "token": token,
        "url": format!("http://{host}/link/{token}"),
        "expiresIn": minutes,
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn required(fields: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match fields.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= MAX_FIELD_LEN => {
            Ok(text.clone())
        }
        _ => Err(ApiError::bad_parameter(format!(
            "Missing or incorrect {key} parameter. Please send a non-empty string."
        ))),
    }
}

/// `GET /link/{token}`: the linking page, one button per network.
pub(super) async fn page(
    State(state): State<AppState>,
    params: Result<RawPathParams, RawPathParamsRejection>,
) -> Response {
    let Some(token) = token(params) else {
        return error_page(StatusCode::NOT_FOUND, "This linking link is not valid.");
    };
    let store = state.store();
    match store.links.alive(&token, state.now()) {
        Ok(link) => {
            let linked: Vec<Platform> = store
                .accounts
                .accounts(&link.profile)
                .iter()
                .map(|account| account.platform)
                .collect();
            let title = store.title(&link.profile);
            html(StatusCode::OK, &linking_page(&token, link, &title, &linked))
        }
        Err((http, message)) => error_page(http, message),
    }
}

/// `POST /link/{token}` with `link=<platform>` or `unlink=<platform>` (the page's buttons):
/// changes the link, sends the `social` webhook, then redirects to `redirect` if one was given.
pub(super) async fn submit(
    State(state): State<AppState>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let bytes = body.map_err(unreadable_body)?;
    let Some(token) = token(params) else {
        return Err(error_page(
            StatusCode::NOT_FOUND,
            "This linking link is not valid.",
        ));
    };
    let form = String::from_utf8_lossy(&bytes);
    let (change, platform) = form
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| {
            let change = match key {
                "link" => Change::Link,
                "unlink" => Change::Unlink,
                _ => return None,
            };
            Some((change, Platform::from_name(value.trim())?))
        })
        .ok_or_else(|| {
            error_page(
                StatusCode::BAD_REQUEST,
                "Pick a network: send link=<platform> or unlink=<platform>.",
            )
        })?;
    let now = state.now();
    let mut store = state.store();
    let link = store
        .links
        .alive(&token, now)
        .map_err(|(http, message)| error_page(http, message))?
        .clone();
    let account = match change {
        Change::Link => Some(store.accounts.link(&link.profile, platform, now)?),
        Change::Unlink => store.accounts.unlink(&link.profile, platform)?,
    };
    if let Some(account) = account {
        store.announce_social(SocialEvent {
            profile: link.profile.clone(),
            account,
            change,
            source: Source::User,
            at: now,
        });
    }
    drop(store);
    let verb = if change == Change::Link {
        "linked"
    } else {
        "unlinked"
    };
    if let Some(redirect) = link.redirect {
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, redirect)]).into_response());
    }
    let body = format!(
        "<h1 id=\"link-done\">{} {verb}</h1>\n<p id=\"link-result\" data-platform=\"{}\" data-change=\"{verb}\">{} is {verb}.</p>\n<p><a id=\"link-back\" href=\"/link/{}\">Back to the accounts</a></p>",
        escape(platform.display_name()),
        platform.name(),
        escape(platform.display_name()),
        escape(&token),
    );
    Ok(html(StatusCode::OK, &document("Account linked", &body)))
}

fn token(params: Result<RawPathParams, RawPathParamsRejection>) -> Option<String> {
    params
        .ok()
        .and_then(|params| params.iter().next().map(|(_, token)| token.to_owned()))
}

fn linking_page(token: &str, link: &Link, title: &str, linked: &[Platform]) -> String {
    let mut rows = String::new();
    for platform in Platform::ALL {
        let name = platform.name();
        let display = escape(platform.display_name());
        let button = if linked.contains(&platform) {
            format!(
                "<button type=\"submit\" name=\"unlink\" value=\"{name}\" id=\"unlink-{name}\">Unlink {display}</button>"
            )
        } else {
            format!(
                "<button type=\"submit\" name=\"link\" value=\"{name}\" id=\"link-{name}\">Link {display}</button>"
            )
        };
        let state = if linked.contains(&platform) {
            "linked"
        } else {
            "not linked"
        };
        rows.push_str(&format!(
            "<li id=\"platform-{name}\" data-linked=\"{}\">{display}: <span id=\"state-{name}\">{state}</span> {button}</li>\n",
            linked.contains(&platform)
        ));
    }
    let body = format!(
        "<h1 id=\"link-title\">Link social accounts</h1>\n<p>Profile <strong id=\"profile-title\">{}</strong> for <span id=\"link-domain\">{}</span>. Demo accounts only: nothing is linked on any network.</p>\n<form id=\"link-form\" method=\"post\" action=\"/link/{}\">\n<ul>\n{rows}</ul>\n</form>",
        escape(title),
        escape(&link.domain),
        escape(token),
    );
    document("Link social accounts", &body)
}

fn error_page(http: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>Cannot link accounts</h1>\n<p id=\"link-error\" data-status=\"{}\">{}</p>",
        http.as_u16(),
        escape(message)
    );
    html(http, &document("Cannot link accounts", &body))
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{} (mock Ayrshare)</title></head>\n<body>\n{body}\n</body>\n</html>\n",
        escape(title)
    )
}

fn html(http: StatusCode, page: &str) -> Response {
    (
        http,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.to_owned(),
    )
        .into_response()
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
