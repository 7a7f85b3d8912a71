//! The table-driven translation suite's runner: each case file holds an OpenAI request, the
//! provider request it must become, the provider's answer (from the provider's documented
//! examples), and the OpenAI answer it must become. A one-shot HTTP server stands in for the
//! provider, so the adapter runs whole, AWS SDK included: serialisation, signing, event-stream
//! decoding.
//!
//! Case fields:
//! - `name`, `source` (where the provider documents the example)
//! - `request`: the OpenAI chat request (with the provider's model name)
//! - `expected_upstream`: `{"path", "body"}` the provider must receive (omitted when the
//!   adapter refuses the request before calling)
//! - `upstream`: the provider's answer: `{"status", "error_type", "json"}`, or
//!   `{"events": [{"type", "payload"} | {"exception", "message"}]}` (event stream), or
//!   `{"parts": ["..."]}` (SageMaker payload parts)
//! - `expected`: for a whole answer `{"message", "finish_reason", "usage"}`; for a stream
//!   `{"chunks": [...]}` (each chunk's `choices[0]` delta and finish reason, or its usage) and
//!   optionally `"then_error"` (an error kind); or `{"error": KIND}`

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures::StreamExt;
use gateway_core::config::{AwsCredentials, AwsSettings, ResolvedProvider};
use gateway_core::providers::Dialect;
use gateway_core::upstream::ProviderError;
use gateway_core::wire::ChatRequest;
use serde_json::{Value, json};

#[derive(Default)]
struct Seen {
    path: Option<String>,
    body: Option<Value>,
}

struct Stand {
    upstream: Value,
    seen: Mutex<Seen>,
}

async fn answer(State(stand): State<Arc<Stand>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 24)
        .await
        .unwrap_or_default();
    {
        let mut seen = stand.seen.lock().unwrap();
        seen.path = Some(path);
        seen.body = serde_json::from_slice(&bytes).ok();
    }
    let upstream = &stand.upstream;
    let mut builder = Response::builder().status(upstream["status"].as_u64().unwrap_or(200) as u16);
    if let Some(error_type) = upstream["error_type"].as_str() {
        builder = builder.header("x-amzn-errortype", error_type);
    }
    if let Some(events) = upstream["events"].as_array() {
        let mut frames = Vec::new();
        for event in events {
            let (headers, payload) = match event["exception"].as_str() {
                Some(exception) => (
                    vec![
                        header(":message-type", "exception"),
                        header(":exception-type", exception),
                        header(":content-type", "application/json"),
                    ],
                    json!({"message": event["message"]}).to_string(),
                ),
                None => (
                    vec![
                        header(":message-type", "event"),
                        header(":event-type", event["type"].as_str().unwrap()),
                        header(":content-type", "application/json"),
                    ],
                    event["payload"].to_string(),
                ),
            };
            write_message_to(&Message::new_from_parts(headers, payload), &mut frames).unwrap();
        }
        return builder
            .header("content-type", "application/vnd.amazon.eventstream")
            .body(Body::from(frames))
            .unwrap();
    }
    if let Some(parts) = upstream["parts"].as_array() {
        let mut frames = Vec::new();
        for part in parts {
            let headers = vec![
                header(":message-type", "event"),
                header(":event-type", "PayloadPart"),
                header(":content-type", "application/octet-stream"),
            ];
            let bytes = part.as_str().unwrap().as_bytes().to_vec();
            write_message_to(&Message::new_from_parts(headers, bytes), &mut frames).unwrap();
        }
        return builder
            .header("content-type", "application/vnd.amazon.eventstream")
            .body(Body::from(frames))
            .unwrap();
    }
    builder
        .header("content-type", "application/json")
        .body(Body::from(upstream["json"].to_string()))
        .unwrap()
}

fn header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_owned().into()))
}

