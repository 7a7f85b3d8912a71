//! Receipts reach the store before an invocation ends. The gateway queues receipts for a
//! background writer; Lambda freezes the environment as soon as a response is complete, so a
//! queued receipt could wait for the next invocation or be lost with the environment. This
//! body wrapper holds back the end of every response until the queue is written: the client
//! has every byte already, only the end-of-stream waits.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::Response;
use futures::FutureExt;
use futures::future::BoxFuture;
use gateway_server::access::Access;
use http_body::Frame;

/// The response with its end deferred until `access` has written its queue.
pub fn wrap(response: Response<Body>, access: Option<Arc<Access>>) -> Response<Body> {
    match access {
        Some(access) => response.map(|body| {
            Body::new(FlushOnEnd {
                inner: body,
                access,
                state: State::Streaming,
            })
        }),
        None => response,
    }
}

enum State {
    Streaming,
    Flushing(BoxFuture<'static, ()>),
    Done,
}

struct FlushOnEnd {
    inner: Body,
    access: Arc<Access>,
    state: State,
}

impl http_body::Body for FlushOnEnd {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        loop {
            match &mut self.state {
                State::Streaming => match Pin::new(&mut self.inner).poll_frame(cx) {
                    Poll::Ready(None) => {
                        let access = self.access.clone();
                        self.state = State::Flushing(async move { access.flush().await }.boxed());
                    }
                    other => return other,
                },
                State::Flushing(flush) => {
                    if flush.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.state = State::Done;
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }
}
