//! Serving an axum `Router`. Inside Lambda the router answers Function URL events through
//! `lambda_http`: streamed (`InvokeMode: RESPONSE_STREAM`, so SSE chunks reach the client as
//! the provider sends them) or buffered (`BUFFERED`, for answers that are small and whole).
//! Outside Lambda the same router listens on a local socket, so a function runs on a laptop
//! exactly as it would behind its URL, minus the event translation.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::http::Response;
use gateway_server::AppState;
use gateway_server::access::Access;
use lambda_http::tower::ServiceExt;
use lambda_http::{Request, RequestExt};
use tracing::Instrument;

use crate::{flush_on_end, request_span, source_ip};

/// How a function's URL returns responses; must match the template's `InvokeMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeMode {
    ResponseStream,
    Buffered,
}

/// The address a function listens on outside Lambda: `LLM_GATEWAY_BIND`, else `default`.
pub fn local_bind(default: SocketAddr) -> anyhow::Result<SocketAddr> {
    match std::env::var("LLM_GATEWAY_BIND") {
        Ok(bind) if !bind.is_empty() => bind.parse().with_context(|| {
            format!("LLM_GATEWAY_BIND={bind} is not an address such as 127.0.0.1:8080")
        }),
        _ => Ok(default),
    }
}

/// Runs `router` until the runtime (or, locally, Ctrl-C / SIGTERM) stops the process.
/// `access` is the state's store access, whose receipt queue every response waits for.
pub async fn run(
    router: Router,
    mode: InvokeMode,
    access: Option<Arc<Access>>,
    local_default: SocketAddr,
) -> anyhow::Result<()> {
    if !crate::in_lambda() {
        return serve_locally(router, access, local_bind(local_default)?).await;
    }
    let service = lambda_http::tower::service_fn(move |request: Request| {
        let router = router.clone();
        let access = access.clone();
        let span = request_span::for_invocation(
            request
                .lambda_context_ref()
                .map_or("", |c| c.request_id.as_str()),
        );
        async move {
            let response: Response<Body> = router
                .oneshot(source_ip::attach(request).map(Body::new))
                .instrument(span.clone())
                .await?;
            let response = flush_on_end::wrap(response, access);
            Ok::<_, std::convert::Infallible>(request_span::enter_while_streaming(response, span))
        }
    });
    let outcome = match mode {
        InvokeMode::ResponseStream => lambda_http::run_with_streaming_response(service).await,
        InvokeMode::Buffered => lambda_http::run(service).await,
    };
    outcome.map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"))
}

async fn serve_locally(
    router: Router,
    access: Option<Arc<Access>>,
    bind: SocketAddr,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("listening on {bind}"))?;
    let addr = listener.local_addr().context("reading the local address")?;
    println!("listening on http://{addr}");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving")?;
    if let Some(access) = access {
        access.flush().await;
    }
    Ok(())
}

/// The state's store access, for [`run`].
pub fn access_of(state: &AppState) -> Option<Arc<Access>> {
    state.access.clone()
}

/// Ctrl-C, or SIGTERM from a process manager.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
