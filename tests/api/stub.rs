//! A scripted OpenAI-compatible upstream whose behaviour a test switches while it runs: answer,
//! fail with a status, hang, or start a stream and go silent before the first token. The fake
//! providers take their behaviour from the prompt, which every provider of a fallback chain
//! receives alike; this stub lets one provider fail while the others answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Response, StatusCode, header};
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Answer,
    Status(u16),
    Hang,
    /// Streams: the role chunk, then silence.
    RoleThenHang,
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<Mode>>,
    calls: Arc<AtomicUsize>,
}

pub struct Stub {
    pub base_url: String,
    shared: Shared,
}

impl Stub {
    pub async fn start() -> Stub {
        let shared = Shared {
            mode: Arc::new(Mutex::new(Mode::Answer)),
            calls: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Stub {
            base_url: format!("http://{addr}/v1"),
            shared,
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// The configuration section of a provider `name` served by this stub, with `models`.
    pub fn section(&self, name: &str, models: &[&str]) -> String {
        let models: Vec<String> = models.iter().map(|m| format!("\"{m}\"")).collect();
        format!(
            "[providers.{name}]\nkind = \"openai_compatible\"\nbase_url = \"{}\"\nmodels = [{}]\n\n",
            self.base_url,
            models.join(", ")
        )
    }
}

async fn chat(State(shared): State<Shared>, body: String) -> Response<Body> {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let mode = *shared.mode.lock().unwrap();
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let model = request["model"].as_str().unwrap_or("stub").to_owned();
    let stream = request["stream"] == true;
    match mode {
        Mode::Status(status) => Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"error": {"message": "scripted failure", "type": "server_error",
                                 "param": null, "code": null}})
                .to_string(),
            ))
            .unwrap(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Response::new(Body::empty())
        }
        Mode::RoleThenHang if stream => {
            let role = chunk(&model, json!({"role": "assistant", "content": ""}), None);
            let events = futures::stream::once(async move {
                Ok::<_, std::convert::Infallible>(format!("data: {role}\n\n"))
            })
            .chain(futures::stream::once(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(String::new())
            }));
            sse(Body::from_stream(events))
        }
        _ if stream => {
            let events = [
                chunk(&model, json!({"role": "assistant", "content": ""}), None),
                chunk(&model, json!({"content": "stubbed"}), None),
                chunk(&model, json!({}), Some("stop")),
                json!({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1,
                       "model": model, "choices": [],
                       "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})
                .to_string(),
            ];
            let text: String = events
                .iter()
                .map(|e| format!("data: {e}\n\n"))
                .chain(["data: [DONE]\n\n".to_owned()])
                .collect();
            sse(Body::from(text))
        }
        _ => Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"id": "chatcmpl-stub", "object": "chat.completion", "created": 1,
                       "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                       "message": {"role": "assistant", "content": "stubbed"}}],
                       "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})
                .to_string(),
            ))
            .unwrap(),
    }
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> String {
    json!({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1, "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    .to_string()
}

fn sse(body: Body) -> Response<Body> {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(body)
        .unwrap()
}
