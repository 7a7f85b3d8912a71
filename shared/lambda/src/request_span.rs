//! Every log line of an invocation carries its request id, streamed bodies included. The
//! runtime's own span covers the handler's future only; a streamed response is produced
//! afterwards, while the runtime sends the body, so both the handler and the body run inside an
//! `invocation` span with the `requestId` Lambda assigned.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::Response;
use http_body::Frame;
use tracing::Span;

/// The span of one invocation.
pub fn for_invocation(request_id: &str) -> Span {
    tracing::info_span!("invocation", requestId = %request_id)
}

/// The response whose body is produced inside `span`.
pub fn enter_while_streaming(response: Response<Body>, span: Span) -> Response<Body> {
    response.map(|inner| Body::new(InSpan { inner, span }))
}

struct InSpan {
    inner: Body,
    span: Span,
}

impl http_body::Body for InSpan {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
