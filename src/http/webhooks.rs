//! `POST /webhooks/ayrshare`: Ayrshare's signed webhook. No API key (Ayrshare signs the body
//! instead). Translation only: the verification and the work are `publishing::webhook`'s.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::Json;
use super::openapi::schemas::{ErrorBody, WebhookReceiptBody, WebhookRequest};
use crate::connections::SocialReceipt;
use crate::domain::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::publishing::{WebhookDelivery, WebhookReceipt};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive))
}

/// Ayrshare's webhook: a scheduled post was sent, a social account linked or unlinked.
///
/// No API key: Ayrshare signs the raw body (hex HMAC-SHA256 keyed by
/// `AYRSHARE_WEBHOOK_SECRET`), with a timestamp within `WEBHOOK_TOLERANCE_SECS` of now. Answers 200 as soon as the delivery is verified; the record is brought up to
/// date in the background. See `docs/webhooks.md`.
#[utoipa::path(
    post,
    path = "/webhooks/ayrshare",
    tag = "webhooks",
    security(()),
    request_body = WebhookRequest,
    params(
        ("X-Authorization-Content-SHA256" = String, Header,
         description = "The signature: hex HMAC-SHA256 of the raw body."),
        ("X-Authorization-Timestamp" = String, Header,
         description = "When Ayrshare signed the delivery, in seconds since the epoch."),
    ),
    responses(
        (status = 200, description = "Verified: `accepted` (the record will follow) or \
                                      `ignored`.", body = WebhookReceiptBody),
        (status = 401, description = "`invalid_signature`: missing, stale or wrong signature; \
                                      nothing done.", body = ErrorBody),
        (status = 400, description = "`validation_error`: signed, but not a JSON object.",
         body = ErrorBody),
        (status = 404, description = "`not_found`: no webhook secret is configured.",
         body = ErrorBody),
    ),
)]
async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // A header sent twice, or not as text, counts as missing: the signature cannot be checked.
    let single = |name: &str| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok(),
            _ => None,
        }
    };
    let receipt = state.publisher.receive_webhook(WebhookDelivery {
        body: &body,
        signature: single(SIGNATURE_HEADER),
        timestamp: single(TIMESTAMP_HEADER),
    })?;
    Ok(Json(match receipt {
        WebhookReceipt::Accepted { post_id } => json!({"status": "accepted", "post_id": post_id}),
        WebhookReceipt::Ignored { reason } => json!({"status": "ignored", "detail": reason}),
        WebhookReceipt::Social { payload } => match state.connections.receive_social(&payload) {
            SocialReceipt::Accepted { platform } => {
                json!({"status": "accepted", "platform": platform})
            }
            SocialReceipt::Ignored { reason } => json!({"status": "ignored", "detail": reason}),
        },
    }))
}
