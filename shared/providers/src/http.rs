//! The HTTP client every adapter shares, and the reading of failures that happen before a
//! provider says anything.
//!
//! Built on hyper's pooled client directly rather than a higher-level client: provider calls
//! need none of the redirect following, retrying or URL re-parsing such clients put on every
//! request, and on the pass-through path those cost more than the gateway's own work (see the
//! README's benchmark). Redirects are never followed: a provider API answers where it is asked,
//! and a redirect is a misconfiguration to report, not to follow with the gateway's credentials.
//!
//! A pooled connection is driven by a task on the runtime that opened it. On a work-stealing
//! runtime any worker drives it, so one pool serves the whole runtime and keeps connections
//! warm wherever a request's task runs next (the Lambda functions). A single-threaded runtime
//! gets a pool of its own instead: the local server answers each request on one such thread
//! (see `gateway_server::runtime_thread`), and with one pool for the process a request answered
//! there was often forwarded over a connection another thread had opened, which then had to be
//! woken twice to write and read it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use gateway_core::config::UpstreamConfig;
use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyDataStream, BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_platform_verifier::ConfigVerifierExt;
use secrecy::{ExposeSecret, SecretString};
use thread_local::ThreadLocal;
use tokio::runtime::{Handle, RuntimeFlavor};

const USER_AGENT: &str = concat!("llm-gateway/", env!("CARGO_PKG_VERSION"));

/// Reads a provider's error answer: status, `Retry-After`, body and the credential to scrub.
pub type ErrorReader = fn(u16, Option<Duration>, &[u8], Option<&str>) -> ProviderError;

type PooledClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One client for the whole process, so connections to each provider stay warm: one pool for
/// work-stealing runtimes and one for each single-threaded runtime's thread (see the module
/// docs). Cloning is cheap and shares the pools.
#[derive(Clone, Debug)]
pub struct HttpClient {
    shared: Arc<Pools>,
}

#[derive(Debug)]
struct Pools {
    connector: HttpsConnector<HttpConnector>,
    work_stealing: PooledClient,
    per_thread: ThreadLocal<PooledClient>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS for provider calls: {0}")]
pub struct TlsSetupError(String);

pub fn client(config: &UpstreamConfig) -> Result<HttpClient, TlsSetupError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(config.connect_timeout()));
    let tls = <rustls::ClientConfig as ConfigVerifierExt>::with_platform_verifier()
        .map_err(|e| TlsSetupError(e.to_string()))?;
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(HttpClient {
        shared: Arc::new(Pools {
            work_stealing: pooled(https.clone()),
            connector: https,
            per_thread: ThreadLocal::new(),
        }),
    })
}

fn pooled(connector: HttpsConnector<HttpConnector>) -> PooledClient {
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .build(connector)
}

impl HttpClient {
    /// The pool for the runtime this call runs on.
    fn pool(&self) -> &PooledClient {
        match Handle::try_current().map(|runtime| runtime.runtime_flavor()) {
            Ok(RuntimeFlavor::CurrentThread) => self
                .shared
                .per_thread
                .get_or(|| pooled(self.shared.connector.clone())),
            _ => &self.shared.work_stealing,
        }
    }

    /// POSTs `body` as JSON with `headers`. A 2xx answer is returned unread; any other becomes
    /// the error `read_error` makes of its status, `Retry-After` and body (with `secret`, the
    /// credential sent, scrubbed from anything it quotes).
    pub async fn post_json(
        &self,
        provider: &str,
        url: &Uri,
        headers: HeaderMap,
        body: &impl serde::Serialize,
        read_error: ErrorReader,
        secret: Option<&SecretString>,
    ) -> Result<UpstreamResponse, ProviderError> {
        let response = self
            .post(provider, url, headers, encode_json(body)?)
            .await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let retry_after = crate::errors::retry_after(response.headers());
        let body = response.bytes().await.unwrap_or_default();
        Err(read_error(
            status,
            retry_after,
            &body,
            secret.map(ExposeSecret::expose_secret),
        ))
    }

    /// POSTs `body` with `headers` (plus the gateway's `User-Agent`); resolves once the
    /// response headers have arrived, whatever the status.
    pub async fn post(
        &self,
        provider: &str,
        url: &Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, ProviderError> {
        let mut request = Request::post(url.clone())
            .body(Full::new(body))
            .map_err(|e| invalid_request(provider, &e))?;
        *request.headers_mut() = headers;
        request
            .headers_mut()
            .insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        let response = self
            .pool()
            .request(request)
            .await
            .map_err(|e| transport_error(provider, &e))?;
        Ok(UpstreamResponse {
            provider: provider.to_owned(),
            inner: response,
        })
    }
}

/// Headers of a JSON request: `Content-Type`, and `Accept` for an event stream or JSON.
pub fn json_headers(stream: bool) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(if stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    headers
}

/// Headers of a JSON request that authenticates with `Authorization: Bearer <key>`, when there
/// is a key.
pub fn bearer_json_headers(
    stream: bool,
    key: Option<&SecretString>,
) -> Result<HeaderMap, ProviderError> {
    let mut headers = json_headers(stream);
    if let Some(key) = key {
        headers.insert(
            header::AUTHORIZATION,
            secret_header(&format!("Bearer {}", key.expose_secret()))?,
        );
    }
    Ok(headers)
}

/// A credential as a header value, marked sensitive so nothing that logs headers prints it.
pub fn secret_header(value: &str) -> Result<HeaderValue, ProviderError> {
    let mut value = HeaderValue::try_from(value).map_err(|_| {
        ProviderError::new(
            ProviderErrorKind::Authentication,
            "the configured API key cannot be sent in a header",
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A request body as JSON.
pub fn encode_json(body: &impl serde::Serialize) -> Result<Bytes, ProviderError> {
    serde_json::to_vec(body).map(Bytes::from).map_err(|e| {
        ProviderError::new(
            ProviderErrorKind::InvalidResponse,
            format!("cannot encode the request: {e}"),
        )
    })
}

/// A provider's answer whose body has not been read yet.
#[derive(Debug)]
pub struct UpstreamResponse {
    provider: String,
    inner: http::Response<Incoming>,
}

impl UpstreamResponse {
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, ProviderError> {
        let provider = self.provider;
        self.inner
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(|e| body_error(&provider, &e))
    }

    /// The body parsed as JSON; `what` names the expected object in the error (e.g. "a Cohere
    /// chat response").
    pub async fn json<T: serde::de::DeserializeOwned>(
        self,
        what: &str,
    ) -> Result<T, ProviderError> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!("the response is not {what} ({e})"),
            )
        })
    }

    /// The body as it arrives.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send + 'static {
        let provider = self.provider;
        BodyDataStream::new(self.inner.into_body())
            .map(move |item| item.map_err(|e| body_error(&provider, &e)))
    }
}

