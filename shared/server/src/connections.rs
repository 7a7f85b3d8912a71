//! Accepting connections and serving each with HTTP/1.1, or with HTTP/2 when the client opens
//! with its connection preface (cleartext HTTP/2 with prior knowledge).
//!
//! The protocol is told by peeking at the socket, without reading from it. A server that reads
//! the first bytes to tell (as `axum::serve` does) hands them back to HTTP/1.1 on their own,
//! and the connection's read buffer then grows from 8 to 16 KB on the next read and stays so:
//! 8 KB more for every keep-alive connection waiting for its next request.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tower::Service;

/// What every HTTP/2 connection opens with (RFC 9113, section 3.4).
const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long a client that has sent part of HTTP/2's preface is given to send the rest.
const PARTIAL_PREFACE_WAIT: Duration = Duration::from_secs(10);

/// How long to wait before accepting again after an error that is not the connection's own
/// (out of file descriptors, say), so that the loop does not spin while it lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on the connections accepted from `listener` until `stopped` turns true (or its
/// sender is dropped). Then it accepts no more, asks every connection to close once its
/// requests in flight are answered, and returns when all have closed.
pub async fn serve(listener: TcpListener, app: Router, mut stopped: watch::Receiver<bool>) {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                // Small SSE chunks must leave at once, not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                connections.spawn(connection(stream, peer, app.clone(), stopped.clone()));
            }
            Err(error) if is_the_connections_own(&error) => {}
            Err(error) => {
                tracing::error!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// A connection that was reset or aborted before it was accepted: nothing to do about it.
fn is_the_connections_own(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    mut stopped: watch::Receiver<bool>,
) {
    let http2 = tokio::select! {
        opens = opens_with_http2_preface(&stream) => match opens {
            Ok(http2) => http2,
            Err(_) => return,
        },
        _ = stopped.wait_for(|stop| *stop) => return,
    };
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        // The caller's address, for the source-IP rules (`crate::auth`).
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().call(request)
    });
    let io = TokioIo::new(stream);
    if http2 {
        let connection = http2::Builder::new(TokioExecutor::new()).serve_connection(io, service);
        until_closed(connection, stopped).await;
    } else {
        let connection = http1::Builder::new().serve_connection(io, service);
        until_closed(connection, stopped).await;
    }
}

/// Serves `connection` until it closes; once `stopped` turns true, it closes as soon as its
/// requests in flight are answered.
async fn until_closed<C: GracefulConnection>(connection: C, mut stopped: watch::Receiver<bool>) {
    tokio::pin!(connection);
    tokio::select! {
        // A connection's I/O errors are the client's business (it went away, say).
        _ = connection.as_mut() => return,
        _ = stopped.wait_for(|stop| *stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Whether the client's first bytes are HTTP/2's connection preface. Decided as soon as they
/// differ from it (an HTTP/1.1 request line) or match it whole. A client that closes before
/// sending anything, or stops part-way through the preface, is left to HTTP/1.1, which refuses
/// what it got and closes.
async fn opens_with_http2_preface(stream: &TcpStream) -> io::Result<bool> {
    let mut first = [0; HTTP2_PREFACE.len()];
    let mut pause = Duration::from_millis(1);
    let mut waited = Duration::ZERO;
    loop {
        let n = stream.peek(&mut first).await?;
        if n == 0 || first[..n] != HTTP2_PREFACE[..n] {
            return Ok(false);
        }
        if n == HTTP2_PREFACE.len() {
            return Ok(true);
        }
        if waited >= PARTIAL_PREFACE_WAIT {
            return Ok(false);
        }
        // Part of the preface so far. Peeking leaves the bytes unread, so the socket stays
        // readable: wait rather than spin until the rest arrives.
        tokio::time::sleep(pause).await;
        waited += pause;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}
