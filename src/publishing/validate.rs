//! The dry run: a create's body checked by our own rules, then by Ayrshare's `POST
//! /validate/post`, with nothing written, nothing published and no idempotency key consumed.

use chrono::Utc;
use serde_json::Value;

use super::Publisher;
use super::error::AppError;
use crate::ayrshare::CallScope;
use crate::domain::dry_run::{DryRun, judge_validation};
use crate::domain::{FieldError, NewPost, ValidationErrors};
use crate::store::Caller;
use crate::telemetry::metrics::{self, RefusalKind};

impl Publisher {
    /// `POST /social/post/validate`: the create's own checks (an unknown workspace among them);
    /// only when they pass, Ayrshare's. Our problems and Ayrshare's refusals are the answer's
    /// `errors` (a 200); Ayrshare unreachable, failing or rate limiting is the create's error
    /// (503, 504, 502, 429): a dry run that could not ask Ayrshare must not say `valid`.
    pub async fn validate_post(&self, caller: Caller, body: Value) -> Result<DryRun, AppError> {
        let new_post = match NewPost::parse(body, Utc::now()) {
            Ok(new_post) => new_post,
            Err(errors) => return Ok(DryRun::refused(&errors)),
        };
        let workspace = match self
            .sending_workspace(caller.organization_id, new_post.workspace_id)
            .await
        {
            Ok(workspace) => workspace,
            Err(AppError::NotFound(detail)) => {
                let errors = ValidationErrors::one(FieldError::new("workspace_id", detail));
                return Ok(DryRun::refused(&errors));
            }
            Err(e) => return Err(e),
        };
        let scope = CallScope {
            profile_key: workspace.ayrshare_profile_key.as_ref(),
            involves_x: new_post.involves_x(),
        };
        if let Some(wait) = self.ayrshare.held_off(scope) {
            metrics::rate_limit_refused(RefusalKind::AyrshareProfile);
            let retry_after_secs = crate::ayrshare::retry_after_secs(wait);
            return Err(AppError::RateLimited {
                detail: format!(
                    "ayrshare is rate limiting this workspace's profile; retry after \
                     {retry_after_secs} seconds"
                ),
                retry_after_secs,
            });
        }
        let mut ayrshare_body = new_post.ayrshare_body();
        // Whether Ayrshare's validation remembers an `idempotencyKey` is not documented: it is
        // left out, so that the create that follows the dry run can still use it.
        if let Value::Object(fields) = &mut ayrshare_body {
            fields.remove("idempotencyKey");
        }
        let answer = self.ayrshare.validate_post(scope, &ayrshare_body).await;
        judge_validation(answer.as_ref().map_err(|e| e.failure()))
            .map_err(|verdict| AppError::ProviderUnrecorded { verdict })
    }
}
