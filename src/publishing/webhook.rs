//! Ayrshare's webhook: verify the delivery (signature, timestamp), answer at once, hand a
//! `social` action to the connections family, and apply a `scheduled` payload in the background as an authoritative reading of the post, through the
//! same use case as a read (`apply_reading`). `docs/webhooks.md` describes it for operators.

use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use serde_json::Value;

use super::{AppError, Publisher};
use crate::domain::ProviderAnswer;
use crate::domain::history::id_of;
use crate::domain::new_post::quote;
use crate::domain::webhook::verify;
use crate::telemetry::metrics;

/// The webhook's settings.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// The current secret, then the previous one during a rotation; empty: webhooks are off.
    pub secrets: Vec<SecretString>,
    /// How far a delivery's timestamp may be from now, either way.
    pub tolerance: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            secrets: Vec::new(),
            tolerance: Duration::from_secs(300),
        }
    }
}

/// One delivery, as it came: the raw body and the two headers.
#[derive(Clone, Copy, Debug)]
pub struct WebhookDelivery<'a> {
    pub body: &'a [u8],
    pub signature: Option<&'a str>,
    pub timestamp: Option<&'a str>,
}

/// What became of a verified delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookReceipt {
    /// The payload names a post; it is being applied in the background.
    Accepted { post_id: String },
    /// Nothing to do (another action, no post id); acknowledged so Ayrshare stops retrying.
    Ignored { reason: String },
    /// A `social` action (an account linked or unlinked): verified, for the connections family
    /// to apply.
    Social {
        payload: serde_json::Map<String, Value>,
    },
}

impl Publisher {
    /// `POST /webhooks/ayrshare`: verifies the delivery and hands its payload to a background
    /// task, so that Ayrshare is answered at once. Deliveries are at least once: a repeated one
    /// changes nothing (`apply_reading` writes only what changes).
    pub fn receive_webhook(
        &self,
        delivery: WebhookDelivery<'_>,
    ) -> Result<WebhookReceipt, AppError> {
        let settings = &self.settings.webhook;
        if settings.secrets.is_empty() {
            return Err(AppError::NotFound(
                "no webhook is configured on this server (AYRSHARE_WEBHOOK_SECRET is not set)"
                    .into(),
            ));
        }
        if let Err(problem) = verify(
            &settings.secrets,
            delivery.body,
            delivery.signature,
            delivery.timestamp,
            Utc::now().timestamp(),
            settings.tolerance.as_secs(),
        ) {
            tracing::info!(outcome = "refused", reason = %problem, "ayrshare webhook refused");
            metrics::webhook_received("refused");
            return Err(AppError::InvalidSignature(problem.to_string()));
        }
        let text = String::from_utf8_lossy(delivery.body);
        let answer = ProviderAnswer::new(200, &text, None);
        let Some(payload) = answer.json.as_ref().and_then(Value::as_object) else {
            tracing::info!(
                outcome = "refused",
                "ayrshare webhook: the body is not a JSON object"
            );
            metrics::webhook_received("refused");
            return Err(AppError::field("body", "must be a JSON object"));
        };
        let action = payload.get("action").and_then(Value::as_str).unwrap_or("");
        if action == "social" {
            metrics::webhook_received("accepted");
            return Ok(WebhookReceipt::Social {
                payload: payload.clone(),
            });
        }
        if action != "scheduled" {
            let reason = format!(
                "the action '{}' is not handled; only 'scheduled' and 'social' are",
                quote(action)
            );
            tracing::info!(
                outcome = "ignored",
                action,
                "ayrshare webhook ignored: not a scheduled action"
            );
            metrics::webhook_received("ignored");
            return Ok(WebhookReceipt::Ignored { reason });
        }
        let Some(post_id) = answer.json.as_ref().and_then(id_of) else {
            tracing::info!(outcome = "ignored", "ayrshare webhook ignored: no post id");
            metrics::webhook_received("ignored");
            return Ok(WebhookReceipt::Ignored {
                reason: "the payload names no post id".into(),
            });
        };
        let hook_id = payload
            .get("hookId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        tracing::info!(
            outcome = "accepted",
            post_id,
            hook_id,
            "ayrshare webhook accepted"
        );
        metrics::webhook_received("accepted");
        let publisher = self.clone();
        let id = post_id.clone();
        // On the task tracker: shutdown waits for it, so an acknowledged delivery is applied.
        self.tasks
            .spawn(async move { publisher.apply_webhook(&id, &answer, &hook_id).await });
        // The receipt quotes the id as any answer quotes input; the record is found by all of it.
        Ok(WebhookReceipt::Accepted {
            post_id: quote(&post_id),
        })
    }

