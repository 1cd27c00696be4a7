//! Concurrent posts: one record and one Ayrshare call each, never more, never fewer.

use std::collections::HashSet;

use futures_util::future::join_all;
use mosaic_social::domain::TrackedStatus;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::create_post::success_body;
use crate::support::response_json;

backend_tests! {
    async fn fifty_concurrent_posts_make_fifty_records_and_fifty_calls(app) {
        Mock::given(method("POST")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(200).set_body_json(success_body())
                .set_delay(std::time::Duration::from_millis(50)))
            .expect(50)
            .mount(&app.ayrshare).await;
        let responses = join_all((0..50).map(|i| {
            app.post(&json!({"post": format!("post {i}"), "platforms": ["x"]})).send()
        })).await;
        let mut tracking_ids = HashSet::new();
        for response in responses {
            let response = response.unwrap();
            assert_eq!(response.status(), 200);
            let body = response_json(response).await;
            tracking_ids.insert(body["tracking_id"].as_str().unwrap().to_owned());
        }
        assert_eq!(tracking_ids.len(), 50);
        let records = app.records().await;
        assert_eq!(records.len(), 50);
        assert!(records.iter().all(|r| r.tracked_status == TrackedStatus::Posted));
        let stored: HashSet<String> = records.iter().map(|r| r.id.to_string()).collect();
        assert_eq!(stored, tracking_ids);
        let posts: HashSet<String> = records.iter().map(|r| r.post.clone()).collect();
        assert_eq!(posts.len(), 50);
        assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 50);
    }
}
