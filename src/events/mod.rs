//! The events family: what happened to a post, told to the customer's backend. The database
//! writes each event in the transaction of its change (the migration `post_events`); this module
//! reads them for `GET /events`, a page at a time within the list's byte budget, trims them
//! past their retention, and delivers them to webhook endpoints (`delivery`).

pub mod delivery;
mod endpoint_views;
mod endpoints;
pub mod listen;
mod settings;
mod views;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use endpoint_views::{
    AttemptList, AttemptView, CreatedEndpoint, EndpointList, EndpointView, QueuedTest, Redelivered,
    RotatedSecret,
};
pub use endpoints::{PREVIOUS_SECRET_TTL, REDELIVER_LIMIT};
pub use settings::{DEFAULT_RETRY_SCHEDULE, EventSettings, MAX_RETENTION_DAYS, WebhookSettings};
pub use views::{AccountEventData, EventData, EventList, EventPayload, EventView};

use crate::domain::event_feed::EventQuery;
use crate::domain::post_list::{PAGE_BYTES, fitting, json_len};
use crate::publishing::AppError;
use crate::store::{Caller, DynStore, FeedEvent};
use crate::sweeps;
use tokio_util::sync::CancellationToken;

/// The most events one retention sweep deletes, so that a sweep is one short statement.
const PURGE_BATCH: i64 = 1000;

/// The events use cases.
#[derive(Clone)]
pub struct Events {
    store: DynStore,
    settings: EventSettings,
}

impl Events {
    pub fn new(store: DynStore, settings: EventSettings) -> Events {
        Events { store, settings }
    }

    /// `GET /events`: one page of the organization's events, oldest first in the order their
    /// changes committed. `next_cursor` always says where to go on from (as in the changes
    /// feed): a consumer keeps it and asks again later.
    pub async fn feed(
        &self,
        caller: Caller,
        query: &[(String, String)],
    ) -> Result<EventList, AppError> {
        let query = EventQuery::parse(query).map_err(AppError::Validation)?;
        let organization_id = caller.organization_id;
        if let Some(workspace_id) = query.filter.workspace_id {
            // Another organization's workspace is not found, as everywhere else.
            self.store
                .find_workspace(organization_id, Some(workspace_id))
                .await?
                .ok_or_else(|| {
                    AppError::NotFound(format!("no workspace with id {workspace_id}"))
                })?;
        }
        let sizes = self
            .store
            .list_event_sizes(
                organization_id,
                &query.filter,
                query.after,
                i64::from(query.limit),
            )
            .await?;
        let planned = fitting(sizes.iter().map(|s| s.bytes), PAGE_BYTES);
        let seqs: Vec<i64> = sizes[..planned].iter().map(|s| s.position.seq).collect();
        let mut found: HashMap<i64, FeedEvent> = self
            .store
            .find_events(organization_id, &seqs)
            .await?
            .into_iter()
            .map(|event| (event.position().seq, event))
            .collect();
        let mut page: Vec<(crate::domain::event_feed::EventPosition, EventView)> = sizes[..planned]
            .iter()
            .filter_map(|size| {
                let event = found.remove(&size.position.seq)?;
                Some((size.position, EventView::from(event)))
            })
            .collect();
        let kept = fitting(page.iter().map(|(_, view)| json_len(view)), PAGE_BYTES);
        page.truncate(kept);
        let last = page.last().map(|(position, _)| *position).or(query.after);
        Ok(EventList {
            events: page.into_iter().map(|(_, view)| view).collect(),
            next_cursor: last.map(|position| position.encode()),
        })
    }

    /// The feed's settings.
    pub fn settings(&self) -> &EventSettings {
        &self.settings
    }

    /// Deletes the events older than the retention, a batch at a time, and the webhook
    /// deliveries finished before it (with their attempts); how many events. Run by the
    /// background sweep beside the reconciler.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, AppError> {
        let before = now
            - chrono::Duration::from_std(self.settings.retention).unwrap_or(chrono::Duration::MAX);
        let store = &self.store;
        let events =
            sweeps::in_batches(PURGE_BATCH, |limit| store.purge_events(before, limit)).await?;
        sweeps::in_batches(PURGE_BATCH, |limit| store.purge_deliveries(before, limit)).await?;
        Ok(events)
    }
}

/// How often the retention sweep runs.
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Runs the retention sweep every `every` until `stop` is cancelled.
pub async fn run_retention(events: Events, every: Duration, stop: CancellationToken) {
    sweeps::every(
        every,
        stop,
        "events past their retention deleted",
        "deleting events past their retention failed",
        || events.purge_expired(Utc::now()),
    )
    .await;
}
