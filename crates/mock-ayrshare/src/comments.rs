//! Comments on remembered posts: `GET /api/comments/{id}`, `POST /api/comments`,
//! `POST /api/comments/reply`, `DELETE /api/comments/{id}`, and the mock's own
//! `POST /mock/comments/{id}`, which adds a comment from the audience for a test to read.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, RawPathParamsRejection};
use axum::extract::{RawPathParams, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::AppState;
use super::accounts::Accounts;
use super::faults::failed_everywhere_status;
use super::handlers::{admit, admit_marked, authenticate, path_id, unreadable_body};
use super::platforms::{self, Platform};
use super::post::{StoredPost, format_time};
use super::profile::Profile;
use super::reply::{ApiError, CODE_COMMENT_REFUSED, CODE_UNKNOWN_POST, json_response};
use super::validate;

/// The networks whose comments Ayrshare reads.
const READ: [Platform; 9] = [
    Platform::Facebook,
    Platform::Instagram,
    Platform::Linkedin,
    Platform::Tiktok,
    Platform::Twitter,
    Platform::Youtube,
    Platform::Threads,
    Platform::Bluesky,
    Platform::Reddit,
];

/// The networks Ayrshare adds comments on: those it reads but Threads.
const ADD: [Platform; 8] = [
    Platform::Facebook,
    Platform::Instagram,
    Platform::Linkedin,
    Platform::Tiktok,
    Platform::Twitter,
    Platform::Youtube,
    Platform::Bluesky,
    Platform::Reddit,
];

/// The networks Ayrshare replies to comments on.
const REPLY: [Platform; 6] = [
    Platform::Facebook,
    Platform::Instagram,
    Platform::Linkedin,
    Platform::Tiktok,
    Platform::Twitter,
    Platform::Youtube,
];

/// The networks that take a media URL with a comment.
const MEDIA: [Platform; 3] = [Platform::Facebook, Platform::Linkedin, Platform::Twitter];

/// The most comments remembered at once, all posts together.
const MAX_COMMENTS: usize = 100_000;

/// The longest comment accepted, in bytes.
const MAX_COMMENT_LEN: usize = 10_000;

/// One comment, or a reply to one.
#[derive(Clone, Debug)]
pub(super) struct Comment {
    comment_id: String,
    platform: Platform,
    text: String,
    created: DateTime<Utc>,
    from_id: String,
    username: String,
    hidden: bool,
    like_count: u64,
    native_post_id: Value,
    /// Sent through the API (so it can be deleted), rather than by the audience.
    sent: bool,
    replies: Vec<Comment>,
}

impl Comment {
    fn to_json(&self) -> Value {
        let mut body = json!({
            "comment": self.text,
            "commentId": self.comment_id,
            "created": format_time(self.created),
            "from": {"id": self.from_id, "username": self.username},
            "hidden": self.hidden,
            "likeCount": self.like_count,
            "platform": self.platform.name(),
            "postId": self.native_post_id,
            "username": self.username,
        });
        if !self.replies.is_empty() {
            body["replies"] = self.replies.iter().map(Comment::to_json).collect();
        }
        body
    }

    fn count(&self) -> usize {
        1 + self.replies.len()
    }
}

/// The comments of every remembered post.
#[derive(Default)]
pub(super) struct Comments {
    /// Top-level comments by Ayrshare post id, oldest first.
    by_post: HashMap<String, Vec<Comment>>,
    /// The post each comment id (replies included) belongs to.
    post_of: HashMap<String, String>,
    count: usize,
}

impl Comments {
    fn make_room(&self, more: usize) -> Result<(), ApiError> {
        if self.count + more > MAX_COMMENTS {
            return Err(ApiError::mock(format!(
                "too many comments (at most {MAX_COMMENTS}): reset the mock with POST /mock/reset"
            )));
        }
        Ok(())
    }

    fn add(&mut self, post_id: &str, comment: Comment) {
        self.post_of
            .insert(comment.comment_id.clone(), post_id.to_owned());
        self.count += 1;
        self.by_post
            .entry(post_id.to_owned())
            .or_default()
            .push(comment);
    }

    /// Adds `reply` under the comment `parent` (under its top-level comment if `parent` is a
    /// reply itself).
    fn add_reply(&mut self, parent: &str, reply: Comment) {
        let Some(post_id) = self.post_of.get(parent).cloned() else {
            return;
        };
        let Some(list) = self.by_post.get_mut(&post_id) else {
            return;
        };
        let top = list.iter_mut().find(|comment| {
            comment.comment_id == parent || comment.replies.iter().any(|r| r.comment_id == parent)
        });
        if let Some(top) = top {
            self.post_of.insert(reply.comment_id.clone(), post_id);
            self.count += 1;
            top.replies.push(reply);
        }
    }

    /// The comment `id` (or reply) and the post it is under.
    fn find(&self, id: &str) -> Option<(&str, &Comment)> {
        let post_id = self.post_of.get(id)?;
        let comment = self.by_post.get(post_id)?.iter().find_map(|comment| {
            if comment.comment_id == id {
                Some(comment)
            } else {
                comment.replies.iter().find(|reply| reply.comment_id == id)
            }
        })?;
        Some((post_id, comment))
    }

    /// Takes out the comments sent through the API under `post_id`, or only the one `id`.
    fn remove_sent(&mut self, post_id: &str, only: Option<&str>) -> Vec<Comment> {
        let Some(list) = self.by_post.get_mut(post_id) else {
            return Vec::new();
        };
        let wanted =
            |comment: &Comment| comment.sent && only.is_none_or(|id| comment.comment_id == id);
        let mut removed = Vec::new();
        for comment in list.iter_mut() {
            let (gone, kept): (Vec<Comment>, Vec<Comment>) =
                comment.replies.drain(..).partition(|reply| wanted(reply));
            comment.replies = kept;
            removed.extend(gone);
        }
        let (gone, kept): (Vec<Comment>, Vec<Comment>) = list.drain(..).partition(|c| wanted(c));
        *list = kept;
        for comment in &gone {
            // The audience's replies under a deleted comment go with it.
            for reply in &comment.replies {
                self.post_of.remove(&reply.comment_id);
                self.count -= 1;
            }
        }
        removed.extend(gone);
        for comment in &removed {
            self.post_of.remove(&comment.comment_id);
            self.count -= 1;
        }
        removed
    }

    /// Forgets the comments of a forgotten post.
    pub(super) fn forget_post(&mut self, post_id: &str) {
        if let Some(list) = self.by_post.remove(post_id) {
            for comment in list {
                self.count -= comment.count();
                self.post_of.remove(&comment.comment_id);
                for reply in comment.replies {
                    self.post_of.remove(&reply.comment_id);
                }
            }
        }
    }
}

/// `GET /api/comments/{id}`: the post's comments by network. A network the post was published on
/// lists its comments (maybe none); a network whose comments Ayrshare does not read is left out.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<RawPathParams, RawPathParamsRejection>,
) -> Result<Response, Response> {
    admit(&state, &headers, None).await?;
    let id = path_id(params)?;
    Ok(answer_list(&state, &headers, &id)?)
}

