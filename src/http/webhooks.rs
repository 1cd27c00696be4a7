//! `POST /webhooks/ayrshare`: Ayrshare's signed webhook. No API key (Ayrshare signs the body
//! instead). Translation only: the verification and the work are `publishing::webhook`'s.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::Json;
use crate::domain::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::publishing::{WebhookDelivery, WebhookReceipt};

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/ayrshare", post(receive))
}

/// Answers 200 as soon as the delivery is verified; the record is updated in the background.
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
    }))
}
