//! Connections at a bounded cost: a head that never finishes and a silent connection are closed,
//! connections past the cap wait until one closes, and a shutdown drops what is idle or
//! half-sent after its deadline while a request in flight still finishes and is recorded.
//! Outcomes only (answered, refused, closed): the waits below are safety nets, never asserted.

use std::time::Duration;

use mosaic_social::domain::TrackedStatus;
use mosaic_social::http::ConnectionLimits;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wiremock::ResponseTemplate;

use crate::backend_tests;
use crate::create_post::{answer_post, success_body};
use crate::support::{Options, TestApp, response_json};

/// A safety net so that a broken bound fails the test instead of hanging it.
const NET: Duration = Duration::from_secs(60);

/// Short timeouts, to see connections closed within a test.
fn short_timeouts() -> Options {
    Options {
        connection_limits: ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_connections: 64,
            shutdown_grace: Duration::from_secs(1),
        },
        ..Options::default()
    }
}

/// Timeouts that never fire within a test: only the cap or the shutdown closes anything.
fn patient(max_connections: usize) -> Options {
    Options {
        connection_limits: ConnectionLimits {
            header_read_timeout: Duration::from_secs(3600),
            idle_timeout: Duration::from_secs(3600),
            max_connections,
            shutdown_grace: Duration::from_secs(1),
        },
        ..Options::default()
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; returns what it sent before closing.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(NET, stream.read(&mut buffer)).await {
            Err(_) => panic!("the server kept the connection open"),
            Ok(Ok(0)) | Ok(Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

async fn healthy(app: &TestApp) {
    let response = tokio::time::timeout(NET, app.client.get(app.url("/healthz")).send())
        .await
        .expect("/healthz answers")
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response_json(response).await["status"], "ok");
}

async fn nothing_written_or_sent(app: &TestApp) {
    assert!(app.records().await.is_empty());
    assert!(app.ayrshare.received_requests().await.unwrap().is_empty());
}

backend_tests! {
    async fn a_head_that_never_finishes_is_closed_without_an_answer(app) [short_timeouts()] {
        let mut stream = connect(app).await;
        stream.write_all(b"POST /social/post HTTP/1.1\r\nHost: x\r\nContent-Type: applic").await.unwrap();
        // A slowloris keeps trickling; the deadline counts from the head's first byte.
        let trickle = async {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if stream.write_all(b"a").await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(NET, trickle).await;
        assert!(read_until_closed(&mut stream).await.is_empty());
        nothing_written_or_sent(app).await;
        healthy(app).await;
    }

    async fn a_silent_connection_is_closed_before_and_between_requests(app) [short_timeouts()] {
        let mut silent = connect(app).await;
        assert!(read_until_closed(&mut silent).await.is_empty());

        let mut kept_alive = connect(app).await;
        kept_alive.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let answered = read_until_closed(&mut kept_alive).await;
        assert!(answered.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&answered));
        healthy(app).await;
    }

    async fn a_head_over_64_kib_is_refused_and_the_service_carries_on(app) {
        let response = app.client.get(app.url("/healthz"))
            .header("x-padding", "a".repeat(100 * 1024))
            .send().await;
        // hyper answers 431 and closes; either way nothing reaches the router.
        if let Ok(response) = response {
            assert_eq!(response.status(), 431);
        }
        nothing_written_or_sent(app).await;
        healthy(app).await;
    }

    async fn connections_past_the_cap_wait_until_one_closes(app) [patient(3)] {
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut stream = connect(app).await;
            // One whole request each, so every slot is provably taken.
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
            let mut buffer = [0u8; 1024];
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(buffer[..n].starts_with(b"HTTP/1.1 200 OK"));
            held.push(stream);
        }
        let client = app.client.clone();
        let url = app.url("/healthz");
        let waiting = tokio::spawn(async move { client.get(url).send().await });
        // Past the cap, the fourth is not even accepted. (This can only pass wrongly, on a
        // machine too slow to answer in time; never fail wrongly.)
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "a connection past the cap was served");
        drop(held.pop());
        let response = tokio::time::timeout(NET, waiting).await.unwrap().unwrap().unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn a_shutdown_drops_idle_and_half_sent_connections_and_finishes_requests_in_flight(app) [patient(64)] {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())
            .set_delay(Duration::from_secs(2))).await;

        let mut idle = connect(app).await;
        let mut half_head = connect(app).await;
        half_head.write_all(b"POST /social/post HTTP/1.1\r\nHost: x\r\nAuthor").await.unwrap();
        let mut half_body = connect(app).await;
        let head = format!(
            "POST /social/post HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"platforms\":",
            app.api_key
        );
        half_body.write_all(head.as_bytes()).await.unwrap();

        // A create whose Ayrshare call is under way when the signal comes.
        let request = app.post(&json!({"post": "in flight", "platforms": ["x"]}));
        let in_flight = tokio::spawn(async move { request.send().await });
        tokio::time::timeout(NET, async {
            while app.ayrshare.received_requests().await.unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }).await.expect("the create reaches Ayrshare");

        app.begin_shutdown();
        let response = tokio::time::timeout(NET, in_flight).await.unwrap().unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response_json(response).await["tracked_status"], "posted");
        for stream in [&mut idle, &mut half_head, &mut half_body] {
            assert!(read_until_closed(stream).await.is_empty());
        }
        tokio::time::timeout(NET, app.stop()).await.expect("the server stops");

        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 1);
        assert!(TcpStream::connect(app.address.trim_start_matches("http://")).await.is_err(),
            "still accepting after shutdown");
    }
}
