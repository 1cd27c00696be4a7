//! Listing: the caller's tracking records, newest first, filtered, a keyset page at a time, and
//! each page within a byte budget (`PAGE_BYTES`), so that large records make a shorter page
//! instead of an answer that grows with them.

use std::io;

use super::Publisher;
use super::error::AppError;
use super::views::{PostList, TrackingView};
use crate::domain::post_list::{self, PAGE_BYTES};
use crate::domain::{ListRequest, Position};
use crate::store::Caller;

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
        let limit = request.limit as usize;
        // One more than the page: whether it exists says whether there is a next page.
        let sizes = self
            .store
            .list_tracking_sizes(
                caller.organization_id,
                &request.filter,
                request.after,
                i64::from(request.limit) + 1,
            )
            .await?;
        let planned = post_list::fitting(sizes.iter().take(limit).map(|s| s.bytes), PAGE_BYTES);
        let ids: Vec<_> = sizes[..planned].iter().map(|s| s.position.id).collect();
        let records = self
            .store
            .find_trackings(caller.organization_id, &ids)
            .await?;
        let mut posts: Vec<TrackingView> = records.into_iter().map(TrackingView::from).collect();
        let kept = post_list::fitting(posts.iter().map(json_len), PAGE_BYTES);
        posts.truncate(kept);
        // More records follow when the page stopped before the last one read.
        let next_cursor = if kept < sizes.len() {
            posts.last().map(|last| {
                Position {
                    created_at: last.created_at,
                    id: last.tracking_id,
                }
                .encode()
            })
        } else {
            None
        };
        Ok(PostList { posts, next_cursor })
    }
}

/// The bytes of `view` as JSON, counted without writing them anywhere.
fn json_len(view: &TrackingView) -> u64 {
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, and a view always serializes.
    let _ = serde_json::to_writer(&mut counter, view);
    counter.0
}

/// A writer that only counts what it is given.
struct Counter(u64);

impl io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
