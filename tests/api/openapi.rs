//! `GET /openapi.json` and `GET /docs`: the document describes every route the router serves
//! (and nothing else), every error answer uses the one error schema, and the documentation page
//! and its assets come from the service itself. Whether the document is valid OpenAPI 3.1 is
//! checked in CI with a validator from PyPI (`.ci/openapi-check`), and the page in a real browser.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::support::{Backend, Options, TestApp, expect_error, response_json};

async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available")
}

async fn document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response_json(response).await
}

/// Every (METHOD, path) of the document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    operations
}

/// The routes the reference documents (`## METHOD /path` in docs/api.md), and those of
/// operations and the documentation itself, which docs/operations.md and the README describe.
fn documented_routes() -> BTreeSet<(String, String)> {
    let reference = std::fs::read_to_string("docs/api.md").unwrap();
    let mut routes: BTreeSet<(String, String)> = reference
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .filter_map(|heading| heading.split_once(' '))
        .filter(|(method, path)| {
            ["GET", "POST", "PATCH", "DELETE", "PUT"].contains(method) && path.starts_with('/')
        })
        .map(|(method, path)| (method.to_owned(), path.trim().to_owned()))
        .collect();
    for (method, path) in [
        ("GET", "/metrics"),
        ("POST", "/webhooks/ayrshare"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/{file}"),
    ] {
        routes.insert((method.to_owned(), path.to_owned()));
    }
    routes
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_describes_exactly_the_documented_routes() {
    let app = app().await;
    let document = document(&app).await;
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );
    assert_eq!(document["info"]["title"], "mosaic-social");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(operations(&document), documented_routes());
    assert_eq!(
        document["components"]["securitySchemes"]["api_key"],
        serde_json::json!({"type": "http", "scheme": "bearer",
            "description": document["components"]["securitySchemes"]["api_key"]["description"]})
    );
    app.finish().await;
}

/// Each operation of the document is a route of the router: none falls through to the JSON 404
/// or 405 that answers what no route serves. (Routes are registered with the document by
/// `utoipa_axum::routes!`, so a route the document lacks cannot be added there; this checks the
/// other direction, and the test above that nothing documented is missing.)
#[tokio::test]
async fn every_operation_of_the_document_is_served() {
    let app = app().await;
    let document = document(&app).await;
    for (method, path) in operations(&document) {
        let concrete = path
            .replace("{post_id}", "no-such-post")
            .replace("{tracking_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{file}", "swagger-ui.css");
        let response = app
            .client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(&concrete),
            )
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path}: {text}");
        assert!(
            !(status == 404 && text.contains("no route for")),
            "{method} {path} is documented but not served: {text}"
        );
    }
    app.finish().await;
}

/// Every 4xx and 5xx answer of every operation is JSON with the `ErrorBody` schema, and every
/// operation that needs the key documents the 401.
#[tokio::test]
async fn every_error_answer_uses_the_error_schema() {
    let app = app().await;
    let document = document(&app).await;
    let shared = &document["components"]["responses"];
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            // Its success is documented: 200, or 201/202/204 where that is the answer.
            assert!(
                ["200", "201", "202", "204"]
                    .iter()
                    .any(|s| responses.contains_key(*s)),
                "{method} {path}"
            );
            assert!(responses.contains_key("500"), "{method} {path}");
            let public = operation["security"] == serde_json::json!([{}]);
            assert_eq!(
                responses.contains_key("401"),
                !public || path == "/webhooks/ayrshare",
                "{method} {path}"
            );
            for (status, response) in responses {
                if status.as_str() < "400" {
                    continue;
                }
                let response = match response["$ref"].as_str() {
                    Some(reference) => {
                        let name = reference.strip_prefix("#/components/responses/").unwrap();
                        &shared[name]
                    }
                    None => response,
                };
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} error answers");
    let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
    for code in [
        "validation_error",
        "invalid_api_key",
        "idempotency_key_mismatch",
        "provider_timeout",
    ] {
        assert!(
            codes.as_array().unwrap().contains(&Value::from(code)),
            "{code}: {codes}"
        );
    }
    app.finish().await;
}

