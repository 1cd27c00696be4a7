//! API tests: the real app on port 0, against a fresh database per test (each test runs on
//! SQLite and on Postgres) and a mock Ayrshare (wiremock, or the simulator we ship).

mod analytics;
mod answer_forms;
mod auth;
mod batching;
mod changes_feed;
mod cli;
mod comments;
mod concurrency;
mod connections;
mod create_post;
mod database_down;
mod database_freeze;
mod db_proxy;
mod delete_post;
mod doc_cli;
mod doc_examples;
mod dry_run;
mod echo_cap;
mod errors;
mod events_feed;
mod fixtures;
mod hardening;
mod idempotency;
mod list_posts;
mod metrics;
mod migrations;
mod openapi;
mod processes;
mod protocol_errors;
mod rate_limits;
mod read_post;
mod reconcile;
mod reconcile_bounds;
mod retry_post;
mod secrets_at_rest;
mod shipped_mock;
mod social_connections;
// Shared with tests/secrets.rs, which uses parts this binary does not.
#[allow(dead_code)]
mod support;
mod timezone;
mod update_post;
mod validation;
mod webhook_delivery;
mod webhook_endpoints;
mod webhooks;
mod whoami;
mod workspaces;
