//! mosaic-social: publish or schedule social posts through Ayrshare, exactly once, with a
//! tracking record for every request.
//!
//! A request walks one way: [`http`] → [`domain`] → [`store`] and [`ayrshare`]. [`cli`] wires
//! the [`config`] into a running server; [`mock_ayrshare`] is the shipped Ayrshare simulator
//! (its own crate, `crates/mock-ayrshare`, re-exported here).

pub mod ayrshare;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod store;
pub mod telemetry;

pub use mock_ayrshare;
