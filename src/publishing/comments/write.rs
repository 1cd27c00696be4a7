//! The comment writes: `comment`, `reply`, `delete`. Each is recorded (`comment_writes`) before
//! Ayrshare is called, claiming its `Idempotency-Key` in the same statement, then given its
//! outcome with the answer replayed to retries; a lost answer leaves it `unknown`, and nothing
//! ever sends it again. The machinery is the create's (`write_once`, `recording`).

use std::borrow::Cow;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::super::error::{AppError, ClaimHolder, WriteRef};
use super::super::recording::Recording;
use super::super::write_once::{Holder, KeptAnswer, Progress, Replay, replay_of};
use super::super::{Answer, Publisher};
use super::OwnPost;
use super::views::CommentWriteView;
use crate::domain::comment_write::{
    CommentOp, NewComment, NewReply, WriteOutcome, WriteStatus, check_comment_id, comment_body,
    judge_write, refuse_platforms, reply_body,
};
use crate::domain::idempotency::{self, IdempotencyKey};
use crate::domain::{Platform, Verdict};
use crate::store::{
    Caller, CommentWrite, NewCommentWrite, StoreError, StoredAnswerJson, WriteInserted,
    WriteRecording,
};

/// How many of a post's latest writes a delete searches for the comment it names.
const DELETE_LOOKBACK: i64 = 500;

/// The answer kept on a write for retries with the same key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StoredAnswer<'a> {
    Written {
        response: Cow<'a, CommentWriteView>,
    },
    Refused {
        verdict: Cow<'a, Verdict>,
        write: Cow<'a, WriteRef>,
    },
}

impl KeptAnswer for StoredAnswer<'_> {
    fn is_final(&self) -> bool {
        match self {
            StoredAnswer::Written { response } => response.write_status.is_settled(),
            StoredAnswer::Refused { write, .. } => write.write_status.is_settled(),
        }
    }
}

impl StoredAnswer<'_> {
    fn of(result: &Result<CommentWriteView, AppError>) -> Option<StoredAnswerJson> {
        let answer = match result {
            Ok(response) => StoredAnswer::Written {
                response: Cow::Borrowed(response),
            },
            Err(AppError::CommentProvider { verdict, write }) => StoredAnswer::Refused {
                verdict: Cow::Borrowed(verdict),
                write: Cow::Borrowed(&**write),
            },
            Err(_) => return None,
        };
        StoredAnswerJson::of(&answer).ok()
    }

    fn into_result(self) -> Result<CommentWriteView, AppError> {
        match self {
            StoredAnswer::Written { response } => Ok(response.into_owned()),
            StoredAnswer::Refused { verdict, write } => Err(AppError::CommentProvider {
                verdict: verdict.into_owned(),
                write: Box::new(write.into_owned()),
            }),
        }
    }
}

/// A comment write's outcome, as `recording` retries it.
#[derive(Clone, Debug)]
struct CommentRecording {
    recording: WriteRecording,
    answer: Option<StoredAnswerJson>,
}

#[async_trait]
impl Recording for CommentRecording {
    type Recorded = Option<CommentWrite>;
    const KIND: &'static str = "comment_write";

    async fn write(&self, publisher: &Publisher, id: Uuid) -> Result<Self::Recorded, StoreError> {
        publisher
            .store
            .record_comment_outcome(id, &self.recording, self.answer.as_ref())
            .await
    }

    fn state(recorded: &Self::Recorded) -> String {
        recorded
            .as_ref()
            .map_or("gone".into(), |w| w.status.as_str().to_owned())
    }
}

/// A write, checked and ready to send.
struct Prepared {
    op: CommentOp,
    platforms: Vec<Platform>,
    target: Option<String>,
    body: Value,
}

