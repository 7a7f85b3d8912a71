//! Running the router on a socket, with a graceful shutdown that lets in-flight requests finish.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app;
use crate::state::AppState;

pub struct RunningGateway {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

/// Binds (port 0 picks a free port) and serves in the background.
pub async fn start(state: Arc<AppState>, bind: SocketAddr) -> io::Result<RunningGateway> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    // Small SSE chunks must leave at once, not wait for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = app::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningGateway {
        addr,
        state,
        stop,
        task,
    })
}

impl RunningGateway {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Stops accepting connections, waits for in-flight requests to finish, then writes every
    /// queued receipt.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(());
        let served = self.task.await.map_err(io::Error::other)?;
        if let Some(access) = &self.state.access {
            access.flush().await;
        }
        served
    }
}
