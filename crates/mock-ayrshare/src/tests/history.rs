//! `GET /api/history` by date: `startDate`/`endDate` pick posts by publish date (`scheduleDate`,
//! else `created`), newest publish date first, as a client pages back through a busy profile.

use super::*;

fn texts(answer: &Answer) -> Vec<&str> {
    answer
        .body
        .as_array()
        .expect("an array")
        .iter()
        .map(|post| post["post"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn start_and_end_date_pick_posts_by_publish_date_newest_first() {
    let mock = Mock::new();
    mock.post(a_post("at 0")).await;
    mock.advance(10);
    mock.post(a_post("at 10")).await;
    mock.advance(10);
    // Created at 20, published at 25.
    let mut scheduled = a_post("scheduled for 25");
    scheduled["scheduleDate"] = json!(mock.in_seconds(5));
    mock.post(scheduled).await;
    mock.post(a_post("at 20")).await;
    mock.advance(30);
    mock.post(a_post("at 50")).await;

    // START is 12:00:00; percent-encoded as clients send it.
    let between = mock
        .get("/api/history?startDate=2026-03-01T12%3A00%3A10Z&endDate=2026-03-01T12%3A00%3A25Z&limit=10")
        .await;
    assert_eq!(between.status, StatusCode::OK, "{}", between.text);
    assert_eq!(texts(&between), ["scheduled for 25", "at 20", "at 10"]);
    // `limit` keeps the newest; the next page ends where it stopped.
    let page = mock
        .get("/api/history?startDate=2026-03-01T12:00:00Z&endDate=2026-03-01T12:00:25Z&limit=2")
        .await;
    assert_eq!(texts(&page), ["scheduled for 25", "at 20"]);
    let next = mock
        .get("/api/history?startDate=2026-03-01T12:00:00Z&endDate=2026-03-01T12:00:20Z&limit=2")
        .await;
    assert_eq!(texts(&next), ["at 20", "at 10"]);
    // Either end alone; without the `Z`; a day.
    let since = mock.get("/api/history?startDate=2026-03-01T12:00:21").await;
    assert_eq!(texts(&since), ["at 50", "scheduled for 25"]);
    let until = mock.get("/api/history?endDate=2026-03-01T12:00:09Z").await;
    assert_eq!(texts(&until), ["at 0"]);
    let day = mock.get("/api/history?startDate=2026-03-02").await;
    assert_eq!(texts(&day), Vec::<&str>::new());
    // Without dates: newest created first, as before.
    let all = mock.get("/api/history").await;
    assert_eq!(
        texts(&all),
        ["at 50", "at 20", "scheduled for 25", "at 10", "at 0"]
    );
}

#[tokio::test]
async fn an_unreadable_date_is_a_json_400() {
    let mock = Mock::new();
    let answer = mock.get("/api/history?endDate=yesterday").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["status"], "error");
    assert!(
        answer.body["message"].as_str().unwrap().contains("endDate"),
        "{}",
        answer.text
    );
}
