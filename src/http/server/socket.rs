//! The connection's socket as hyper sees it: it notes when bytes arrive, and it replaces
//! hyper's own answer to a request it could not parse (an empty 400 or 431) with the
//! contract's JSON error, then lingers briefly so that the client can read it.
//!
//! hyper has no hook for that answer: it writes it itself and closes. But it is recognisable:
//! it is the only thing hyper writes while the connection is quiet (see `Activity::is_quiet`:
//! no request in service, no response of ours open, and all of ours flushed).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::activity::Activity;
use crate::http::error::unparsed_request_answer;

/// How long a closing connection that had a protocol error keeps reading (and discarding)
/// what the client still sends, so that closing does not reset the connection before the
/// client has read the answer.
const LINGER: Duration = Duration::from_secs(2);

pub(super) struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
    /// Our answer in place of hyper's, once hyper has begun its own.
    answer: Option<Answer>,
}

struct Answer {
    bytes: Vec<u8>,
    written: usize,
    /// Set once the answer is out and the socket is being closed.
    linger: Option<Pin<Box<Sleep>>>,
}

impl Watched {
    pub(super) fn new(inner: TcpStream, activity: Arc<Activity>) -> Watched {
        Watched {
            inner,
            activity,
            answer: None,
        }
    }

    /// Whether `first` (the start of what hyper writes) is hyper's own answer; if so, ours
    /// replaces it from here on.
    fn intercept(&mut self, first: &[u8]) {
        if self.answer.is_some() || !self.activity.is_quiet() {
            return;
        }
        if let Some(status) = hyper_status(first) {
            tracing::debug!(
                status = status.as_u16(),
                "a request hyper could not parse: answering it with JSON"
            );
            self.answer = Some(Answer {
                bytes: raw_answer(status),
                written: 0,
                linger: None,
            });
        }
    }

    /// Writes what is left of our answer.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(answer) = &mut self.answer else {
            return Poll::Ready(Ok(()));
        };
        while answer.written < answer.bytes.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &answer.bytes[answer.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            answer.written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// After our answer and its FIN: reads and drops what the client still sends, until it
    /// closes or `LINGER` passes.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(answer) = &mut self.answer else {
            return Poll::Ready(());
        };
        let linger = answer
            .linger
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(LINGER)));
        if linger.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        let mut scratch = [0u8; 4096];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => continue,
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The status of hyper's own answer, which starts with its status line.
fn hyper_status(first: &[u8]) -> Option<StatusCode> {
    let line = first.strip_prefix(b"HTTP/1.")?;
    let code = line.get(2..5)?;
    StatusCode::from_bytes(code)
        .ok()
        .filter(|s| s.is_client_error())
}

/// Our answer as bytes on the wire: the contract's JSON error, and the connection closes.
fn raw_answer(status: StatusCode) -> Vec<u8> {
    let (status, body) = unparsed_request_answer(status);
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-request-id: {}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
        uuid::Uuid::new_v4()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.intercept(buf);
        if self.answer.is_some() {
            // hyper's bytes are dropped: ours are written instead.
            ready!(self.poll_answer(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            self.intercept(first);
        }
        if self.answer.is_some() {
            ready!(self.poll_answer(cx))?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_answer(cx))?;
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        self.activity.flushed();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_answer(cx))?;
        ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
        ready!(self.poll_linger(cx));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_error_status_line_is_taken_for_hyper_s_answer() {
        assert_eq!(
            hyper_status(b"HTTP/1.1 400 Bad Request\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            hyper_status(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        for other in [
            &b"HTTP/1.1 200 OK\r\n"[..],
            b"HTTP/1.1 100 Continue\r\n",
            b"{\"status\":\"ok\"}",
            b"HTTP/1.1 4",
            b"",
        ] {
            assert_eq!(
                hyper_status(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn the_raw_answer_is_a_complete_json_response_that_closes() {
        let bytes = raw_answer(StatusCode::BAD_REQUEST);
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"], "validation_error");
    }
}
