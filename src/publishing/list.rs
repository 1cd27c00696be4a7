//! Listing: the caller's tracking records, newest first or (with `updated_after`) in the
//! changes feed's order, filtered, a keyset page at a time, and each page within a byte budget
//! (`PAGE_BYTES`), so that large records make a shorter page instead of an answer that grows
//! with them.

use std::collections::HashMap;

use uuid::Uuid;

use super::Publisher;
use super::error::AppError;
use super::views::{PostList, TrackingView};
use crate::domain::post_list::Keyed;
use crate::domain::post_list::{self, PAGE_BYTES, json_len};
use crate::domain::{After, ListRequest};
use crate::store::{Caller, RecordSize, TrackingRecord};

impl Publisher {
    /// `GET /social/posts`: one page of the organization's records, from the database only.
    ///
    /// The page is planned from the records' sizes before any is loaded (so that memory stays
    /// within the budget too), then cut again by the exact size of each record's JSON.
    pub async fn list_posts(
        &self,
        caller: Caller,
        query: &[(String, String)],
    ) -> Result<PostList, AppError> {
        let request = ListRequest::parse(query).map_err(AppError::Validation)?;
        // Another organization's workspace is not found, as everywhere else.
        if let Some(workspace_id) = request.filter.workspace_id {
            self.workspace(caller.organization_id, Some(workspace_id))
                .await?;
        }
        let organization_id = caller.organization_id;
        // One more than the page: whether it exists says whether there is a next page.
        let limit = i64::from(request.limit) + 1;
        match request.after {
            After::Start | After::Newest(_) => {
                let after = match request.after {
                    After::Newest(position) => Some(position),
                    _ => None,
                };
                let sizes = self
                    .store
                    .list_tracking_sizes(organization_id, &request.filter, after, limit)
                    .await?;
                let page = self.page(organization_id, &sizes, request.limit).await?;
                let next = next_of(&page, sizes.len());
                Ok(PostList {
                    posts: page.into_iter().map(|(_, view)| view).collect(),
                    next_cursor: next.map(|position| position.encode()),
                })
            }
            After::Changes(after) => {
                let sizes = self
                    .store
                    .list_change_sizes(organization_id, &request.filter, after, limit)
                    .await?;
                let page = self.page(organization_id, &sizes, request.limit).await?;
                // The feed always says where to go on from, even on its last page: a poller
                // keeps the cursor and asks again later, so that a change committed meanwhile
                // comes after it. An empty page gives back the cursor it was asked with.
                let last = page.last().map(|(position, _)| *position);
                Ok(PostList {
                    posts: page.into_iter().map(|(_, view)| view).collect(),
                    next_cursor: last.or(after).map(|position| position.encode()),
                })
            }
        }
    }

    /// The page of `sizes` (in page order, one more than `limit` when there is more): the
    /// records that fit the budget, in that order, each with its position.
    async fn page<P: Keyed>(
        &self,
        organization_id: Uuid,
        sizes: &[RecordSize<P>],
        limit: u32,
    ) -> Result<Vec<(P, TrackingView)>, AppError> {
        let planned = post_list::fitting(
            sizes.iter().take(limit as usize).map(|s| s.bytes),
            PAGE_BYTES,
        );
        let ids: Vec<Uuid> = sizes[..planned].iter().map(|s| s.position.id()).collect();
        let mut records: HashMap<Uuid, TrackingRecord> = self
            .store
            .find_trackings(organization_id, &ids)
            .await?
            .into_iter()
            .map(|record| (record.id, record))
            .collect();
        // In the order of the plan, whatever order the store loads them in.
        let mut page: Vec<(P, TrackingView)> = sizes[..planned]
            .iter()
            .filter_map(|size| {
                let record = records.remove(&size.position.id())?;
                Some((size.position, TrackingView::from(record)))
            })
            .collect();
        let kept = post_list::fitting(page.iter().map(|(_, view)| json_len(view)), PAGE_BYTES);
        page.truncate(kept);
        Ok(page)
    }
}

/// Where the page continues: after its last record, when more were read than it holds.
fn next_of<P: Copy>(page: &[(P, TrackingView)], read: usize) -> Option<P> {
    if page.len() < read {
        page.last().map(|(position, _)| *position)
    } else {
        None
    }
}
