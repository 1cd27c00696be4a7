//! The OpenAPI 3.1 document, generated from the code: each handler carries its `#[utoipa::path]`
//! and is registered with `utoipa_axum::routes!`, so a route cannot be served without being
//! described. This module holds what the handlers share: the document's head (title, bearer
//! scheme, tags), the schemas that exist for the document only, and the error answers that every
//! operation can give, added in one pass ([`finish`]).

mod errors;
pub mod schemas;

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

pub use errors::finish;

/// The security scheme's name in the document.
pub const BEARER: &str = "api_key";

/// The document's head; the paths come from the routers (`http::api_routes`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mosaic-social",
        description = "Publish or schedule a social post to X, LinkedIn, Instagram, Facebook, \
                       TikTok and YouTube with one call, through Ayrshare, exactly once, with a \
                       tracking record for every request. Authenticate with \
                       `Authorization: Bearer mk_...`. The reference is in `docs/api.md`; \
                       every error is JSON `{\"detail\", \"error\"}` (`docs/errors.md`).",
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&BearerKey),
    security(("api_key" = [])),
    tags(
        (name = "posts", description = "Publish, schedule, read, change and delete posts"),
        (name = "comments", description = "Read and answer the comments on your posts"),
        (name = "events", description = "What happened to your posts, as a feed"),
        (name = "endpoints", description = "Webhook endpoints: where your events are sent, signed"),
        (name = "connections", description = "Social accounts linked to a workspace"),
        (name = "account", description = "Who is calling"),
        (name = "workspaces", description = "Your organization's workspaces"),
        (name = "webhooks", description = "Ayrshare's signed deliveries"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    ),
    components(schemas(schemas::ErrorBody, schemas::FieldProblem, schemas::ErrorCode)),
)]
pub struct ApiDoc;

/// The bearer API key (`mk_...`).
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "An API key of your organization, `mk_` and at least 32 characters, created with \
             `mosaic-social keys create`."
                .into(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}