/// `GET /api/comments?id=…`: the same, as the npm SDK's `getComments` asks.
pub(super) async fn list_by_query(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Response> {
    admit(&state, &headers, None).await?;
    let id = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "id")
        .map(|(_, id)| id.to_owned())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            ApiError::bad_parameter("Missing id parameter. Please send the Ayrshare post id.")
        })?;
    Ok(answer_list(&state, &headers, &id)?)
}

fn answer_list(state: &AppState, headers: &HeaderMap, id: &str) -> Result<Response, ApiError> {
    let profile = Profile::from_headers(headers);
    let mut store = state.store();
    store.publish_due(state.now());
    let post = store.get(&profile, id)?.clone();
    let (comments, _, _) = store.comment_parts();
    let mut body = json!({"status": "success", "id": id});
    let listed = comments.by_post.get(id);
    for platform in &post.platforms {
        if !READ.contains(platform) || post.native_id(*platform).is_none() {
            continue;
        }
        let items: Vec<Value> = listed
            .into_iter()
            .flatten()
            .filter(|comment| comment.platform == *platform)
            .map(Comment::to_json)
            .collect();
        body[platform.name()] = Value::from(items);
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// A checked `POST /api/comments` body.
struct NewComment {
    id: String,
    text: String,
    platforms: Option<Vec<Platform>>,
    media_urls: Vec<String>,
}

fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object().ok_or_else(|| {
        ApiError::bad_parameter(
            "Missing or incorrect parameters. The request body must be a JSON object.",
        )
    })
}

fn text_field(fields: &Map<String, Value>, key: &str, max: usize) -> Result<String, ApiError> {
    match fields.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= max => {
            Ok(text.clone())
        }
        _ => Err(ApiError::bad_parameter(format!(
            "Missing or incorrect {key} parameter. Please send a non-empty string of at most {max} characters."
        ))),
    }
}

