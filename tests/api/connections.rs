//! Connections at a bounded cost: a head that never finishes, a silent connection and one
//! without a first request in time are closed; at the cap, a new connection closes the longest
//! idle one (else the oldest head still arriving), and waits only while every connection has a
//! request in service, so that `/healthz` stays fast; a body slower than the minimum rate is
//! cut; a shutdown drops what is idle or half-sent after its deadline while a request in
//! flight still finishes and is recorded.
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
            first_request_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_connections: 64,
            min_body_rate: 0,
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
            first_request_timeout: Duration::from_secs(3600),
            idle_timeout: Duration::from_secs(3600),
            max_connections,
            min_body_rate: 0,
            shutdown_grace: Duration::from_secs(1),
        },
        ..Options::default()
    }
}

/// Only the first request's deadline is short.
fn first_request_within_a_second() -> Options {
    let mut options = patient(64);
    options.connection_limits.first_request_timeout = Duration::from_secs(1);
    options
}

/// Bodies must arrive at 1,000 bytes a second, after a second's grace.
fn paced_bodies() -> Options {
    let mut options = patient(64);
    options.connection_limits.header_read_timeout = Duration::from_secs(1);
    options.connection_limits.min_body_rate = 1_000;
    options
}

/// Writes one whole request and reads its answer's head, leaving the connection idle.
async fn one_request(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let n = tokio::time::timeout(NET, stream.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buffer[..n].starts_with(b"HTTP/1.1 200 OK"),
        "{}",
        String::from_utf8_lossy(&buffer[..n])
    );
}

