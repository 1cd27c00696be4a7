//! The error answers every operation shares, described once as reusable responses and added to
//! each operation that can give them: a handler documents what is its own (`provider_*`,
//! `conflict`, ...), and this pass adds what the extractors and middleware answer for every route
//! of a kind (a bad key, a body that is too large, a database that is down). Every 4xx and 5xx
//! answer of the document uses the one `ErrorBody` schema.

use serde_json::json;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr, Response, Type, schema::Object,
};

/// A shared error answer: its status, its name under `components/responses`, and what it says.
struct Shared {
    status: u16,
    name: &'static str,
    description: &'static str,
    example: fn() -> serde_json::Value,
    /// `Retry-After`, `WWW-Authenticate`, ...
    headers: &'static [(&'static str, &'static str)],
}

const RETRY_AFTER: (&str, &str) = ("Retry-After", "Seconds to wait before trying again.");

const SHARED: [Shared; 9] = [
    Shared {
        status: 400,
        name: "ValidationError",
        description: "`validation_error`: the request breaks a rule; `errors` names each field.",
        example: || {
            json!({"detail": "tracking_id: 'abc' is not a uuid", "error": "validation_error",
                   "errors": [{"field": "tracking_id", "message": "'abc' is not a uuid"}]})
        },
        headers: &[],
    },
    Shared {
        status: 401,
        name: "InvalidApiKey",
        description: "`invalid_api_key`: no `Authorization: Bearer mk_...`, or an unknown or \
                      revoked key.",
        example: || {
            json!({"detail": "missing Authorization header: send Authorization: Bearer mk_...",
                   "error": "invalid_api_key"})
        },
        headers: &[("WWW-Authenticate", "`Bearer`")],
    },
    Shared {
        status: 404,
        name: "NotFound",
        description: "`not_found`: no such record, post or workspace in your organization \
                      (another organization's look the same).",
        example: || {
            json!({"detail": "no workspace with id 00000000-0000-0000-0000-000000000000",
                   "error": "not_found"})
        },
        headers: &[],
    },
    Shared {
        status: 408,
        name: "RequestTimeout",
        description: "`request_timeout`: a last resort past every handler's own deadline, or \
                      a body that arrived more slowly than `HTTP_MIN_BODY_BYTES_PER_SEC`.",
        example: || {
            json!({"detail": "the request took too long and was stopped",
                   "error": "request_timeout"})
        },
        headers: &[],
    },
    Shared {
        status: 413,
        name: "PayloadTooLarge",
        description: "`payload_too_large`: the body is over 1 MiB.",
        example: || json!({"detail": "the request body is larger than 1 MiB", "error": "payload_too_large"}),
        headers: &[],
    },
    Shared {
        status: 415,
        name: "UnsupportedMediaType",
        description: "`unsupported_media_type`: a body without `content-type: application/json`.",
        example: || {
            json!({"detail": "the body must be JSON, sent with content-type: application/json",
                   "error": "unsupported_media_type"})
        },
        headers: &[],
    },
    Shared {
        status: 429,
        name: "RateLimit",
        description: "`rate_limit`: your API key is over its limit, or Ayrshare is rate limiting \
                      this service.",
        example: || {
            json!({"detail": "this API key is over its rate limit of 120 requests per minute \
                              (bursts of 120); retry after 1 seconds",
                   "error": "rate_limit"})
        },
        headers: &[RETRY_AFTER],
    },
    Shared {
        status: 500,
        name: "InternalServerError",
        description: "`internal_server_error`: something failed on our side; `detail` names no \
                      internals.",
        example: || {
            json!({"detail": "the server failed to handle the request; it has been logged",
                   "error": "internal_server_error"})
        },
        headers: &[],
    },
    Shared {
        status: 503,
        name: "ServiceUnavailable",
        description: "`service_unavailable`: the service's database cannot be reached (or, on \
                      calls to Ayrshare, `provider_unavailable`: Ayrshare cannot be reached and \
                      nothing was sent).",
        example: || {
            json!({"detail": "the service's database cannot be reached",
                   "error": "service_unavailable"})
        },
        headers: &[RETRY_AFTER],
    },
];

/// Adds the shared error answers to `components/responses`, and to every operation that can
/// give them and does not describe them itself:
/// - every operation: 408 and 500;
/// - one that needs the API key: 401, 429 (the key's rate limit) and 503 (the database);
/// - one with a request body: 400, 413 and 415;
/// - one with a path parameter: 400 and 404.
pub fn finish(openapi: &mut OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    for shared in &SHARED {
        components
            .responses
            .insert(shared.name.to_owned(), RefOr::T(response(shared)));
    }
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            // An operation names its own security only to be public (`security(())`); the
            // others take the document's, the bearer key.
            let secured = operation.security.is_none();
            let mut statuses = vec![408, 500];
            if secured {
                statuses.extend([401, 429, 503]);
            }
            if operation.request_body.is_some() {
                statuses.extend([400, 413, 415]);
            }
            if has_path_parameter(operation) {
                statuses.extend([400, 404]);
            }
            add_shared(operation, &statuses);
        }
    }
}

fn add_shared(operation: &mut Operation, statuses: &[u16]) {
    for shared in SHARED.iter().filter(|s| statuses.contains(&s.status)) {
        operation
            .responses
            .responses
            .entry(shared.status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(shared.name)));
    }
}

fn has_path_parameter(operation: &Operation) -> bool {
    operation
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path))
}

fn response(shared: &Shared) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .example(Some((shared.example)()))
        .build();
    let mut builder = ResponseBuilder::new()
        .description(shared.description)
        .content("application/json", content);
    for (name, description) in shared.headers {
        builder = builder.header(
            *name,
            HeaderBuilder::new()
                .schema(Object::with_type(Type::String))
                .description(Some(*description))
                .build(),
        );
    }
    builder.build()
}
