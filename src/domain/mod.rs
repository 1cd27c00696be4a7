//! The rules of the service, free of I/O: validated requests, platform names, API keys, what
//! Ayrshare's answers mean for `tracked_status`, finding a post in Ayrshare's history, Ayrshare's
//! webhook signature and the Standard Webhooks signature of our own events, which addresses an
//! endpoint may reach, what a webhook delivery attempt's result means, local times in IANA zones, the reading of a dry run, a post's comments and what a comment write's answer means, and the cursors of paged answers. Depends on
//! nothing else in this crate.

pub mod address_rule;
pub mod analytics;
pub mod api_key;
pub mod change;
pub mod comment;
pub mod comment_write;
pub mod connection;
pub mod cursor;
pub mod delivery_policy;
pub mod dry_run;
pub mod event_feed;
pub mod history;
pub mod idempotency;
pub mod local_time;
pub mod new_post;
// Tests added after the fact, in a file of their own (see its header).
#[cfg(test)]
mod new_post_tests;
pub mod outcome;
pub mod platform;
pub mod post_list;
pub mod post_update;
#[cfg(test)]
mod properties;
pub mod standard_webhooks;
pub mod strict_json;
pub mod tracked_status;
pub mod webhook;
pub mod webhook_endpoint;
pub mod workspace_list;

pub use api_key::{ApiKeySecret, KeyHash};
pub use idempotency::IdempotencyKey;
pub use new_post::{FieldError, NewPost, Problems, ValidationErrors};
pub use outcome::{DeliveryFailure, Link, Open, Outcome, PlatformResult, ProviderAnswer, Verdict};
pub use platform::Platform;
pub use post_list::{After, ChangePosition, ListRequest, Position, PostFilter};
pub use post_update::{PostDeletion, PostUpdate};
pub use tracked_status::{TrackedStatus, Transition};
pub use workspace_list::{WhoamiRequest, WorkspacePosition};

/// What the tests of the query parsers (the list's, the feed's) share.
#[cfg(test)]
pub(crate) mod query_tests {
    use super::ValidationErrors;

    /// A query as the parsers take it.
    pub fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The fields a refused query names, in order.
    pub fn fields<T: std::fmt::Debug>(parsed: Result<T, ValidationErrors>) -> Vec<String> {
        parsed
            .unwrap_err()
            .listed()
            .iter()
            .map(|e| e.field.clone())
            .collect()
    }
}