fn platforms_field(fields: &Map<String, Value>) -> Result<Option<Vec<Platform>>, ApiError> {
    match fields.get("platforms") {
        None | Some(Value::Null) => Ok(None),
        some => validate::check_platforms(some).map(Some),
    }
}

fn check_comment(body: &Value) -> Result<NewComment, ApiError> {
    let fields = object(body)?;
    let id = text_field(fields, "id", 200)?;
    let text = text_field(fields, "comment", MAX_COMMENT_LEN)?;
    let platforms = platforms_field(fields)?;
    let media_urls = match fields.get("mediaUrls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(urls)) if urls.len() <= 1 => urls
            .iter()
            .map(|url| url.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(media_error)?,
        Some(_) => return Err(media_error()),
    };
    Ok(NewComment {
        id,
        text,
        platforms,
        media_urls,
    })
}

fn media_error() -> ApiError {
    ApiError::bad_parameter(
        "Incorrect mediaUrls parameter. Please send an array with one media URL at most.",
    )
}

fn refusal(platform: Platform, message: String) -> Value {
    json!({
        "action": "comment",
        "status": "error",
        "code": CODE_COMMENT_REFUSED,
        "message": message,
        "platform": platform.name(),
    })
}

/// The username and id a comment sent by `profile` on `platform` comes from.
fn author(accounts: &Accounts, profile: &Profile, platform: Platform) -> (String, String) {
    accounts
        .accounts(profile)
        .into_iter()
        .find(|account| account.platform == platform)
        .map_or_else(
            || ("ayrshare_mock".to_owned(), "1".to_owned()),
            |account| (account.username, account.id),
        )
}

/// The answer to a comment write: one entry per network that took it, `errors` for the rest;
/// HTTP 200 when one took it, else 400 (429 when each refusal was a network rate limit).
fn write_answer(post_id: &str, entries: Vec<(Platform, Value)>, errors: Vec<Value>) -> Response {
    let mut body = json!({
        "status": if errors.is_empty() { "success" } else { "error" },
        "id": post_id,
    });
    let http = if entries.is_empty() {
        failed_everywhere_status(&errors)
    } else {
        StatusCode::OK
    };
    for (platform, entry) in entries {
        body[platform.name()] = entry;
    }
    body["errors"] = Value::from(errors);
    json_response(http, &body)
}

/// The checks every comment write makes on one network, before the faults: refusal if any.
fn refusal_for(
    post: &StoredPost,
    platform: Platform,
    allowed: &[Platform],
    what: &str,
) -> Option<Value> {
    let name = platform.display_name();
    if !allowed.contains(&platform) {
        return Some(refusal(
            platform,
            format!("{name} does not support {what} through the API."),
        ));
    }
    if post.native_id(platform).is_none() {
        return Some(refusal(
            platform,
            format!("The post was not published on {name}: there is nothing to comment on there."),
        ));
    }
    None
}

/// `POST /api/comments` `{id, comment, platforms?, mediaUrls?}`: comments on a published post.
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (parsed, _) = admit_marked(&state, &headers, body, "comment").await?;
    let request = check_comment(&parsed?)?;
    let profile = Profile::from_headers(&headers);
    let now = state.now();
    let mut store = state.store();
    store.publish_due(now);
    let post = store.get(&profile, &request.id)?.clone();
    let platforms = request.platforms.clone().unwrap_or_else(|| {
        post.platforms
            .iter()
            .copied()
            .filter(|&p| ADD.contains(&p) && post.native_id(p).is_some())
            .collect()
    });
    if platforms.is_empty() {
        return Err(ApiError::refused(
            "comment",
            CODE_COMMENT_REFUSED,
            "No network of this post takes comments: it was not published on one that does.",
        )
        .into());
    }
    if let Some(refused) = store.suspension(&profile, &platforms) {
        return Err(refused.into());
    }
    let (comments, accounts, rng) = store.comment_parts();
    comments.make_room(platforms.len())?;
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for platform in platforms {
        if let Some(refused) = refusal_for(&post, platform, &ADD, "comments") {
            errors.push(refused);
            continue;
        }
        if !request.media_urls.is_empty() && !MEDIA.contains(&platform) {
            errors.push(refusal(
                platform,
                "Comment media is supported on Facebook, LinkedIn and X/Twitter only.".to_owned(),
            ));
            continue;
        }
        if let Some(fault) = accounts.block(&profile, platform) {
            errors.push(fault.error_entry("comment", platform));
            continue;
        }
        let comment_id = platforms::comment_id(platform, rng);
        let (username, from_id) = author(accounts, &profile, platform);
        comments.add(
            &post.id,
            Comment {
                comment_id: comment_id.clone(),
                platform,
                text: request.text.clone(),
                created: now,
                from_id,
                username,
                hidden: false,
                like_count: 0,
                native_post_id: post.native_id(platform).cloned().unwrap_or(Value::Null),
                sent: true,
                replies: Vec::new(),
            },
        );
        entries.push((
            platform,
            json!({"status": "success", "commentId": comment_id, "comment": request.text, "platform": platform.name()}),
        ));
    }
    Ok(write_answer(&post.id, entries, errors))
}

