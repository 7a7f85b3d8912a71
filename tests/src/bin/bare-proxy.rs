//! `bare-proxy`: the least a proxy can do (axum in, the providers' HTTP client out, bodies copied
//! through), built with the gateway's own HTTP stack and, like each of the gateway's serving
//! threads, on a single-threaded runtime. `gateway-bench` measures it beside the gateway, so the
//! latency of the extra network hop on the machine at hand is told apart from the gateway's
//! own work.

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::routing::post;
use axum::serve::ListenerExt;
use clap::Parser;
use gateway_core::config::UpstreamConfig;
use gateway_providers::http::{self, HttpClient};

#[derive(Parser)]
#[command(about = "A minimal reverse proxy for POST /v1/chat/completions, for benchmarks.")]
struct Args {
    /// Base URL of the provider, e.g. http://127.0.0.1:9000/v1
    #[arg(long)]
    upstream: String,
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: std::net::SocketAddr,
}

#[derive(Clone)]
struct Upstream {
    client: HttpClient,
    url: Uri,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let upstream = Upstream {
        client: http::client(&UpstreamConfig::default())?,
        url: format!("{}/chat/completions", args.upstream)
            .parse()
            .context("--upstream is not a URL")?,
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(forward))
        .with_state(upstream);
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    println!("bare proxy listening on http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

async fn forward(
    State(upstream): State<Upstream>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Bytes) {
    let mut forwarded = HeaderMap::with_capacity(2);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(value) = headers.get(&name) {
            forwarded.insert(name, value.clone());
        }
    }
    match upstream
        .client
        .post("upstream", &upstream.url, forwarded, body)
        .await
    {
        Ok(response) => {
            let status = response.status();
            match response.bytes().await {
                Ok(bytes) => (status, bytes),
                Err(_) => (StatusCode::BAD_GATEWAY, Bytes::new()),
            }
        }
        Err(_) => (StatusCode::BAD_GATEWAY, Bytes::new()),
    }
}