async fn stand_in(upstream: Value) -> (SocketAddr, Arc<Stand>) {
    let stand = Arc::new(Stand {
        upstream,
        seen: Mutex::new(Seen::default()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(stand.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, stand)
}

fn provider(dialect: Dialect, addr: SocketAddr, request: &ChatRequest) -> ResolvedProvider {
    let mut endpoints = BTreeMap::new();
    endpoints.insert(request.model.clone(), format!("{}-endpoint", request.model));
    ResolvedProvider {
        id: format!("{dialect:?}").to_lowercase(),
        dialect,
        base_url: format!("http://{addr}"),
        api_key: None,
        models: vec![request.model.clone()],
        embedding_models: vec![],
        aws: Some(AwsSettings {
            region: "us-east-1".to_owned(),
            endpoint_overridden: true,
            credentials: Some(AwsCredentials {
                access_key_id: "AKIDEXAMPLE".to_owned(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned().into(),
                session_token: None,
            }),
            endpoints,
        }),
    }
}

/// A chunk as the suite compares it: the choice's delta and finish reason, or the usage.
fn project_chunk(chunk: &Value) -> Value {
    match chunk["choices"].get(0) {
        Some(choice) => json!({"delta": choice["delta"], "finish_reason": choice["finish_reason"]}),
        None => json!({"usage": chunk["usage"]}),
    }
}

fn kind_of(error: &ProviderError) -> String {
    format!("{:?}", error.kind)
}

/// Runs every case in `dir` against `dialect`'s adapter; panics with the case's name.
pub async fn run_cases(dir: &str, dialect: Dialect) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", dir.display());
    for file in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        run_case(&case, dialect)
            .await
            .unwrap_or_else(|problem| panic!("case {}: {problem}", file.display()));
    }
}

async fn run_case(case: &Value, dialect: Dialect) -> Result<(), String> {
    let request: ChatRequest = serde_json::from_value(case["request"].clone())
        .map_err(|e| format!("request does not parse: {e}"))?;
    let (addr, stand) = stand_in(case["upstream"].clone()).await;
    let client = gateway_providers::http::client(&gateway_core::config::UpstreamConfig::default())
        .map_err(|e| e.to_string())?;
    let adapter = gateway_providers::build(&provider(dialect, addr, &request), &client)
        .map_err(|e| e.to_string())?;
    let expected = &case["expected"];
    let stream = request.stream == Some(true);
    let outcome = if stream {
        match adapter.chat_stream(request).await {
            Ok(mut chunks) => {
                let mut seen = Vec::new();
                let mut error = None;
                while let Some(item) = chunks.next().await {
                    match item {
                        Ok(bytes) => {
                            let chunk: Value = serde_json::from_slice(&bytes)
                                .map_err(|e| format!("chunk is not JSON: {e}"))?;
                            seen.push(project_chunk(&chunk));
                        }
                        Err(e) => {
                            error = Some(kind_of(&e));
                            break;
                        }
                    }
                }
                let mut out = json!({"chunks": seen});
                if let Some(error) = error {
                    out["then_error"] = json!(error);
                }
                out
            }
            Err(e) => json!({"error": kind_of(&e)}),
        }
    } else {
        match adapter.chat(request).await {
            Ok(reply) => {
                let body: Value = serde_json::from_slice(&reply.body).unwrap();
                let choice = &body["choices"][0];
                json!({"message": choice["message"], "finish_reason": choice["finish_reason"], "usage": body["usage"]})
            }
            Err(e) => json!({"error": kind_of(&e)}),
        }
    };
    if &outcome != expected {
        return Err(format!(
            "answer differs\n  expected: {expected}\n  actual:   {outcome}"
        ));
    }
    let seen = stand.seen.lock().unwrap();
    match case.get("expected_upstream") {
        Some(upstream) => {
            if seen.path.as_deref() != upstream["path"].as_str() {
                return Err(format!(
                    "upstream path: expected {}, sent {:?}",
                    upstream["path"], seen.path
                ));
            }
            if seen.body.as_ref() != Some(&upstream["body"]) {
                return Err(format!(
                    "upstream body differs\n  expected: {}\n  sent:     {}",
                    upstream["body"],
                    seen.body.clone().unwrap_or_default()
                ));
            }
        }
        None if seen.path.is_some() => {
            return Err(format!(
                "the provider was called ({:?}) though the case expects a refusal",
                seen.path
            ));
        }
        None => {}
    }
    Ok(())
}
