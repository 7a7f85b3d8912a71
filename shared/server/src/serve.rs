//! Running the router on a socket, with a graceful shutdown that lets in-flight requests finish.
//!
//! Requests are answered by a set of threads, each with a single-threaded runtime of its own
//! (see [`crate::runtime_thread`]), all accepting from the one listening socket. A connection's
//! requests are read, routed, forwarded and answered on the thread that accepted it. Every
//! thread hears of a new connection and the first to accept it takes it, so a thread that is
//! idle gets there before a busy one.

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::app;
use crate::connections;
use crate::runtime_thread;
use crate::state::AppState;

/// Threads for blocking work (SQLite calls, exact token counts, embeddings) per thread that
/// answers requests: SQLite's one connection serves one call at a time and the rest is
/// CPU-bound, so more would only wait for the connection or a core.
const BLOCKING_THREADS_PER_THREAD: usize = 4;

/// The gateway, serving. Dropping it stops the serving threads as [`RunningGateway::shutdown`]
/// does, without waiting for them.
pub struct RunningGateway {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    threads: Vec<oneshot::Receiver<io::Result<()>>>,
}

/// Binds (port 0 picks a free port) and serves on `threads` threads of their own (`None`: one
/// per core).
pub async fn start(
    state: Arc<AppState>,
    bind: SocketAddr,
    threads: Option<NonZeroUsize>,
) -> io::Result<RunningGateway> {
    let threads = threads
        .or_else(|| std::thread::available_parallelism().ok())
        .unwrap_or(NonZeroUsize::MIN);
    let listener = TcpListener::bind(bind).await?.into_std()?;
    let addr = listener.local_addr()?;
    let app = app::router(state.clone());
    let (stop, stopped) = watch::channel(false);
    let mut serving = Vec::with_capacity(threads.get());
    for n in 0..threads.get() {
        let listener = listener.try_clone()?;
        let app = app.clone();
        let stopped = stopped.clone();
        let settling = state.settling.clone();
        let (done, finished) = oneshot::channel();
        let serve = async move {
            connections::serve(TcpListener::from_std(listener)?, app, stopped).await;
            Ok(())
        };
        runtime_thread::spawn(
            &format!("gateway-{n}"),
            BLOCKING_THREADS_PER_THREAD,
            async move {
                let served = serve.await;
                // Receipts of requests cut short are recorded on this thread's runtime, which
                // ends with it.
                settling.wait().await;
                let _ = done.send(served);
            },
        )?;
        serving.push(finished);
    }
    Ok(RunningGateway {
        addr,
        state,
        stop,
        threads: serving,
    })
}

impl RunningGateway {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Cancelling this ends the requests in flight at once, as the end of the shutdown grace
    /// period does (a second stop signal, say).
    pub fn grace_over(&self) -> tokio_util::sync::CancellationToken {
        self.state.grace_over.clone()
    }

    /// Stops accepting connections and lets in-flight requests finish; those still in flight
    /// after `[server] shutdown_grace_ms` are ended (see [`crate::draining`]). Then, once the
    /// receipts of requests cut short are recorded, writes every queued receipt.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(true);
        let threads = futures::future::join_all(self.threads);
        tokio::pin!(threads);
        let results = match tokio::time::timeout(self.state.shutdown_grace, &mut threads).await {
            Ok(results) => results,
            Err(_) => {
                tracing::warn!(
                    grace_ms = self.state.shutdown_grace.as_millis(),
                    "ending the requests still in flight after the shutdown grace period"
                );
                self.state.grace_over.cancel();
                threads.await
            }
        };
        let mut served = Ok(());
        for result in results {
            served = served.and(result.unwrap_or_else(|_| {
                Err(io::Error::other("a serving thread ended without a result"))
            }));
        }
        if let Some(access) = &self.state.access {
            access.flush().await;
        }
        served
    }
}
