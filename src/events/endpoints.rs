//! The webhook endpoint use cases: create (the secret generated, sealed, shown once), list,
//! read, change, delete, rotate the secret, queue a `webhook.test`, redeliver, and the log of
//! attempts. Typed errors, no HTTP; another organization's endpoint is not found.

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Events;
use super::endpoint_views::{
    AttemptList, AttemptView, CreatedEndpoint, EndpointList, EndpointView, QueuedTest, Redelivered,
    RotatedSecret,
};
use crate::domain::standard_webhooks::WebhookSecret;
use crate::domain::webhook_endpoint::{
    EndpointChange, EndpointPosition, NewEndpoint, PageQuery, Redelivery, TEST_EVENT_TYPE,
    UrlRules, encode_attempt_cursor,
};
use crate::publishing::AppError;
use crate::secrets::SecretsError;
use crate::store::{NewStoredEndpoint, StoredEndpoint, secret_aad};

/// How long the secret before a rotation keeps signing beside the new one: a day to deploy the
/// new secret to every receiver.
pub const PREVIOUS_SECRET_TTL: chrono::Duration = chrono::Duration::hours(24);

/// The most events one redelivery queues, so that a `since` far back is one bounded insert;
/// the answer says when more matched.
pub const REDELIVER_LIMIT: i64 = 1000;

/// The current time at the databases' precision (microseconds).
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// An endpoint id from the path; anything that is not one is simply not found.
fn endpoint_id(text: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(text).map_err(|_| not_found(text))
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!(
        "no webhook endpoint with id {}",
        crate::domain::new_post::quote(id)
    ))
}

/// A new `evt_` id: 32 hex digits, as post events have.
fn new_event_id() -> String {
    format!("evt_{}", Uuid::new_v4().simple())
}

/// Seals an endpoint's secret; without `SECRETS_KEY` nothing can be stored.
fn seal(events: &Events, id: Uuid, secret: &WebhookSecret) -> Result<String, AppError> {
    events
        .store
        .secrets()
        .seal(secret.reveal().expose_secret(), &secret_aad(id))
        .map_err(|e| match e {
            SecretsError::NoKey => AppError::NotConfigured(
                "webhook endpoints need SECRETS_KEY: their signing secrets are stored \
                 encrypted under it (see docs/events.md)"
                    .into(),
            ),
            other => AppError::Internal(other.to_string()),
        })
}

impl Events {
    fn url_rules(&self) -> UrlRules {
        UrlRules {
            allow_http: self.settings.webhooks.allow_http,
            allow_private: self.settings.webhooks.allow_private_targets,
        }
    }

