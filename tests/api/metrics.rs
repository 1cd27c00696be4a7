//! `GET /metrics` reflects a request just made: the HTTP request by route template and status,
//! the Ayrshare call, the record's transitions and the database pool. The recorder is global to
//! the test process, so every check compares a count before and after, and tolerates what other
//! tests add meanwhile.

use std::collections::HashMap;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::create_post::success_body;
use crate::support::{TestApp, response_json};

/// One scrape: each sample's name, labels and value.
struct Scrape {
    text: String,
    samples: Vec<(String, HashMap<String, String>, f64)>,
}

impl Scrape {
    async fn of(app: &TestApp) -> Scrape {
        // No API key: Prometheus scrapes without one.
        let response = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
        );
        let text = response.text().await.unwrap();
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(parse_sample)
            .collect();
        Scrape { text, samples }
    }

    /// The sum of `name` over the samples whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.samples.iter().any(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

/// `name{a="x",b="y"} 1` (label values here hold no `"` or `,`).
fn parse_sample(line: &str) -> (String, HashMap<String, String>, f64) {
    let (series, value) = line.rsplit_once(' ').unwrap();
    let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
    let Some((name, labels)) = series.split_once('{') else {
        return (series.to_owned(), HashMap::new(), value);
    };
    let labels = labels
        .trim_end_matches('}')
        .split("\",")
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once("=\"").unwrap();
            (key.to_owned(), value.trim_end_matches('"').to_owned())
        })
        .collect();
    (name.to_owned(), labels, value)
}

backend_tests! {
    async fn metrics_reflect_a_request_just_made(app) {
        Mock::given(method("POST")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
            .mount(&app.ayrshare).await;
        let before = Scrape::of(app).await;

        let response = app.post(&json!({"post": "counted", "platforms": ["x"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let tracking_id = response_json(response).await["tracking_id"].as_str().unwrap().to_owned();
        let response = app.get(&format!("/social/post/track/{tracking_id}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let response = app.get("/no/such/route/42").send().await.unwrap();
        assert_eq!(response.status(), 404);

        let after = Scrape::of(app).await;
        let grew = |name: &str, labels: &[(&str, &str)]| {
            let (b, a) = (before.sum(name, labels), after.sum(name, labels));
            assert!(a >= b + 1.0, "{name} {labels:?}: {b} -> {a}\n{}", after.text);
        };
        grew("mosaic_http_requests_total", &[("method", "POST"), ("route", "/social/post"), ("status", "200")]);
        grew("mosaic_http_requests_total",
             &[("method", "GET"), ("route", "/social/post/track/{tracking_id}"), ("status", "200")]);
        grew("mosaic_http_requests_total", &[("route", "unmatched"), ("status", "404")]);
        grew("mosaic_http_request_duration_seconds_count", &[("method", "POST"), ("route", "/social/post")]);
        grew("mosaic_ayrshare_calls_total", &[("endpoint", "POST /post"), ("outcome", "2xx")]);
        grew("mosaic_ayrshare_call_duration_seconds_count", &[("endpoint", "POST /post"), ("outcome", "2xx")]);
        grew("mosaic_tracking_transitions_total", &[("from", "none"), ("to", "pending")]);
        grew("mosaic_tracking_transitions_total", &[("from", "pending"), ("to", "posted")]);
        // Never a raw path or an id in a label.
        assert!(!after.text.contains(&tracking_id), "{}", after.text);
        assert!(!after.text.contains("/no/such/route"), "{}", after.text);
        // The pool, sampled at the scrape.
        assert!(after.has("mosaic_db_pool_connections", &[("state", "in_use")]), "{}", after.text);
        assert!(after.has("mosaic_db_pool_connections", &[("state", "idle")]), "{}", after.text);
        assert!(after.sum("mosaic_db_pool_max_connections", &[]) >= 1.0);
    }

    async fn hostile_methods_and_paths_fold_into_one_label_value_each(app) {
        use rand::Rng;
        let letters = |rng: &mut rand::rngs::ThreadRng, n: usize| -> String {
            (0..n).map(|_| rng.random_range(b'A'..=b'Z') as char).collect()
        };
        let mut rng = rand::rng();
        for _ in 0..200 {
            let method = reqwest::Method::from_bytes(letters(&mut rng, 2_000).as_bytes()).unwrap();
            let path = format!("/{}", letters(&mut rng, 200).to_lowercase());
            let response = app.client.request(method, app.url(&path)).send().await.unwrap();
            assert_eq!(response.status(), 404);
        }
        let scrape = Scrape::of(app).await;
        // 200 such requests made 8 MB of series; now the scrape stays the size of the
        // service's own routes (other tests add a few series meanwhile).
        assert!(scrape.text.len() < 256 * 1024, "{} bytes", scrape.text.len());
        let allowed = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                       "PATCH", "other"];
        for (name, labels, _) in &scrape.samples {
            if let Some(method) = labels.get("method") {
                assert!(allowed.contains(&method.as_str()), "{name}: method {method:.80}");
            }
            if let Some(route) = labels.get("route") {
                assert!(route == "unmatched" || route.starts_with('/') && route.len() < 64,
                        "{name}: route {route:.80}");
            }
        }
        assert!(scrape.sum("mosaic_http_requests_total",
                           &[("method", "other"), ("route", "unmatched"), ("status", "404")]) >= 200.0,
                "{}", scrape.text);
    }

    async fn a_key_over_its_limit_is_counted_as_a_refusal(app) [crate::support::Options {
        rate_limit: (1, 1),
        ..Default::default()
    }] {
        let before = Scrape::of(app).await;
        let track = format!("/social/post/track/{}", uuid::Uuid::new_v4());
        assert_eq!(app.get(&track).send().await.unwrap().status(), 404);
        assert_eq!(app.get(&track).send().await.unwrap().status(), 429);
        let after = Scrape::of(app).await;
        let kind = [("kind", "api_key")];
        assert!(
            after.sum("mosaic_rate_limit_refusals_total", &kind)
                >= before.sum("mosaic_rate_limit_refusals_total", &kind) + 1.0,
            "{}",
            after.text
        );
    }
}
