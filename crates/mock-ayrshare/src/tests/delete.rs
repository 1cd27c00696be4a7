//! `DELETE /api/post`: what can be deleted, `markManualDeleted`, and the refusals.

use super::*;

fn on(platforms: Value) -> Value {
    json!({"post": "hi", "platforms": platforms})
}

#[tokio::test]
async fn a_published_post_is_deleted_per_platform_with_its_native_ids() {
    let mock = Mock::new();
    let created = mock.post(on(json!(["twitter", "linkedin"]))).await;
    let id = created.id();
    let answer = mock.delete("/api/post", json!({"id": id})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.body,
        json!({
            "status": "success",
            "id": id,
            "twitter": {"action": "delete", "status": "success", "id": created.body["postIds"][0]["id"]},
            "linkedin": {"action": "delete", "status": "success", "id": created.body["postIds"][1]["id"]},
        })
    );
    assert_eq!(
        mock.get(&format!("/api/post/{id}")).await.body["status"],
        "deleted"
    );
}

#[tokio::test]
async fn a_published_instagram_or_tiktok_post_cannot_be_deleted_and_nothing_changes() {
    let mock = Mock::new();
    for platforms in [json!(["instagram"]), json!(["twitter", "tiktok"])] {
        let created = mock.post(on(platforms)).await;
        let id = created.id();
        let answer = mock.delete("/api/post", json!({"id": id})).await;
        answer.assert_error(StatusCode::BAD_REQUEST, 384);
        assert_eq!(answer.body["action"], "delete");
        let refused = if created.body["postIds"][0]["platform"] == "instagram" {
            "instagram"
        } else {
            "tiktok"
        };
        assert_eq!(answer.body[refused]["status"], "error");
        assert_eq!(answer.body[refused]["code"], 384);
        assert!(answer.body.get("twitter").is_none());
        assert_eq!(
            mock.get(&format!("/api/post/{id}")).await.body["status"],
            "success"
        );
    }
}

#[tokio::test]
async fn mark_manual_deleted_is_for_what_the_api_could_not_delete() {
    let mock = Mock::new();
    let instagram = mock.post(on(json!(["instagram"]))).await.id();
    let answer = mock
        .delete(
            "/api/post",
            json!({"id": instagram, "markManualDeleted": true}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.body,
        json!({"status": "success", "id": instagram, "markManualDeleted": true})
    );
    assert_eq!(
        mock.get(&format!("/api/post/{instagram}")).await.body["status"],
        "deleted"
    );

    let twitter = mock.post(on(json!(["twitter", "instagram"]))).await.id();
    let refused = mock
        .delete(
            "/api/post",
            json!({"id": twitter, "markManualDeleted": true}),
        )
        .await;
    refused.assert_error(StatusCode::BAD_REQUEST, 382);
    assert!(refused.message().contains("X/Twitter"), "{}", refused.text);
    assert_eq!(
        mock.get(&format!("/api/post/{twitter}")).await.body["status"],
        "success"
    );
}

#[tokio::test]
async fn a_scheduled_instagram_post_is_cancelled_since_nothing_was_published() {
    let mock = Mock::new();
    let mut body = on(json!(["instagram"]));
    body["scheduleDate"] = json!(mock.in_seconds(60));
    let id = mock.post(body).await.id();
    let answer = mock.delete("/api/post", json!({"id": id})).await;
    assert_eq!(answer.body, json!({"status": "success", "id": id}));
    mock.advance(120);
    let read = mock.get(&format!("/api/post/{id}")).await;
    assert_eq!(read.body["status"], "deleted");
    assert_eq!(read.body["postIds"], json!([]));
}

#[tokio::test]
async fn a_bulk_delete_reports_each_refusal_in_its_entry() {
    let mock = Mock::new();
    let twitter = mock.post(on(json!(["twitter"]))).await.id();
    let tiktok = mock.post(on(json!(["tiktok"]))).await.id();
    let answer = mock
        .delete("/api/post", json!({"bulk": [twitter, tiktok, twitter]}))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "error");
    let bulk = answer.body["bulk"].as_array().unwrap();
    assert_eq!(bulk[0]["status"], "success");
    assert_eq!(bulk[1]["code"], 384);
    assert_eq!(bulk[1]["id"], tiktok.as_str());
    assert_eq!(bulk[2]["code"], 383);
}
