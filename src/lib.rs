//! mosaic-social: publish or schedule social posts through Ayrshare, exactly once, with a
//! tracking record for every request.
//!
//! A request walks one way: [`http`] (translation only) → [`publishing`] (the use cases) →
//! [`domain`] (pure rules) → [`store`] and [`ayrshare`]. [`app`] builds the whole from the
//! [`config`] once, for the [`cli`] and the tests alike; [`mock_ayrshare`] is the shipped
//! Ayrshare simulator (its own crate, `crates/mock-ayrshare`, re-exported here).

pub mod app;
pub mod ayrshare;
pub mod cli;
pub mod config;
pub mod connections;
pub mod domain;
pub mod events;
pub mod http;
pub mod net;
pub mod publishing;
pub mod secrets;
pub mod secrets_upkeep;
pub mod store;
pub mod sweeps;
pub mod telemetry;
pub mod workspaces;

pub use mock_ayrshare;