    /// Applies a verified payload to the records with its post id (normally one; ids are unique
    /// per Ayrshare account). Only those records: a payload cannot touch any other.
    async fn apply_webhook(&self, post_id: &str, answer: &ProviderAnswer, hook_id: &str) {
        let records = match self.store.find_tracking_by_provider_post_id(post_id).await {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!(post_id, hook_id, error = %e, "ayrshare webhook: the records could not be read; ayrshare's retry or the reconciler will settle them");
                return;
            }
        };
        if records.is_empty() {
            tracing::info!(
                post_id,
                hook_id,
                outcome = "unknown_post",
                "ayrshare webhook for a post id no record has"
            );
            return;
        }
        for record in records {
            let (id, before, updated_at) = (record.id, record.tracked_status, record.updated_at);
            match self.apply_reading(record, Ok(answer)).await {
                Ok((after, _)) => tracing::info!(
                    tracking_id = %id,
                    post_id,
                    hook_id,
                    from = %before,
                    tracked_status = %after.tracked_status,
                    changed = after.updated_at != updated_at,
                    outcome = "applied",
                    "ayrshare webhook applied"
                ),
                Err(e) => {
                    tracing::warn!(tracking_id = %id, post_id, hook_id, error = %e, outcome = "failed", "ayrshare webhook could not be applied")
                }
            }
        }
    }
}

/// Why registering the webhook at Ayrshare failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error(
        "AYRSHARE_WEBHOOK_SECRET is not set: set it (the same value on every replica) before \
         registering, so that Ayrshare signs its deliveries with it"
    )]
    NoSecret,
    #[error("{0}")]
    NoAnswer(String),
    #[error("ayrshare refused the webhook (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
}

/// The webhook Ayrshare registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub workspace_id: uuid::Uuid,
    pub url: String,
    /// Whether the workspace's Ayrshare User Profile (its `Profile-Key`) was named; otherwise
    /// the Primary Profile.
    pub profile_key: bool,
    /// Ayrshare's answer, for the operator.
    pub answer: Value,
}

impl Publisher {
    /// Registers `url` as the workspace's `scheduled` webhook at Ayrshare (`POST /hook/webhook`
    /// with the workspace's `Profile-Key`), signed with the current `AYRSHARE_WEBHOOK_SECRET`.
    pub async fn register_webhook(
        &self,
        organization_id: uuid::Uuid,
        workspace_id: Option<uuid::Uuid>,
        url: &url::Url,
    ) -> Result<Registered, RegisterError> {
        let secret = self
            .settings
            .webhook
            .secrets
            .first()
            .ok_or(RegisterError::NoSecret)?;
        let workspace = self.workspace(organization_id, workspace_id).await?;
        let scope = crate::ayrshare::CallScope {
            profile_key: workspace.ayrshare_profile_key.as_ref(),
            involves_x: false,
        };
        let body = serde_json::json!({
            "action": "scheduled",
            "url": url.as_str(),
            "secret": secrecy::ExposeSecret::expose_secret(secret),
        });
        let answer = self
            .ayrshare
            .register_webhook(scope, &body)
            .await
            .map_err(|e| RegisterError::NoAnswer(e.to_string()))?;
        let json = answer.json.clone().unwrap_or(Value::Null);
        let refused = json
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("error"));
        if answer.http_status != 200 || refused || !json.is_object() {
            let message = json
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| answer.text.chars().take(200).collect());
            return Err(RegisterError::Refused {
                status: answer.http_status,
                message,
            });
        }
        let mut json = json;
        // Never shown, should Ayrshare echo it.
        if let Some(fields) = json.as_object_mut() {
            fields.remove("secret");
        }
        Ok(Registered {
            workspace_id: workspace.id,
            url: url.to_string(),
            profile_key: workspace.ayrshare_profile_key.is_some(),
            answer: json,
        })
    }
}
