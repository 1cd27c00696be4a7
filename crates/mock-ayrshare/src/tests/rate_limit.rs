//! The per-profile rate limit: `x-ratelimit-max` / `x-ratelimit-count`, then 429.

use super::*;

fn limited(max: u64) -> Mock {
    Mock::with_config(MockConfig {
        rate_limit_max: max,
        ..MockConfig::default()
    })
}

#[tokio::test]
async fn past_the_max_a_profile_gets_429_until_its_window_ends_and_others_are_unaffected() {
    let mock = limited(3);
    for count in 1..=3 {
        let answer = mock.get("/api/history").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("x-ratelimit-max"), "3");
        assert_eq!(answer.header("x-ratelimit-count"), count.to_string());
    }
    mock.advance(60);
    let over = mock.post(a_post("one too many")).await;
    over.assert_error(StatusCode::TOO_MANY_REQUESTS, 429);
    assert_eq!(over.header("x-ratelimit-max"), "3");
    assert_eq!(over.header("x-ratelimit-count"), "4");
    assert_eq!(over.header("retry-after"), "240");
    assert_eq!(
        mock.post_counts(),
        (0, 0),
        "a refused post is not remembered"
    );
    let other = call(Method::GET, "/api/history")
        .header("Profile-Key", "other")
        .send(&mock)
        .await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.header("x-ratelimit-count"), "1");
    mock.advance(240);
    let next_window = mock.get("/api/history").await;
    assert_eq!(next_window.status, StatusCode::OK);
    assert_eq!(next_window.header("x-ratelimit-count"), "1");
}

#[tokio::test]
async fn requests_refused_for_their_key_and_the_mock_routes_are_not_counted() {
    let mock = limited(1);
    for _ in 0..3 {
        call(Method::GET, "/api/history")
            .without("Authorization")
            .send(&mock)
            .await;
        call(Method::GET, "/mock/profiles/p").send(&mock).await;
    }
    assert_eq!(mock.get("/api/history").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_max_of_zero_turns_the_limit_and_its_headers_off() {
    let mock = limited(0);
    for _ in 0..5 {
        let answer = mock.get("/api/history").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.headers.get("x-ratelimit-max").is_none());
        assert!(answer.headers.get("x-ratelimit-count").is_none());
    }
}

#[tokio::test]
async fn the_rate_limit_scenario_reports_the_configured_max() {
    let mock = limited(50);
    let answer = call(Method::GET, "/api/history")
        .header("X-Mock-Scenario", "rate_limit:1")
        .send(&mock)
        .await;
    answer.assert_error(StatusCode::TOO_MANY_REQUESTS, 429);
    assert_eq!(answer.header("x-ratelimit-max"), "50");
    assert!(answer.message().contains("50 requests"));
}
