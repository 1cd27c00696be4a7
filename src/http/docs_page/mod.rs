//! `GET /openapi.json` (the document) and `GET /docs` (Swagger UI to read it and try the API).
//! Every asset of the page is compiled into the binary (`utoipa-swagger-ui`'s `vendored`
//! feature) and served here, so the page works on a machine without internet; its
//! `Content-Security-Policy` lets it load nothing from anywhere else. Our own handlers, not the
//! crate's axum router, so that a missing asset is the API's JSON 404 like any other.

use std::sync::{Arc, LazyLock};

use axum::Extension;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::Config;

use super::AppState;
use super::error::ApiError;
use super::extract::Path;
use super::openapi::schemas::ErrorBody;
use crate::domain::new_post::quote;
use crate::publishing::AppError;

/// The document, rendered once when the router is built and shared by every request.
#[derive(Clone)]
pub struct OpenApiJson(pub Bytes);

/// The page's own HTML: Swagger UI's, with absolute asset paths so that `/docs` needs no
/// redirect to `/docs/`.
const INDEX_HTML: &str = include_str!("index.html");

/// Swagger UI's settings: our document; no validator badge (it would call
/// validator.swagger.io); "try it out" on.
static SWAGGER_CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new(["/openapi.json"])
            .validator_url("none")
            .try_it_out_enabled(true)
            .display_request_duration(true),
    )
});

/// Only this service's own origin; Swagger UI sets inline styles, and shows images as data URIs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
        .routes(routes!(docs_asset))
}

/// This document: OpenAPI 3.1, generated from the code.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object,
               content_type = "application/json")),
)]
async fn openapi_json(Extension(document): Extension<OpenApiJson>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document.0,
    )
        .into_response()
}

/// The interactive documentation (Swagger UI), served from the binary.
///
/// "Authorize" with your API key, then "Try it out" calls this service.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The page.", body = String,
               content_type = "text/html; charset=utf-8")),
)]
async fn docs_page() -> Response {
    with_policy(Html(INDEX_HTML).into_response())
}

/// An asset of the documentation page (script, style sheet, icon).
#[utoipa::path(
    get,
    path = "/docs/{file}",
    tag = "operations",
    security(()),
    params(("file" = String, Path, description = "The asset's file name.")),
    responses(
        (status = 200, description = "The asset.", body = String,
         content_type = "application/octet-stream"),
        (status = 404, description = "`not_found`: no such asset.", body = ErrorBody),
    ),
)]
async fn docs_asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError::App(AppError::NotFound(format!(
            "no documentation asset '{}'",
            quote(&file)
        )))
    };
    // `index.html` is the page itself, served at `/docs` with our asset paths.
    if file == "index.html" {
        return Err(not_found());
    }
    match utoipa_swagger_ui::serve(&file, SWAGGER_CONFIG.clone()) {
        Ok(Some(asset)) => {
            let content_type = HeaderValue::from_str(&asset.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let response = (
                [
                    (header::CONTENT_TYPE, content_type),
                    // The assets change only with the binary.
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=3600"),
                    ),
                ],
                asset.bytes.into_owned(),
            )
                .into_response();
            Ok(with_policy(response))
        }
        Ok(None) => Err(not_found()),
        Err(error) => Err(ApiError::App(AppError::Internal(format!(
            "the documentation asset {file:?} could not be prepared: {error}"
        )))),
    }
}

fn with_policy(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}
