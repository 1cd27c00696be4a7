//! `POST /api/analytics/post`: per-platform numbers under Ayrshare's names.

use super::*;

async fn analytics(mock: &Mock, body: Value) -> Answer {
    call(Method::POST, "/api/analytics/post")
        .json(body)
        .send(mock)
        .await
}

fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

#[tokio::test]
async fn each_network_reports_its_own_metric_names_with_id_url_and_update_times() {
    let mock = Mock::new();
    let all = json!([
        "twitter",
        "facebook",
        "instagram",
        "linkedin",
        "tiktok",
        "youtube"
    ]);
    let created = mock
        .post(json!({"post": "numbers", "platforms": all}))
        .await;
    let id = created.id();
    let answer = analytics(&mock, json!({"id": id, "source": "pypi"})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = &answer.body;
    assert_eq!(body["status"], "success");
    assert_eq!(body["errors"], json!([]));
    let expected = [
        ("twitter", "/publicMetrics/likeCount"),
        ("twitter", "/publicMetrics/retweetCount"),
        ("twitter", "/publicMetrics/impressionCount"),
        ("facebook", "/likeCount"),
        ("facebook", "/commentCount"),
        ("facebook", "/shareCount"),
        ("instagram", "/likeCount"),
        ("instagram", "/commentsCount"),
        ("instagram", "/viewsCount"),
        ("linkedin", "/impressionCount"),
        ("linkedin", "/likeCount"),
        ("linkedin", "/commentCount"),
        ("linkedin", "/shareCount"),
        ("tiktok", "/videoViews"),
        ("tiktok", "/likeCount"),
        ("youtube", "/views"),
        ("youtube", "/likes"),
        ("youtube", "/comments"),
    ];
    for (platform, pointer) in expected {
        let metrics = &body[platform]["analytics"];
        assert!(
            metrics.pointer(pointer).is_some_and(Value::is_u64),
            "{platform}{pointer} in {metrics}"
        );
    }
    for (index, entry) in created.body["postIds"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let platform = entry["platform"].as_str().unwrap();
        assert_eq!(body[platform]["id"], entry["id"], "entry {index}");
        assert_eq!(body[platform]["postUrl"], entry["postUrl"]);
        assert_eq!(body[platform]["lastUpdated"], "2026-03-01T12:00:00Z");
        assert_eq!(body[platform]["nextUpdate"], "2026-03-01T12:10:00Z");
    }
    // Plausible: likes never exceed impressions or views, and a second read agrees.
    let linkedin = &body["linkedin"]["analytics"];
    assert!(number(&linkedin["likeCount"]) <= number(&linkedin["impressionCount"]));
    assert!(number(&linkedin["commentCount"]) <= number(&linkedin["likeCount"]));
    let instagram = &body["instagram"]["analytics"];
    assert!(number(&instagram["likeCount"]) <= number(&instagram["viewsCount"]));
    let again = analytics(&mock, json!({"id": id})).await;
    assert_eq!(
        again.body["linkedin"]["analytics"],
        body["linkedin"]["analytics"]
    );
}

#[tokio::test]
async fn asking_for_platforms_narrows_the_answer_and_a_missing_one_makes_it_partial() {
    let mock = Mock::new();
    let id = mock
        .post(json!({"post": "p", "platforms": ["twitter", "facebook"]}))
        .await
        .id();
    let narrowed = analytics(&mock, json!({"id": id, "platforms": ["facebook"]})).await;
    assert!(narrowed.body.get("twitter").is_none());
    assert!(narrowed.body.get("facebook").is_some());
    let partial = analytics(&mock, json!({"id": id, "platforms": ["twitter", "reddit"]})).await;
    assert_eq!(partial.status, StatusCode::OK);
    assert_eq!(partial.body["status"], "partial");
    assert_eq!(partial.body["errors"][0]["platform"], "reddit");
    assert_eq!(partial.body["errors"][0]["code"], 386);
    let none = analytics(&mock, json!({"id": id, "platforms": ["reddit"]})).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert_eq!(none.body["status"], "error");
    analytics(&mock, json!({"id": id, "platforms": ["x"]}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
}

#[tokio::test]
async fn only_a_published_post_has_analytics() {
    let mock = Mock::new();
    let mut later = a_post("later");
    later["scheduleDate"] = json!(mock.in_seconds(60));
    let pending = mock.post(later).await.id();
    analytics(&mock, json!({"id": pending}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 386);
    let deleted = mock.post(a_post("gone")).await.id();
    mock.delete("/api/post", json!({"id": deleted})).await;
    analytics(&mock, json!({"id": deleted}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 383);
    analytics(&mock, json!({"id": "nope"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    analytics(&mock, json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
    // Once the scheduled post is out, it has numbers.
    mock.advance(61);
    assert_eq!(
        analytics(&mock, json!({"id": pending})).await.body["status"],
        "success"
    );
}