/// `POST /api/comments/reply` `{commentId, comment, platforms: [one], videoId?}`: replies to a
/// comment (the audience's or one sent through the API).
pub(super) async fn reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (parsed, _) = admit_marked(&state, &headers, body, "comment").await?;
    let parsed = parsed?;
    let fields = object(&parsed)?;
    let parent = text_field(fields, "commentId", 500)?;
    let text = text_field(fields, "comment", MAX_COMMENT_LEN)?;
    let platform = match platforms_field(fields)?.as_deref() {
        Some([platform]) => *platform,
        _ => {
            return Err(ApiError::bad_parameter(
                "Missing or incorrect platforms parameter. Please send an array with the one platform of the comment.",
            )
            .into());
        }
    };
    if platform == Platform::Tiktok && text_field(fields, "videoId", 500).is_err() {
        return Err(ApiError::bad_parameter(
            "Missing videoId parameter. A reply on TikTok needs the videoId of the post.",
        )
        .into());
    }
    let profile = Profile::from_headers(&headers);
    let now = state.now();
    let mut store = state.store();
    let not_found = || {
        ApiError::not_found_code(
            CODE_UNKNOWN_POST,
            format!("Comment not found: no comment with id {parent:?} exists for this profile."),
        )
    };
    let (post_id, parent_platform, native_post_id) = {
        let (comments, _, _) = store.comment_parts();
        let (post_id, comment) = comments.find(&parent).ok_or_else(not_found)?;
        (
            post_id.to_owned(),
            comment.platform,
            comment.native_post_id.clone(),
        )
    };
    let post = store
        .get(&profile, &post_id)
        .map_err(|_| not_found())?
        .clone();
    if parent_platform != platform {
        return Err(ApiError::bad_parameter(format!(
            "Incorrect platforms parameter: the comment is on {}, not {}.",
            parent_platform.name(),
            platform.name()
        ))
        .into());
    }
    if let Some(refused) = store.suspension(&profile, &[platform]) {
        return Err(refused.into());
    }
    let (comments, accounts, rng) = store.comment_parts();
    comments.make_room(1)?;
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    if let Some(refused) = refusal_for(&post, platform, &REPLY, "replies to comments") {
        errors.push(refused);
    } else if let Some(fault) = accounts.block(&profile, platform) {
        errors.push(fault.error_entry("comment", platform));
    } else {
        let comment_id = platforms::comment_id(platform, rng);
        let (username, from_id) = author(accounts, &profile, platform);
        comments.add_reply(
            &parent,
            Comment {
                comment_id: comment_id.clone(),
                platform,
                text: text.clone(),
                created: now,
                from_id,
                username,
                hidden: false,
                like_count: 0,
                native_post_id,
                sent: true,
                replies: Vec::new(),
            },
        );
        entries.push((
            platform,
            json!({"status": "success", "commentId": comment_id, "sourceCommentId": parent, "comment": text, "platform": platform.name()}),
        ));
    }
    Ok(write_answer(&post_id, entries, errors))
}