impl Publisher {
    /// `POST /social/post/{post_id}/comments`.
    pub async fn add_comment(
        &self,
        caller: Caller,
        post_id: &str,
        body: Value,
        key: Option<IdempotencyKey>,
    ) -> Result<Answer<CommentWriteView>, AppError> {
        let comment = NewComment::parse(&body).map_err(AppError::Validation)?;
        let post = self.own_commented_post(caller, post_id).await?;
        let published = post.published();
        let platforms = match &comment.platforms {
            Some(asked) => asked.clone(),
            // Every platform the post is on that takes this comment.
            None => published
                .iter()
                .copied()
                .filter(|p| {
                    CommentOp::Comment.supports(*p)
                        && (comment.media_urls.is_empty()
                            || crate::domain::comment_write::MEDIA_PLATFORMS.contains(p))
                })
                .collect(),
        };
        if platforms.is_empty() {
            return Err(AppError::field(
                "platforms",
                "the post was not published on a platform ayrshare can comment on",
            ));
        }
        refuse_platforms(
            CommentOp::Comment,
            &platforms,
            &published,
            !comment.media_urls.is_empty(),
        )
        .map_err(AppError::Validation)?;
        let body = comment_body(&post.post_id, &comment, &platforms);
        let prepared = Prepared {
            op: CommentOp::Comment,
            platforms,
            target: None,
            body,
        };
        self.write_comment(caller, post, prepared, key).await
    }

    /// `POST /social/post/{post_id}/comments/{comment_id}/replies`.
    pub async fn reply_comment(
        &self,
        caller: Caller,
        post_id: &str,
        comment_id: &str,
        body: Value,
        key: Option<IdempotencyKey>,
    ) -> Result<Answer<CommentWriteView>, AppError> {
        check_comment_id(comment_id).map_err(AppError::Validation)?;
        let reply = NewReply::parse(&body).map_err(AppError::Validation)?;
        let post = self.own_commented_post(caller, post_id).await?;
        refuse_platforms(
            CommentOp::Reply,
            &[reply.platform],
            &post.published(),
            false,
        )
        .map_err(AppError::Validation)?;
        let body = reply_body(comment_id, &reply, post.native_id(reply.platform));
        let prepared = Prepared {
            op: CommentOp::Reply,
            platforms: vec![reply.platform],
            target: Some(comment_id.to_owned()),
            body,
        };
        self.write_comment(caller, post, prepared, key).await
    }