    async fn endpoint(&self, organization_id: Uuid, id: &str) -> Result<StoredEndpoint, AppError> {
        let uuid = endpoint_id(id)?;
        self.store
            .find_endpoint(organization_id, uuid)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// `POST /webhooks/endpoints`.
    pub async fn create_endpoint(
        &self,
        organization_id: Uuid,
        body: Value,
    ) -> Result<CreatedEndpoint, AppError> {
        let new = NewEndpoint::parse(body, self.url_rules()).map_err(AppError::Validation)?;
        if let Some(workspace_id) = new.workspace_id {
            self.store
                .find_workspace(organization_id, Some(workspace_id))
                .await?
                .ok_or_else(|| {
                    AppError::NotFound(format!("no workspace with id {workspace_id}"))
                })?;
        }
        let id = Uuid::new_v4();
        let secret = WebhookSecret::generate();
        let sealed_secret = seal(self, id, &secret)?;
        let max = self.settings.webhooks.max_endpoints;
        let stored = self
            .store
            .create_endpoint(
                &NewStoredEndpoint {
                    id,
                    organization_id,
                    workspace_id: new.workspace_id,
                    url: new.url,
                    event_types: new.event_types,
                    description: new.description,
                    sealed_secret,
                    created_at: now(),
                },
                max,
            )
            .await?
            .ok_or_else(|| AppError::Conflict {
                detail: format!(
                    "the organization has {max} webhook endpoints, the most allowed \
                     (WEBHOOK_MAX_ENDPOINTS): delete one first"
                ),
                record: None,
            })?;
        Ok(CreatedEndpoint {
            endpoint: stored.into(),
            secret: secret.reveal().expose_secret().to_owned(),
        })
    }

    /// `GET /webhooks/endpoints`.
    pub async fn list_endpoints(
        &self,
        organization_id: Uuid,
        query: &[(String, String)],
    ) -> Result<EndpointList, AppError> {
        let query = PageQuery::parse_endpoints(query).map_err(AppError::Validation)?;
        let limit = i64::from(query.limit);
        // One more than asked says whether there is a next page.
        let mut found = self
            .store
            .list_endpoints(organization_id, query.after, limit + 1)
            .await?;
        let more = found.len() as i64 > limit;
        found.truncate(query.limit as usize);
        let next_cursor = more
            .then(|| found.last())
            .flatten()
            .map(|e| EndpointPosition {
                created_at: e.created_at,
                id: e.id,
            })
            .map(|p| p.encode());
        Ok(EndpointList {
            endpoints: found.into_iter().map(EndpointView::from).collect(),
            next_cursor,
        })
    }

    /// `GET /webhooks/endpoints/{id}`.
    pub async fn read_endpoint(
        &self,
        organization_id: Uuid,
        id: &str,
    ) -> Result<EndpointView, AppError> {
        Ok(self.endpoint(organization_id, id).await?.into())
    }

    /// `PATCH /webhooks/endpoints/{id}`.
    pub async fn update_endpoint(
        &self,
        organization_id: Uuid,
        id: &str,
        body: Value,
    ) -> Result<EndpointView, AppError> {
        let uuid = endpoint_id(id)?;
        let change = EndpointChange::parse(body, self.url_rules()).map_err(AppError::Validation)?;
        self.store
            .update_endpoint(organization_id, uuid, &change, now())
            .await?
            .map(EndpointView::from)
            .ok_or_else(|| not_found(id))
    }

    /// `DELETE /webhooks/endpoints/{id}`: the endpoint with its pending deliveries and its log.
    pub async fn delete_endpoint(&self, organization_id: Uuid, id: &str) -> Result<(), AppError> {
        let uuid = endpoint_id(id)?;
        if self.store.delete_endpoint(organization_id, uuid).await? {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    /// `POST /webhooks/endpoints/{id}/rotate-secret`.
    pub async fn rotate_secret(
        &self,
        organization_id: Uuid,
        id: &str,
    ) -> Result<RotatedSecret, AppError> {
        let uuid = endpoint_id(id)?;
        let secret = WebhookSecret::generate();
        let sealed = seal(self, uuid, &secret)?;
        let now = now();
        let stored = self
            .store
            .rotate_endpoint_secret(
                organization_id,
                uuid,
                &sealed,
                now + PREVIOUS_SECRET_TTL,
                now,
            )
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(RotatedSecret {
            endpoint: stored.into(),
            secret: secret.reveal().expose_secret().to_owned(),
        })
    }

    /// `POST /webhooks/endpoints/{id}/test`: a `webhook.test` event for that endpoint alone,
    /// whatever its type filter (it was asked for by name).
    pub async fn send_test(&self, organization_id: Uuid, id: &str) -> Result<QueuedTest, AppError> {
        let endpoint = self.endpoint(organization_id, id).await?;
        refuse_disabled(&endpoint)?;
        let event_id = new_event_id();
        let now = now();
        let payload = json!({
            "id": event_id,
            "type": TEST_EVENT_TYPE,
            "timestamp": now,
            "data": {
                "endpoint_id": endpoint.id,
                "message": "a test event, sent because POST /webhooks/endpoints/{id}/test \
                            was called",
            },
        });
        if !self
            .store
            .queue_test_delivery(organization_id, endpoint.id, &event_id, &payload, now)
            .await?
        {
            return Err(not_found(id));
        }
        Ok(QueuedTest { event_id })
    }

    /// `POST /webhooks/endpoints/{id}/redeliver`: new deliveries of past post events.
    pub async fn redeliver(
        &self,
        organization_id: Uuid,
        id: &str,
        body: Value,
    ) -> Result<Redelivered, AppError> {
        let endpoint = self.endpoint(organization_id, id).await?;
        let what = Redelivery::parse(body).map_err(AppError::Validation)?;
        refuse_disabled(&endpoint)?;
        let queued = self
            .store
            .redeliver(organization_id, endpoint.id, &what, REDELIVER_LIMIT, now())
            .await?;
        if let (Redelivery::Event(event_id), 0) = (&what, queued) {
            return Err(AppError::NotFound(format!(
                "no event with id {} that this endpoint receives (its workspace and types), \
                 or it is past its retention",
                crate::domain::new_post::quote(event_id)
            )));
        }
        Ok(Redelivered {
            queued,
            more: queued >= REDELIVER_LIMIT as u64,
        })
    }

    /// `GET /webhooks/endpoints/{id}/deliveries`: the attempts, newest first.
    pub async fn list_attempts(
        &self,
        organization_id: Uuid,
        id: &str,
        query: &[(String, String)],
    ) -> Result<AttemptList, AppError> {
        let endpoint = self.endpoint(organization_id, id).await?;
        let query = PageQuery::parse_attempts(query).map_err(AppError::Validation)?;
        let limit = i64::from(query.limit);
        let mut found = self
            .store
            .list_attempts(endpoint.id, query.after, limit + 1)
            .await?;
        let more = found.len() as i64 > limit;
        found.truncate(query.limit as usize);
        let next_cursor = more
            .then(|| found.last())
            .flatten()
            .map(|a| encode_attempt_cursor(a.id));
        Ok(AttemptList {
            deliveries: found.into_iter().map(AttemptView::from).collect(),
            next_cursor,
        })
    }
}

/// A disabled endpoint is sent nothing: queueing for it would only wait.
fn refuse_disabled(endpoint: &StoredEndpoint) -> Result<(), AppError> {
    if endpoint.disabled {
        return Err(AppError::Conflict {
            detail: "the endpoint is disabled: enable it first (PATCH with \"disabled\": false)"
                .into(),
            record: None,
        });
    }
    Ok(())
}