/// `DELETE /api/comments/{id}`: deletes every comment sent through the API under the post `id`,
/// or the one comment `id`.
pub(super) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<RawPathParams, RawPathParamsRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    // The body (the SDKs send one) is not read.
    body.map_err(unreadable_body)?;
    admit(&state, &headers, None).await?;
    let id = path_id(params)?;
    let profile = Profile::from_headers(&headers);
    let mut store = state.store();
    let removed = if store.get(&profile, &id).is_ok() {
        let (comments, _, _) = store.comment_parts();
        let removed = comments.remove_sent(&id, None);
        if removed.is_empty() {
            return Err(ApiError::refused(
                "delete",
                CODE_COMMENT_REFUSED,
                "No comment was sent through Ayrshare on this post: there is nothing to delete.",
            )
            .into());
        }
        removed
    } else {
        let not_found = || {
            ApiError::not_found_code(
                CODE_UNKNOWN_POST,
                format!(
                    "Comment not found: no post or comment with id {id:?} exists for this profile."
                ),
            )
        };
        let (post_id, sent) = {
            let (comments, _, _) = store.comment_parts();
            let (post_id, comment) = comments.find(&id).ok_or_else(not_found)?;
            (post_id.to_owned(), comment.sent)
        };
        store.get(&profile, &post_id).map_err(|_| not_found())?;
        if !sent {
            return Err(ApiError::refused(
                "delete",
                CODE_COMMENT_REFUSED,
                "Only comments sent through Ayrshare can be deleted; this one is from the audience.",
            )
            .into());
        }
        let (comments, _, _) = store.comment_parts();
        comments.remove_sent(&post_id, Some(&id))
    };
    let mut by_platform: Vec<(Platform, Vec<Value>)> = Vec::new();
    for comment in removed {
        let entry = json!({"action": "delete", "status": "success", "id": comment.comment_id, "comment": comment.text});
        match by_platform.iter_mut().find(|(p, _)| *p == comment.platform) {
            Some((_, list)) => list.push(entry),
            None => by_platform.push((comment.platform, vec![entry])),
        }
    }
    let mut body = json!({"status": "success"});
    for (platform, mut list) in by_platform {
        // One comment: an object, as Ayrshare shows it; several: a list of them.
        body[platform.name()] = if list.len() == 1 {
            list.remove(0)
        } else {
            Value::from(list)
        };
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /mock/comments/{id}` `{platform, comment, username?, reply_to?, hidden?, like_count?}`
/// (with the post's `Profile-Key`): a comment from the audience, for a test to read.
pub(super) async fn seed(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<RawPathParams, RawPathParamsRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let bytes = body.map_err(unreadable_body)?;
    authenticate(&state.config, &headers)?;
    let id = path_id(params)?;
    let parsed = validate::parse_body(&bytes)?;
    let fields = parsed.as_object().ok_or_else(|| {
        ApiError::mock("the body must be a JSON object with platform and comment")
    })?;
    let platform = fields
        .get("platform")
        .and_then(Value::as_str)
        .and_then(Platform::from_name)
        .ok_or_else(|| ApiError::mock("platform must be an Ayrshare platform name"))?;
    let text = text_field(fields, "comment", MAX_COMMENT_LEN).map_err(|_| {
        ApiError::mock(format!(
            "comment must be a non-empty string of at most {MAX_COMMENT_LEN} bytes"
        ))
    })?;
    let username = match fields.get("username") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if !name.is_empty() && name.len() <= 200 => Some(name.clone()),
        Some(_) => {
            return Err(ApiError::mock("username must be a string of at most 200 bytes").into());
        }
    };
    let reply_to = fields
        .get("reply_to")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let hidden = fields
        .get("hidden")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let like_count = fields
        .get("like_count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let profile = Profile::from_headers(&headers);
    let now = state.now();
    let mut store = state.store();
    store.publish_due(now);
    let post = store.get(&profile, &id)?.clone();
    if !READ.contains(&platform) || post.native_id(platform).is_none() {
        return Err(ApiError::mock(format!(
            "the post was not published on {} or Ayrshare reads no comments there",
            platform.name()
        ))
        .into());
    }
    let (comments, _, rng) = store.comment_parts();
    comments.make_room(1)?;
    if let Some(parent) = &reply_to {
        if comments
            .find(parent)
            .is_none_or(|(post_id, c)| post_id != id || c.platform != platform)
        {
            return Err(ApiError::mock(format!(
                "reply_to {parent:?} is no comment of this post on {}",
                platform.name()
            ))
            .into());
        }
    }
    let comment_id = platforms::comment_id(platform, rng);
    let follower = platforms::digits(rng, "1", 6);
    let comment = Comment {
        comment_id: comment_id.clone(),
        platform,
        text,
        created: now,
        from_id: platforms::digits(rng, "1", 17),
        username: username.unwrap_or_else(|| format!("follower_{follower}")),
        hidden,
        like_count,
        native_post_id: post.native_id(platform).cloned().unwrap_or(Value::Null),
        sent: false,
        replies: Vec::new(),
    };
    match &reply_to {
        Some(parent) => comments.add_reply(parent, comment),
        None => comments.add(&id, comment),
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"status": "success", "commentId": comment_id}),
    ))
}