    /// `DELETE /social/post/{post_id}/comments/{comment_id}`: only a comment this service wrote
    /// on this post (Ayrshare deletes only comments sent through it, and its route would take a
    /// post id as "every comment of the post").
    pub async fn delete_comment(
        &self,
        caller: Caller,
        post_id: &str,
        comment_id: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Answer<CommentWriteView>, AppError> {
        check_comment_id(comment_id).map_err(AppError::Validation)?;
        let post = self.own_commented_post(caller, post_id).await?;
        let writes = self
            .store
            .list_comment_writes(caller.organization_id, post.record.id, DELETE_LOOKBACK)
            .await?;
        let written = writes.iter().find_map(|w| {
            (w.operation != CommentOp::Delete)
                .then(|| {
                    w.results.iter().find(|r| {
                        r.status == "success" && r.comment_id.as_deref() == Some(comment_id)
                    })
                })
                .flatten()
        });
        let Some(written) = written else {
            return Err(AppError::NotFound(format!(
                "no comment with id {} was written on this post through this service",
                crate::domain::new_post::quote(comment_id)
            )));
        };
        let platform = Platform::parse(&written.platform).unwrap_or(Platform::X);
        let prepared = Prepared {
            op: CommentOp::Delete,
            platforms: vec![platform],
            target: Some(comment_id.to_owned()),
            body: Value::Null,
        };
        self.write_comment(caller, post, prepared, key).await
    }

    /// The shared path of every write: hold-off, the write-ahead record with its claim, one
    /// Ayrshare call, the outcome recorded; or, for a claimed key, the first answer.
    async fn write_comment(
        &self,
        caller: Caller,
        post: OwnPost,
        prepared: Prepared,
        key: Option<IdempotencyKey>,
    ) -> Result<Answer<CommentWriteView>, AppError> {
        let fingerprint = key.as_ref().map(|_| {
            idempotency::fingerprint(
                &json!({"operation": prepared.op.as_str(), "post_id": post.post_id,
                        "target": prepared.target, "body": prepared.body}),
                post.workspace.id,
            )
        });
        let involves_x = prepared.platforms.contains(&Platform::X);
        if let Err(refused) = self.refuse_if_held_off(post.scope(involves_x)) {
            // A retry of a request that already has its answer still gets that answer.
            if let Some(key) = &key {
                if let Some(holder) = self
                    .store
                    .find_comment_claim(caller.organization_id, key.as_str())
                    .await?
                {
                    return self.replay_comment(holder, fingerprint.as_deref()).await;
                }
            }
            return Err(refused);
        }
        let id = Uuid::new_v4();
        let write = NewCommentWrite {
            id,
            organization_id: caller.organization_id,
            workspace_id: post.workspace.id,
            api_key_id: caller.api_key_id,
            tracking_id: post.record.id,
            provider_post_id: post.post_id.clone(),
            operation: prepared.op,
            target_comment_id: prepared.target.clone(),
            platforms: prepared
                .platforms
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            request: prepared.body.clone(),
            idempotency_key: key.as_ref().map(|k| k.as_str().to_owned()),
            request_fingerprint: fingerprint.clone(),
        };
        let late_ref = WriteRef {
            write_id: id,
            write_status: WriteStatus::Pending,
            tracking_id: post.record.id,
            post_id: post.post_id.clone(),
            results: None,
        };
        let work = self.clone().send_comment(write, prepared, post);
        let late = move || {
            Ok(Err(AppError::CommentProvider {
                verdict: Verdict::TimedOut {
                    detail: "the outcome could not be recorded in time; it is never sent again"
                        .into(),
                },
                write: Box::new(late_ref),
            }))
        };
        match self.within_answer_deadline(work, late).await? {
            Err(Claimed(holder)) => self.replay_comment(*holder, fingerprint.as_deref()).await,
            Ok(result) => Ok(Answer {
                result,
                replayed: false,
            }),
        }
    }

    /// Writes the record, calls Ayrshare once, records the outcome.
    async fn send_comment(
        self,
        write: NewCommentWrite,
        prepared: Prepared,
        post: OwnPost,
    ) -> Result<Result<Result<CommentWriteView, AppError>, Claimed>, AppError> {
        let keeps_answer = write.idempotency_key.is_some();
        let record = match self.store.insert_comment_write(&write).await? {
            WriteInserted::New(record) => record,
            WriteInserted::Claimed(holder) => return Ok(Err(Claimed(Box::new(holder)))),
        };
        tracing::info!(write_id = %record.id, operation = record.operation.as_str(), "comment write recorded");
        let scope = post.scope(prepared.platforms.contains(&Platform::X));
        let answer = match prepared.op {
            CommentOp::Comment => self.ayrshare.add_comment(scope, &prepared.body).await,
            CommentOp::Reply => self.ayrshare.reply_comment(scope, &prepared.body).await,
            CommentOp::Delete => {
                let target = prepared.target.as_deref().unwrap_or_default();
                self.ayrshare.delete_comment(scope, target).await
            }
        };
        let outcome = judge_write(answer.as_ref().map_err(|e| e.failure()), prepared.op);
        let result = result_of(&record, &outcome);
        let stored = keeps_answer.then(|| StoredAnswer::of(&result)).flatten();
        let recording = CommentRecording {
            recording: WriteRecording {
                status: outcome.status,
                results: outcome.results.clone(),
                error: (outcome.verdict != Verdict::Accepted)
                    .then(|| json!({"verdict": format!("{:?}", outcome.verdict)})),
                provider_response: outcome.response.clone(),
            },
            answer: stored,
        };
        match self.record(record.id, recording).await {
            Ok(_) => {
                tracing::info!(write_id = %record.id, write_status = outcome.status.as_str(), "comment write outcome recorded");
                Ok(Ok(result))
            }
            Err(cause) => {
                tracing::error!(write_id = %record.id, error = %cause, write_status = outcome.status.as_str(),
                    results = %serde_json::to_string(&outcome.results).unwrap_or_default(),
                    "ayrshare answered but the comment write could not be updated in time");
                Ok(Ok(Err(AppError::Internal(format!(
                    "comment write {} could not record its outcome: {cause}",
                    record.id
                )))))
            }
        }
    }

    /// The answer to a retry whose key a write already holds. Never a call to Ayrshare.
    async fn replay_comment(
        &self,
        holder: CommentWrite,
        fingerprint: Option<&str>,
    ) -> Result<Answer<CommentWriteView>, AppError> {
        let progress = match holder.status {
            WriteStatus::Pending => Progress::Pending,
            WriteStatus::Unknown => Progress::Unknown,
            _ => Progress::Settled,
        };
        let seen = Holder {
            who: ClaimHolder::CommentWrite(holder.id),
            progress,
            fingerprint: holder.request_fingerprint.as_deref(),
            stored_answer: holder.stored_answer.as_ref(),
            created_at: holder.created_at,
        };
        let replayed = |result| {
            Ok(Answer {
                result,
                replayed: true,
            })
        };
        match replay_of::<StoredAnswer<'static>>(
            &seen,
            fingerprint,
            self.settings.answer_deadline(),
        )? {
            Replay::Kept(kept) => replayed(kept.into_result()),
            Replay::Settled => replayed(settled_result(&holder)),
            Replay::InProgress { interrupted: false } => Err(AppError::IdempotencyInProgress {
                holder: ClaimHolder::CommentWrite(holder.id),
                retry_after_secs: 1,
                interrupted: false,
            }),
            Replay::InProgress { interrupted: true } | Replay::Unknown => {
                // The first request stopped before recording Ayrshare's answer: nobody will
                // learn it, so the write says `unknown` (never sent again).
                let now = match holder.status {
                    WriteStatus::Pending => self
                        .store
                        .expire_comment_write(holder.id)
                        .await?
                        .unwrap_or(holder),
                    _ => holder,
                };
                if now.status.is_settled() {
                    return replayed(settled_result(&now));
                }
                replayed(Err(AppError::CommentProvider {
                    verdict: Verdict::TimedOut {
                        detail: "the first request with this Idempotency-Key got no answer from \
                                 ayrshare, and the write may have been made; it is never sent \
                                 again: read the post's comments to find out"
                            .into(),
                    },
                    write: Box::new(write_ref(&now, now.status, None)),
                }))
            }
        }
    }
}

