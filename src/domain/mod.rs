//! The rules of the service, free of I/O: validated requests, platform names, API keys, and what
//! Ayrshare's answers mean for `tracked_status`. Depends on nothing else in this crate.

pub mod api_key;
pub mod new_post;
// Tests added after the fact, in a file of their own (see its header).
#[cfg(test)]
mod new_post_tests;
pub mod outcome;
pub mod platform;
pub mod tracked_status;

pub use api_key::{ApiKeySecret, KeyHash};
pub use new_post::{FieldError, NewPost, ValidationErrors};
pub use outcome::{DeliveryFailure, Link, Open, Outcome, PlatformResult, ProviderAnswer, Verdict};
pub use platform::Platform;
pub use tracked_status::{TrackedStatus, Transition};