/// Whether the server has closed `stream`, looking for a moment (an open connection sends
/// nothing, so the read times out).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// A request whose body is still arriving: in service, so never closed to make room.
async fn half_sent_body(app: &TestApp) -> TcpStream {
    let mut stream = connect(app).await;
    let head = format!(
        "POST /social/post HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"platforms\":",
        app.api_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
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

    async fn connections_past_the_cap_wait_while_every_one_has_a_request_in_service(app) [patient(3)] {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(half_sent_body(app).await);
        }
        // Every slot provably taken: each request has reached the handler, which waits for the
        // rest of the body.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let client = app.client.clone();
        let url = app.url("/healthz");
        let waiting = tokio::spawn(async move { client.get(url).send().await });
        // Past the cap, the fourth is not served. (This can only pass wrongly, on a machine too
        // slow to answer in time; never fail wrongly.)
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "a connection past the cap was served");
        drop(held.pop());
        let response = tokio::time::timeout(NET, waiting).await.unwrap().unwrap().unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn at_the_cap_the_longest_idle_connection_is_closed_to_admit_a_new_one(app) [patient(3)] {
        let mut idle = Vec::new();
        for _ in 0..3 {
            let mut stream = connect(app).await;
            one_request(&mut stream).await;
            idle.push(stream);
        }
        // Every slot is taken by an idle keep-alive connection; a new one is served at once.
        let mut newcomer = connect(app).await;
        one_request(&mut newcomer).await;
        assert!(read_until_closed(&mut idle[0]).await.is_empty());
        for stream in &mut idle[1..] {
            assert!(!closed(stream).await, "a newer idle connection was closed");
            one_request(stream).await;
        }
    }

    async fn at_the_cap_heads_still_arriving_are_closed_after_the_idle_ones(app) [patient(3)] {
        let slow_head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        let mut heads = Vec::new();
        for _ in 0..2 {
            let mut stream = connect(app).await;
            stream.write_all(slow_head).await.unwrap();
            heads.push(stream);
        }
        let mut idle = connect(app).await;
        one_request(&mut idle).await;
        // The idle connection goes first, though it is the newest.
        let mut newcomer = connect(app).await;
        one_request(&mut newcomer).await;
        assert!(read_until_closed(&mut idle).await.is_empty());
        assert!(!closed(&mut heads[0]).await, "a head was closed before an idle connection");
        // With only heads left, the oldest goes.
        newcomer.write_all(slow_head).await.unwrap();
        let mut last = connect(app).await;
        one_request(&mut last).await;
        assert!(read_until_closed(&mut heads[0]).await.is_empty());
        assert!(!closed(&mut heads[1]).await, "the newer head was closed");
        assert!(!closed(&mut newcomer).await, "the newest head was closed");
    }

    async fn a_connection_without_a_first_request_is_closed_at_its_deadline(app) [first_request_within_a_second()] {
        let mut silent = connect(app).await;
        assert!(read_until_closed(&mut silent).await.is_empty());
        // The deadline covers the whole first head, however it trickles.
        let mut trickling = connect(app).await;
        trickling.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        let trickle = async {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if trickling.write_all(b"X-A: b\r\n").await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(NET, trickle).await;
        assert!(read_until_closed(&mut trickling).await.is_empty());
        // After a first request, the (patient) idle timeout applies instead.
        let mut kept_alive = connect(app).await;
        one_request(&mut kept_alive).await;
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert!(!closed(&mut kept_alive).await, "a kept-alive connection was closed");
        one_request(&mut kept_alive).await;
    }

    async fn healthz_stays_fast_with_idle_sockets_and_slowloris_clients_past_the_cap(app) [patient(16)] {
        // Scaled down from 5,000 idle sockets and 600 slowloris clients on 512 slots, with
        // timeouts that never fire: only eviction makes room.
        let mut idle = Vec::new();
        for _ in 0..160 {
            idle.push(connect(app).await);
        }
        let address = app.address.trim_start_matches("http://").to_owned();
        let mut slowloris = Vec::new();
        for _ in 0..24 {
            let address = address.clone();
            slowloris.push(tokio::spawn(async move {
                loop {
                    // One header line every 100 ms until the server closes it; then again.
                    if let Ok(mut stream) = TcpStream::connect(&address).await {
                        let mut line: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";
                        while stream.write_all(line).await.is_ok() {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            line = b"X-A: b\r\n";
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A new connection for every probe, as kubelet's are: at the cap, an idle kept-alive
        // connection is the first to be closed, and a client may send on it as it closes.
        let probe = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        for _ in 0..20 {
            let response = tokio::time::timeout(Duration::from_secs(5), probe.get(app.url("/healthz")).send())
                .await.expect("/healthz answers within 5 s").unwrap();
            assert_eq!(response.status(), 200);
        }
        for task in slowloris {
            task.abort();
        }
    }

    async fn a_trickled_body_is_cut_at_the_minimum_rate(app) [paced_bodies()] {
        let mut stream = connect(app).await;
        let head = format!(
            "POST /social/post HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n",
            app.api_key
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // 50 bytes a second, a twentieth of the minimum.
        let trickle = async {
            loop {
                if stream.write_all(b"     ").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), trickle).await;
        let answer = read_until_closed(&mut stream).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
        let body: serde_json::Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["error"], "request_timeout", "{body}");
        assert!(body["detail"].as_str().unwrap().contains("1000 bytes a second"), "{body}");
        nothing_written_or_sent(app).await;

        // The same on a chunked body.
        let mut stream = connect(app).await;
        let head = format!(
            "POST /social/post HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            app.api_key
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let trickle = async {
            loop {
                if stream.write_all(b"5\r\n     \r\n").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), trickle).await;
        let answer = read_until_closed(&mut stream).await;
        assert!(answer.starts_with(b"HTTP/1.1 408 "), "{}", String::from_utf8_lossy(&answer));
        healthy(app).await;
    }

    async fn a_body_above_the_minimum_rate_is_read_whole(app) [paced_bodies()] {
        // 3,000 bytes over about 1.5 s: 2,000 bytes a second, twice the minimum.
        let body = format!(r#"{{"platforms": ["myspace"]{}}}"#, " ".repeat(3_000));
        let mut stream = connect(app).await;
        let head = format!(
            "POST /social/post HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            app.api_key,
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        for chunk in body.as_bytes().chunks(200) {
            stream.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let answer = read_until_closed(&mut stream).await;
        let text = String::from_utf8_lossy(&answer);
        // The body was read to its end: the platform is refused, not the pace.
        assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
        assert!(text.contains("myspace"), "{text}");
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