/// A failure to get any answer: no connection, a reset, or a time-out while connecting.
pub fn transport_error(provider: &str, err: &hyper_util::client::legacy::Error) -> ProviderError {
    if let Some(error) = crate::local_limits::exhausted(provider, err) {
        return error;
    }
    let reason = innermost(err);
    let kind = if timed_out(err) {
        ProviderErrorKind::Timeout
    } else {
        ProviderErrorKind::Connect
    };
    // The error chain names neither the URL nor any header, so no credential or internal
    // address can leak through it.
    tracing::warn!(provider, error = %reason, "upstream transport failure");
    ProviderError::new(kind, format!("{provider}: {reason}"))
}

/// The connection broke while the body was arriving.
fn body_error(provider: &str, err: &hyper::Error) -> ProviderError {
    let reason = innermost(err);
    tracing::warn!(provider, error = %reason, "upstream body failure");
    let kind = if err.is_timeout() {
        ProviderErrorKind::Timeout
    } else {
        ProviderErrorKind::StreamInterrupted
    };
    ProviderError::new(kind, format!("{provider}: {reason}"))
}

fn invalid_request(provider: &str, err: &http::Error) -> ProviderError {
    ProviderError::new(
        ProviderErrorKind::InvalidRequest,
        format!("{provider}: cannot build the request ({err})"),
    )
}

fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn innermost(err: &dyn std::error::Error) -> String {
    let mut last = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use axum::extract::ConnectInfo;
    use axum::routing::post;
    use gateway_core::config::UpstreamConfig;
    use http::{HeaderMap, Uri};
    use tokio::runtime::Handle;
    use tokio::sync::{mpsc, oneshot};

    use super::{HttpClient, client};

    /// A thread that sends a request whenever asked, on `runtime` (a new single-threaded one
    /// when `None`), and answers with the port the server saw the request come from.
    fn caller(
        client: HttpClient,
        url: Uri,
        runtime: Option<Handle>,
    ) -> mpsc::UnboundedSender<oneshot::Sender<u16>> {
        let (asks, mut asked) = mpsc::unbounded_channel::<oneshot::Sender<u16>>();
        std::thread::spawn(move || {
            let work = async move {
                while let Some(answer) = asked.recv().await {
                    let response = client
                        .post("test", &url, HeaderMap::new(), "{}".into())
                        .await
                        .expect("request");
                    let port = response.bytes().await.expect("body");
                    let _ = answer.send(std::str::from_utf8(&port).unwrap().parse().unwrap());
                }
            };
            match runtime {
                Some(runtime) => runtime.block_on(work),
                None => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(work),
            }
        });
        asks
    }

    /// A server that answers each POST to `/v1/x` with the client's port; its URL.
    async fn port_echo() -> Uri {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/v1/x",
            post(
                |ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.port().to_string() },
            ),
        );
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        format!("http://{addr}/v1/x").parse().unwrap()
    }

    async fn ask(thread: &mpsc::UnboundedSender<oneshot::Sender<u16>>) -> u16 {
        let (answer, port) = oneshot::channel();
        thread.send(answer).expect("caller thread alive");
        let port = tokio::time::timeout(Duration::from_secs(10), port)
            .await
            .expect("the request finishes")
            .expect("an answer");
        // hyper puts a connection back in its pool from a task of its own once the answer is
        // read: time for that task to run, so the next request finds the connection idle.
        tokio::time::sleep(Duration::from_millis(50)).await;
        port
    }

    #[tokio::test]
    async fn each_single_threaded_runtime_keeps_its_own_connections() {
        let url = port_echo().await;
        let client = client(&UpstreamConfig::default()).expect("client");
        let first = caller(client.clone(), url.clone(), None);
        let second = caller(client, url, None);

        let a1 = ask(&first).await;
        let a2 = ask(&first).await;
        let b1 = ask(&second).await;
        let b2 = ask(&second).await;
        let a3 = ask(&first).await;

        assert_eq!((a1, a1), (a2, a3), "a thread reuses its idle connection");
        assert_eq!(b1, b2, "a thread reuses its idle connection");
        assert_ne!(a1, b1, "a thread does not take another thread's connection");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_work_stealing_runtime_shares_one_pool() {
        let url = port_echo().await;
        let client = client(&UpstreamConfig::default()).expect("client");
        let first = caller(client.clone(), url.clone(), Some(Handle::current()));
        let second = caller(client, url, Some(Handle::current()));

        let a = ask(&first).await;
        let b = ask(&second).await;

        assert_eq!(
            a, b,
            "a call from another thread reuses the idle connection"
        );
    }
}
