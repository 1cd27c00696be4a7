//! `GET /social/post/{post_id}/comments`: one Ayrshare read, normalized, ordered and paged.

use super::super::Publisher;
use super::super::error::AppError;
use super::views::CommentList;
use crate::domain::comment::{CommentQuery, judge_read, page};
use crate::store::Caller;

impl Publisher {
    /// Reads the post's comments from Ayrshare (one call), then answers the page the query asks
    /// for. Nothing is written.
    pub async fn list_comments(
        &self,
        caller: Caller,
        post_id: &str,
        query: &[(String, String)],
    ) -> Result<CommentList, AppError> {
        let query = CommentQuery::parse(query).map_err(AppError::Validation)?;
        let post = self.own_commented_post(caller, post_id).await?;
        let scope = post.scope(post.record.platforms.iter().any(|p| p == "x"));
        self.refuse_if_held_off(scope)?;
        let answer = self.ayrshare.get_comments(scope, &post.post_id).await;
        let comments = judge_read(answer.as_ref().map_err(|e| e.failure()))
            .map_err(|verdict| AppError::ProviderUnrecorded { verdict })?;
        let page = page(comments, &query);
        Ok(CommentList::new(
            post.post_id,
            post.record.id,
            page.comments,
            page.next_cursor,
        ))
    }
}
