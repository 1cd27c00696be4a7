//! API tests: the real app on port 0, against a fresh database per test (each test runs on
//! SQLite and on Postgres) and a mock Ayrshare.

mod auth;
mod concurrency;
mod create_post;
mod errors;
mod read_post;
mod secrets;
mod support;
mod validation;