/// The shared error answers go where they can happen, and nowhere else: a public route without
/// a body or a path parameter can only time out or fail; one with the key can also be refused,
/// rate limited or find the database down; a path parameter can be malformed or unknown.
#[tokio::test]
async fn each_operation_documents_the_shared_errors_of_its_kind() {
    let app = app().await;
    let document = document(&app).await;
    let statuses = |path: &str, method: &str| -> Vec<String> {
        document["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}"))
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(statuses("/healthz", "get"), ["200", "408", "500"]);
    assert_eq!(
        statuses("/whoami", "get"),
        // 400: a `workspaces_cursor` this service did not issue.
        ["200", "400", "401", "408", "429", "500", "503"]
    );
    // A body: 400, 413, 415; a path parameter: 400, 404 (PATCH documents neither itself).
    assert_eq!(
        statuses("/social/post/{post_id}", "patch"),
        [
            "200", "400", "401", "404", "408", "409", "413", "415", "429", "500", "502", "503",
            "504"
        ]
    );
    app.finish().await;
}

/// The create is described with its body, the `Idempotency-Key` header and the contract's
/// example; public routes ask for no key.
#[tokio::test]
async fn the_create_is_described_with_its_body_header_and_examples() {
    let app = app().await;
    let document = document(&app).await;
    let create = &document["paths"]["/social/post"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreatePostRequest"
    );
    let header = create["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .expect("the Idempotency-Key header");
    assert_eq!(header["in"], "header");
    let request = &document["components"]["schemas"]["CreatePostRequest"];
    assert_eq!(request["required"], serde_json::json!(["platforms"]));
    assert_eq!(
        request["properties"]["platforms"]["items"]["$ref"],
        "#/components/schemas/Platform"
    );
    assert_eq!(
        document["components"]["schemas"]["Platform"]["enum"],
        serde_json::json!([
            "x",
            "linkedin",
            "instagram",
            "facebook",
            "tiktok",
            "youtube"
        ])
    );
    // Extra keys are forwarded: the schema must not forbid them.
    assert_ne!(request["additionalProperties"], Value::Bool(false));
    assert_eq!(
        request["example"]["platforms"],
        serde_json::json!(["x", "linkedin"])
    );
    let ok = &create["responses"]["200"];
    assert_eq!(
        ok["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PostView"
    );
    assert_eq!(
        ok["content"]["application/json"]["example"]["tracked_status"],
        "posted"
    );
    assert!(ok["headers"]["Idempotent-Replayed"].is_object(), "{ok}");
    for status in ["400", "404", "409", "422", "429", "502", "503", "504"] {
        assert!(
            create["responses"][status].is_object(),
            "create lacks {status}"
        );
    }
    assert_eq!(
        document["paths"]["/healthz"]["get"]["security"],
        serde_json::json!([{}])
    );
    assert_eq!(document["security"], serde_json::json!([{"api_key": []}]));
    app.finish().await;
}

/// The comment routes' bodies and answers are typed schemas (the generated clients build and
/// read them), and the write bodies forbid other keys, as the handlers refuse them.
#[tokio::test]
async fn the_comment_routes_are_described_with_typed_bodies_and_answers() {
    let app = app().await;
    let document = document(&app).await;
    let paths = &document["paths"];
    let schemas = &document["components"]["schemas"];
    let comments = "/social/post/{post_id}/comments";
    let replies = "/social/post/{post_id}/comments/{comment_id}/replies";
    let one = "/social/post/{post_id}/comments/{comment_id}";
    for (path, method, body, answer) in [
        (comments, "get", None, "CommentList"),
        (comments, "post", Some("CommentRequest"), "CommentWriteView"),
        (replies, "post", Some("ReplyRequest"), "CommentWriteView"),
        (one, "delete", None, "CommentWriteView"),
    ] {
        let operation = &paths[path][method];
        let request = &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        match body {
            Some(name) => assert_eq!(*request, format!("#/components/schemas/{name}")),
            None => assert!(operation["requestBody"].is_null(), "{method} {path}"),
        }
        assert_eq!(
            operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{answer}"),
            "{method} {path}"
        );
        assert_eq!(schemas[answer]["type"], "object", "{answer}");
        assert!(schemas[answer]["properties"].is_object(), "{answer}");
    }
    let comment = &schemas["CommentRequest"];
    assert_eq!(comment["required"], serde_json::json!(["comment"]));
    assert_eq!(comment["additionalProperties"], Value::Bool(false));
    assert_eq!(
        comment["properties"]["platforms"]["items"]["$ref"],
        "#/components/schemas/Platform"
    );
    assert_eq!(comment["properties"]["media_urls"]["maxItems"], 1);
    assert_eq!(comment["properties"]["comment"]["maxLength"], 10_000);
    let reply = &schemas["ReplyRequest"];
    assert_eq!(
        reply["required"],
        serde_json::json!(["comment", "platform"])
    );
    assert_eq!(reply["additionalProperties"], Value::Bool(false));
    assert_eq!(
        reply["properties"]["platform"]["$ref"],
        "#/components/schemas/Platform"
    );
    for (name, fields) in [
        (
            "CommentList",
            &["post_id", "tracking_id", "comments", "replies_limit"][..],
        ),
        (
            "CommentWriteView",
            &[
                "write_id",
                "write_status",
                "operation",
                "post_id",
                "tracking_id",
                "results",
            ],
        ),
    ] {
        let required = schemas[name]["required"].as_array().unwrap();
        for field in fields {
            assert!(required.contains(&Value::from(*field)), "{name} {field}");
        }
    }
    app.finish().await;
}

/// The dry run takes a create's body and answers the verdict; the create and PATCH take a
/// `timezone`, and `schedule_date` is a string (a local time is not an RFC 3339 date-time).
#[tokio::test]
async fn the_dry_run_and_the_timezone_are_described() {
    let app = app().await;
    let document = document(&app).await;
    let dry_run = &document["paths"]["/social/post/validate"]["post"];
    assert_eq!(
        dry_run["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreatePostRequest"
    );
    let ok = &dry_run["responses"]["200"]["content"]["application/json"];
    assert_eq!(ok["schema"]["$ref"], "#/components/schemas/DryRun");
    assert_eq!(ok["example"]["valid"], false);
    for status in ["429", "502", "503", "504"] {
        assert!(dry_run["responses"][status].is_object(), "lacks {status}");
    }
    let verdict = &document["components"]["schemas"]["DryRun"];
    for field in ["valid", "errors", "warnings"] {
        assert!(verdict["properties"][field].is_object(), "{verdict}");
    }
    assert!(document["components"]["schemas"]["DryRunProblem"]["properties"]["source"].is_object());
    for request in ["CreatePostRequest", "UpdatePostRequest"] {
        let properties = &document["components"]["schemas"][request]["properties"];
        assert!(properties["timezone"].is_object(), "{request}");
        assert!(
            properties["schedule_date"].get("format").is_none(),
            "{request}"
        );
    }
    let track = &document["components"]["schemas"]["TrackingView"]["properties"];
    assert!(track["timezone"].is_object());
    app.finish().await;
}

/// With `METRICS_BIND_ADDR`, `/metrics` leaves the main listener, and the document says so.
#[tokio::test]
async fn metrics_on_a_listener_of_its_own_leave_the_document() {
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = Options {
        env: vec![("METRICS_BIND_ADDR", format!("127.0.0.1:{metrics_port}"))],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await.unwrap();
    let document = document(&app).await;
    assert!(
        document["paths"]["/metrics"].is_null(),
        "{}",
        document["paths"]
    );
    assert!(document["paths"]["/whoami"].is_object());
    app.finish().await;
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_by_the_service() {
    let app = app().await;
    let page = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    // Every script and style sheet is the service's own.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        assert!(html.contains(asset), "{asset}");
        let response = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 100, "{asset}");
    }
    let initializer = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
    // No validator badge: it would call validator.swagger.io.
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "{initializer}"
    );
    assert!(!initializer.contains("petstore"), "{initializer}");

    for missing in ["/docs/nope.js", "/docs/index.html"] {
        expect_error(
            app.client.get(app.url(missing)).send().await.unwrap(),
            404,
            "not_found",
        )
        .await;
    }
    app.finish().await;
}

/// The endpoint routes document their own answers, and no example holds a secret: the only
/// `whsec_` in the document is the placeholder `whsec_…`.
#[tokio::test]
async fn the_endpoint_routes_are_described_without_a_secret() {
    let app = app().await;
    let document = document(&app).await;
    let statuses = |path: &str, method: &str| -> Vec<String> {
        document["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}"))
            .keys()
            .cloned()
            .collect()
    };
    for status in ["201", "400", "404", "409", "413", "415", "503"] {
        assert!(
            statuses("/webhooks/endpoints", "post").contains(&status.to_owned()),
            "{status}"
        );
    }
    assert!(statuses("/webhooks/endpoints/{id}", "delete").contains(&"204".to_owned()));
    assert!(statuses("/webhooks/endpoints/{id}/test", "post").contains(&"202".to_owned()));
    assert!(statuses("/webhooks/endpoints/{id}/redeliver", "post").contains(&"202".to_owned()));
    let request = &document["components"]["schemas"]["CreateEndpointRequest"];
    assert_eq!(
        request["additionalProperties"],
        Value::Bool(false),
        "{request}"
    );
    let text = document.to_string();
    let secrets = regex::Regex::new(r"whsec_[A-Za-z0-9+/]").unwrap();
    assert!(!secrets.is_match(&text), "a secret in the document");
    assert!(text.contains("whsec_…"));
    app.finish().await;
}
