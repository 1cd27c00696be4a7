//! The answers of the comment routes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::comment::{Comment, MAX_REPLIES};
use crate::domain::comment_write::{CommentOp, WriteResult, WriteStatus};
use crate::store::CommentWrite;

/// `GET /social/post/{post_id}/comments`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CommentList {
    /// Ayrshare's post id.
    pub post_id: String,
    pub tracking_id: Uuid,
    /// Newest first, undated last; ties by platform, comment id, platform comment id.
    pub comments: Vec<Comment>,
    /// The cursor of the next page; null on the last.
    pub next_cursor: Option<String>,
    /// The most replies shown under one comment; `replies_omitted` counts the rest.
    pub replies_limit: u32,
}

impl CommentList {
    pub(super) fn new(
        post_id: String,
        tracking_id: Uuid,
        comments: Vec<Comment>,
        next_cursor: Option<String>,
    ) -> CommentList {
        CommentList {
            post_id,
            tracking_id,
            comments,
            next_cursor,
            replies_limit: MAX_REPLIES as u32,
        }
    }
}

/// The answer to a comment write (`comment`, `reply`, `delete`): its record, and what each
/// platform did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommentWriteView {
    /// The write's record (`comment_writes`).
    pub write_id: Uuid,
    /// `done`, `partial` (some platforms refused), or, once recorded later, another state.
    pub write_status: WriteStatus,
    pub operation: CommentOp,
    /// Ayrshare's post id.
    pub post_id: String,
    pub tracking_id: Uuid,
    /// The comment replied to or deleted.
    pub comment_id: Option<String>,
    /// Per platform; `comment_id` is the comment written (reply to or delete it by this id).
    pub results: Vec<WriteResult>,
}

impl CommentWriteView {
    pub(super) fn of(write: &CommentWrite, status: WriteStatus, results: &[WriteResult]) -> Self {
        CommentWriteView {
            write_id: write.id,
            write_status: status,
            operation: write.operation,
            post_id: write.provider_post_id.clone(),
            tracking_id: write.tracking_id,
            comment_id: write.target_comment_id.clone(),
            results: results.to_vec(),
        }
    }
}