/// A write found holding the key.
struct Claimed(Box<CommentWrite>);

fn write_ref(
    write: &CommentWrite,
    status: WriteStatus,
    results: Option<&[crate::domain::comment_write::WriteResult]>,
) -> WriteRef {
    WriteRef {
        write_id: write.id,
        write_status: status,
        tracking_id: write.tracking_id,
        post_id: write.provider_post_id.clone(),
        results: results.map(<[_]>::to_vec),
    }
}

/// The answer to a write judged as `outcome`.
fn result_of(write: &CommentWrite, outcome: &WriteOutcome) -> Result<CommentWriteView, AppError> {
    match &outcome.verdict {
        Verdict::Accepted => Ok(CommentWriteView::of(
            write,
            outcome.status,
            &outcome.results,
        )),
        verdict => Err(AppError::CommentProvider {
            verdict: verdict.clone(),
            write: Box::new(write_ref(
                write,
                outcome.status,
                outcome.response.is_some().then_some(&outcome.results[..]),
            )),
        }),
    }
}

/// The answer a settled write gives, worked out from its record.
fn settled_result(write: &CommentWrite) -> Result<CommentWriteView, AppError> {
    match write.status {
        WriteStatus::Done | WriteStatus::Partial => {
            Ok(CommentWriteView::of(write, write.status, &write.results))
        }
        status => Err(AppError::CommentProvider {
            verdict: Verdict::Rejected {
                detail: "ayrshare did not make this write; its results say why".into(),
            },
            write: Box::new(write_ref(write, status, Some(&write.results))),
        }),
    }
}
