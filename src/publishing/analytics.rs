//! Analytics: a post's numbers per platform, asked of Ayrshare, under this API's names.

use super::Publisher;
use super::error::{AppError, RecordRef};
use super::views::AnalyticsView;
use crate::domain::Platform;
use crate::domain::analytics::{self, judge_analytics};
use crate::store::Caller;

impl Publisher {
    /// `GET /social/post/{post_id}/analytics`: Ayrshare's `POST /analytics/post` for the post (and
    /// the platforms asked for), read into the common metrics. The record is not changed.
    pub async fn post_analytics(
        &self,
        caller: Caller,
        post_id: &str,
        query: &[(String, String)],
    ) -> Result<AnalyticsView, AppError> {
        let platforms = analytics::parse_query(query).map_err(AppError::Validation)?;
        let record = self.own_post(caller, post_id).await?;
        let workspace = self.workspace_of(&record).await?;
        let involves_x = platforms
            .as_ref()
            .map(|chosen| chosen.contains(&Platform::X));
        let answer = self
            .ayrshare
            .post_analytics(
                self.scope_of(&record, &workspace, involves_x),
                &analytics::ayrshare_body(post_id, platforms.as_deref()),
            )
            .await;
        let reading =
            judge_analytics(answer.as_ref().map_err(|e| e.failure())).map_err(|verdict| {
                AppError::Provider {
                    verdict,
                    record: RecordRef::new(&record, false, &[]),
                }
            })?;
        Ok(AnalyticsView {
            post_id: post_id.to_owned(),
            tracking_id: record.id,
            platforms: reading.platforms,
            errors: reading.errors,
        })
    }
}
