//! The webhook receiver of `scripts/bench.sh`: answers every `POST` 204 at once and counts it,
//! and counts the distinct `webhook-id`s among them, so that an event delivered twice shows as
//! `received > distinct`. `GET /count` answers the number of POSTs, `GET /stats` both numbers
//! as JSON, `DELETE /stats` starts both again from zero. No signature is checked: the benchmark measures the service's delivery, not a
//! consumer's verification.
//!
//! It replaces a Python (asyncio) receiver: on the benchmark's two cores the receiver's CPU is
//! taken from the creates being measured, and a customer's receiver runs on its own machine, so
//! the cheaper the stand-in the closer the figure is to what a deployment sees. One thread: the
//! work per request is a hash-set insert.
//!
//! `bench-receiver PORT` (listens on 127.0.0.1:PORT, HTTP/1.1 keep-alive).

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

#[derive(Default)]
struct Counts {
    received: u64,
    ids: HashSet<Box<str>>,
}

type Shared = Arc<Mutex<Counts>>;

async fn answer(
    counts: Shared,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() == Method::POST {
        let id: Option<Box<str>> = request
            .headers()
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .map(Box::from);
        // The body is read to its end, as a real receiver would, so that the connection stays
        // usable for the next request.
        let _ = request.into_body().collect().await;
        let mut counts = counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.received += 1;
        if let Some(id) = id {
            counts.ids.insert(id);
        }
        drop(counts);
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        return Ok(response);
    }
    let (received, distinct) = {
        let mut counts = counts.lock().unwrap_or_else(|p| p.into_inner());
        if request.method() == Method::DELETE {
            *counts = Counts::default();
        }
        (counts.received, counts.ids.len())
    };
    let body = match request.uri().path() {
        "/stats" => format!("{{\"received\": {received}, \"distinct\": {distinct}}}"),
        _ => received.to_string(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: bench-receiver PORT"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let counts: Shared = Arc::default();
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let counts = counts.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request| answer(counts.clone(), request));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
