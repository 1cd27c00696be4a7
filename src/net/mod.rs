//! Guards on the service's outbound connections to addresses customers choose (webhook
//! endpoints): the rule itself is pure, in [`crate::domain::address_rule`]; this applies it
//! where the HTTP client resolves names.

pub mod guarded_resolver;

pub use guarded_resolver::{GuardedResolver, ResolveRefused};
