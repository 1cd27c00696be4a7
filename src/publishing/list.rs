//! Listing: the caller's tracking records, newest first, filtered, a keyset page at a time.

use super::Publisher;
use super::error::AppError;
use super::views::{PostList, TrackingView};
use crate::domain::{ListRequest, Position};
use crate::store::Caller;

impl Publisher {
    /// `GET /social/posts`: one page of the organization's records, from the database only.
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
        let mut records = self
            .store
            .list_tracking(
                caller.organization_id,
                &request.filter,
                request.after,
                i64::from(request.limit) + 1,
            )
            .await?;
        let next_cursor = if records.len() > limit {
            records.truncate(limit);
            records.last().map(|last| {
                Position {
                    created_at: last.created_at,
                    id: last.id,
                }
                .encode()
            })
        } else {
            None
        };
        Ok(PostList {
            posts: records.into_iter().map(TrackingView::from).collect(),
            next_cursor,
        })
    }
}
