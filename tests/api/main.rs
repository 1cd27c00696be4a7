//! API tests: the real app on port 0, against a fresh database per test (each test runs on
//! SQLite and on Postgres) and a mock Ayrshare (wiremock, or the simulator we ship).

mod auth;
mod cli;
mod concurrency;
mod create_post;
mod errors;
mod read_post;
mod secrets;
mod shipped_mock;
mod support;
mod validation;
