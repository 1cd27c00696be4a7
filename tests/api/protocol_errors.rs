//! Requests hyper cannot parse never reach the router, and are still answered with the
//! contract's JSON error (not hyper's empty 400), then the connection is closed. What cannot be
//! answered at all (an HTTP/2 preface) is closed without a word, as `docs/limits.md` says.
//! Raw TCP: no client would send these.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend_tests;
use crate::support::{TestApp, response_json};

/// A safety net so that a connection left open fails the test instead of hanging it.
const NET: Duration = Duration::from_secs(30);

/// Sends `bytes` on a fresh connection and reads until the server closes it.
async fn exchange(app: &TestApp, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(bytes).await.unwrap();
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

/// The answer's status, lowercase headers, and JSON body.
fn parse(answer: &[u8]) -> (u16, Vec<(String, String)>, Value) {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let body = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {text:?}"));
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

async fn healthy(app: &TestApp) {
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response_json(response).await["status"], "ok");
}

backend_tests! {
    async fn requests_hyper_cannot_parse_are_answered_with_a_json_400(app) {
        let cases: [(&str, &[u8]); 8] = [
            ("negative content-length",
             b"POST /social/post HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            ("two content-lengths",
             b"POST /social/post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"),
            ("content-length not a number",
             b"POST /social/post HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n"),
            ("nul in a header",
             b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\0b\r\n\r\n"),
            ("obs-fold",
             b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n folded\r\n\r\n"),
            ("http/0.9", b"GET /healthz\r\n\r\n"),
            ("a method that is not a token", b"G(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("a transfer-encoding that does not end in chunked",
             b"POST /social/post HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
        ];
        for (case, request) in cases {
            let answer = exchange(app, request).await;
            let (status, headers, body) = parse(&answer);
            assert_eq!(status, 400, "{case}");
            assert_eq!(header(&headers, "content-type"), Some("application/json"), "{case}");
            assert_eq!(header(&headers, "connection"), Some("close"), "{case}");
            let length: usize = header(&headers, "content-length").unwrap().parse().unwrap();
            assert_eq!(length, serde_json::to_vec(&body).unwrap().len(), "{case}");
            assert!(header(&headers, "x-request-id").is_some(), "{case}");
            assert_eq!(body["error"], "validation_error", "{case}: {body}");
            assert_eq!(body["errors"][0]["field"], "request", "{case}: {body}");
            assert!(body["detail"].as_str().unwrap().starts_with("request: "), "{case}: {body}");
        }
        healthy(app).await;
    }

    async fn a_head_over_the_limit_is_answered_with_a_json_431(app) {
        let mut request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 100 * 1024));
        request.extend_from_slice(b"\r\n\r\n");
        let answer = exchange(app, &request).await;
        let (status, headers, body) = parse(&answer);
        assert_eq!(status, 431);
        assert_eq!(header(&headers, "content-type"), Some("application/json"));
        assert_eq!(body["error"], "request_head_too_large", "{body}");
        assert!(body["detail"].as_str().unwrap().contains("64 KiB"), "{body}");
        healthy(app).await;
    }

    async fn a_good_request_after_a_good_one_is_not_mistaken_for_a_bad_one(app) {
        // Two requests on one connection (pipelined), then a bad one: the first two are
        // answered by the router, the third by the protocol error, in that order.
        let answer = exchange(app, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
            GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n\
            GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\0b\r\n\r\n").await;
        let text = String::from_utf8_lossy(&answer);
        let statuses: Vec<&str> = text.match_indices("HTTP/1.1 ").map(|(i, _)| &text[i + 9..i + 12]).collect();
        assert_eq!(statuses, ["200", "404", "400"], "{text}");
        let last = &answer[text.rfind("HTTP/1.1 400").unwrap()..];
        assert_eq!(parse(last).2["error"], "validation_error");
    }

    async fn an_http2_preface_is_closed_without_an_answer(app) {
        let answer = exchange(app, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
        assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
        healthy(app).await;
    }
}
