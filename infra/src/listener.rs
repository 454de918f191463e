//! The local server's listener. A request that is not valid HTTP/1.1 never reaches the router:
//! hyper refuses it while reading the head (a header value holding a NUL, another control
//! character or DEL, a malformed header name, request line or method), answers a bare
//! `400 Bad Request` without a body, and closes the connection. Each connection this listener
//! accepts is wrapped so that this one answer goes out as a SCIM error like every other 400
//! (`invalidSyntax`, `application/scim+json`); everything else passes through untouched.
//!
//! hyper's own answer is recognised by its shape: a 400 head without a body and without a
//! content type, written at the start of a response. The router's answers always carry a
//! content type, and a JSON body cannot hold the bare CR LF that ends a head.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::serve::Listener;
use scim_shared::ScimError;
use scim_shared::protocol::http::ScimResponse;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Accepts TCP connections as [`TcpListener`] does, each wrapped in [`ScimErrors`].
#[derive(Debug)]
pub struct ScimListener(pub TcpListener);

impl Listener for ScimListener {
    type Io = ScimErrors<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = Listener::accept(&mut self.0).await;
        (ScimErrors::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection whose bare `400 Bad Request` from hyper is replaced by a SCIM error.
#[derive(Debug)]
pub struct ScimErrors<IO> {
    inner: IO,
    /// The SCIM answer that replaced hyper's, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<IO> ScimErrors<IO> {
    pub fn new(inner: IO) -> Self {
        ScimErrors {
            inner,
            replacement: None,
        }
    }
}

/// The status line of hyper's answer to a request it cannot parse.
const BARE_BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\n";

/// Whether `buf` is exactly one response head, a 400 without a content type.
fn is_bare_bad_request(buf: &[u8]) -> bool {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
    buf.starts_with(BARE_BAD_REQUEST)
        && head_end == Some(buf.len() - 4)
        && !buf
            .split(|&b| b == b'\n')
            .any(|line| line.to_ascii_lowercase().starts_with(b"content-type:"))
}

/// The SCIM answer to a request that is not valid HTTP/1.1; the connection closes after it.
fn scim_bad_request() -> Vec<u8> {
    let error = ScimError::InvalidSyntax(
        "the request is not valid HTTP/1.1: its request line or a header is malformed, or a \
         header holds a character HTTP forbids (NUL, another control character, DEL)"
            .into(),
    );
    let response = ScimResponse::error(&error);
    let body = response.body_bytes();
    let mut out = b"HTTP/1.1 400 Bad Request\r\n".to_vec();
    for (name, value) in response.headers() {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(&body);
    out
}

impl<IO: AsyncWrite + Unpin> ScimErrors<IO> {
    /// Writes what is left of the replacement answer, if any.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                self.replacement = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ScimErrors<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ScimErrors<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        if is_bare_bad_request(buf) {
            // hyper's bytes count as written; the SCIM answer goes out on the flush that follows.
            this.replacement = Some((scim_bad_request(), 0));
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    /// One buffer at a time, so that a response head arrives whole in [`Self::poll_write`].
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_400_head_is_taken_for_hypers_answer() {
        let hyper = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Sun, 01 Feb 2026 00:00:00 GMT\r\n\r\n";
        assert!(is_bare_bad_request(hyper));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/scim+json\r\ncontent-length: 2\r\n\r\n";
        assert!(!is_bare_bad_request(ours));
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(!is_bare_bad_request(with_body));
        assert!(!is_bare_bad_request(b"HTTP/1.1 404 Not Found\r\n\r\n"));
        assert!(!is_bare_bad_request(
            b"{\"detail\":\"HTTP/1.1 400 Bad Request\"}"
        ));
    }

    #[test]
    fn the_replacement_is_a_scim_invalid_syntax_error_that_closes_the_connection() {
        let bytes = scim_bad_request();
        let text = String::from_utf8(bytes).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(
            head.contains("content-type: application/scim+json"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("connection: close"), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(body["status"], "400");
        assert_eq!(body["scimType"], "invalidSyntax");
    }
}
