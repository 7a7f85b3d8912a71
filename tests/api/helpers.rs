//! `spawn_app()`: a gateway on port 0 with a fresh configuration and its own fake providers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::config::Config;
use gateway_fakes::{CallOutcome, Dialect, FakeOptions, FakeServer, RecordedCall};
use gateway_server::AppState;
use gateway_server::serve::{self, RunningGateway};
use gateway_store::Store;
use gateway_store::sqlite::SqliteStore;
use serde_json::{Value, json};

/// Threads answering requests in every test gateway: more than one, as on any multi-core
/// machine, so that requests on different connections can be answered by different threads.
const TWO_THREADS: Option<NonZeroUsize> = NonZeroUsize::new(2);

pub const KEY: &str = "llm_gw_dev_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The simulated providers every test app has, with the models each serves.
const PROVIDERS: &[(&str, Dialect, &[&str], &[&str])] = &[
    (
        "openai",
        Dialect::OpenAi,
        &[
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.1-nano",
            "o4-mini",
        ],
        &["text-embedding-3-small", "text-embedding-3-large"],
    ),
    (
        "groq",
        Dialect::Groq,
        &["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
        &[],
    ),
    (
        "together",
        Dialect::Together,
        &[
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
        ],
        &[],
    ),
    (
        "mistral",
        Dialect::Mistral,
        &["mistral-large-latest", "mistral-small-latest"],
        &["mistral-embed"],
    ),
    (
        "anthropic",
        Dialect::Anthropic,
        &[
            "claude-sonnet-4-6",
            "claude-haiku-4-5-20251001",
            "claude-3-haiku-20240307",
        ],
        &[],
    ),
    (
        "cohere",
        Dialect::Cohere,
        &[
            "command-a-03-2025",
            "command-r-08-2024",
            "command-a-vision-07-2025",
        ],
        &[
            "embed-v4.0",
            "embed-english-v3.0",
            "embed-multilingual-v3.0",
        ],
    ),
    (
        "gemini",
        Dialect::Gemini,
        &[
            "gemini-2.0-flash",
            "gemini-2.5-flash",
            "gemini-2.5-flash-lite",
            "gemini-2.5-pro",
        ],
        &["gemini-embedding-001"],
    ),
    (
        "bedrock",
        Dialect::Bedrock,
        &[
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "meta.llama3-1-8b-instruct-v1:0",
            "amazon.nova-lite-v1:0",
        ],
        &["amazon.titan-embed-text-v2:0"],
    ),
];

pub struct TestApp {
    pub url: String,
    /// The gateway's store (SQLite in memory): organisations, keys, receipts, audit.
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    pub fakes: HashMap<String, FakeServer>,
    gateway: Option<RunningGateway>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

/// A test app whose configuration has `extra_toml` appended (e.g. an `[upstream]` section).
pub async fn spawn_app_with(extra_toml: &str) -> TestApp {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.expect("store"));
    spawn_app_on(store, extra_toml).await
}

/// A test app on `store`, with `extra_toml` appended to its configuration.
pub async fn spawn_app_on(store: Arc<dyn Store>, extra_toml: &str) -> TestApp {
    let mut fakes = HashMap::new();
    let mut toml = format!("[[auth.keys]]\nname = \"tests\"\nsecret = \"{KEY}\"\n\n");
    for (provider, dialect, models, embedding_models) in PROVIDERS {
        if matches!(dialect, Dialect::Bedrock | Dialect::Sagemaker) {
            let (fake, section) = aws_section(*dialect, provider, models, embedding_models).await;
            toml.push_str(&section);
            fakes.insert((*provider).to_owned(), fake);
            continue;
        }
        let fake = start_fake_speaking(*dialect, provider, models, embedding_models).await;
        toml.push_str(&format!(
            "[providers.{provider}]\nbase_url = \"{}\"\napi_key = \"fake-{provider}-key\"\n\n",
            fake.base_url()
        ));
        fakes.insert((*provider).to_owned(), fake);
    }
    toml.push_str(extra_toml);
    let config = Config::from_toml(&toml).expect("test configuration");
    let state = AppState::with_store(&config, &HashMap::<String, String>::new(), store.clone())
        .await
        .expect("state");
    let gateway = serve::start(
        Arc::new(state),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        TWO_THREADS,
    )
    .await
    .expect("gateway starts");
    TestApp {
        url: format!("http://{}", gateway.addr()),
        store,
        client: reqwest::Client::new(),
        fakes,
        gateway: Some(gateway),
    }
}

/// An AWS fake (access key id `fake-{provider}-key`) and the configuration section that points
/// the gateway at it; a SageMaker model `m` is served by the endpoint `m-endpoint`.
pub async fn aws_section(
    dialect: Dialect,
    provider: &str,
    models: &[&str],
    embedding_models: &[&str],
) -> (FakeServer, String) {
    let endpoints: Vec<String> = models.iter().map(|m| format!("{m}-endpoint")).collect();
    let served: Vec<&str> = match dialect {
        Dialect::Sagemaker => endpoints.iter().map(String::as_str).collect(),
        _ => models.to_vec(),
    };
    let fake = start_fake_speaking(dialect, provider, &served, embedding_models).await;
    let mut section = format!(
        "[providers.{provider}]\nregion = \"us-east-1\"\nbase_url = \"http://{}\"\n\
         access_key_id = \"fake-{provider}-key\"\nsecret_access_key = \"fake-{provider}-secret\"\n",
        fake.addr()
    );
    if dialect == Dialect::Sagemaker {
        let pairs: Vec<String> = models
            .iter()
            .zip(&endpoints)
            .map(|(m, e)| format!("\"{m}\" = \"{e}\""))
            .collect();
        section.push_str(&format!("endpoints = {{ {} }}\n", pairs.join(", ")));
    }
    section.push('\n');
    (fake, section)
}

/// A fake OpenAI-compatible server expecting the key `fake-{provider}-key`.
pub async fn start_fake(provider: &str, models: &[&str], embedding_models: &[&str]) -> FakeServer {
    start_fake_speaking(Dialect::OpenAi, provider, models, embedding_models).await
}

async fn start_fake_speaking(
    dialect: Dialect,
    provider: &str,
    models: &[&str],
    embedding_models: &[&str],
) -> FakeServer {
    FakeServer::start(
        dialect,
        FakeOptions {
            api_key: Some(format!("fake-{provider}-key")),
            models: models.iter().map(|m| m.to_string()).collect(),
            embedding_models: embedding_models.iter().map(|m| m.to_string()).collect(),
            ..FakeOptions::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("fake provider starts")
}

impl TestApp {
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.url))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn chat(&self, body: &Value) -> reqwest::Response {
        self.post("/v1/chat/completions", body).await
    }

    pub fn fake(&self, provider: &str) -> &FakeServer {
        &self.fakes[provider]
    }

    /// Waits (bounded) until the provider's last call has left `InProgress`.
    pub async fn last_outcome(&self, provider: &str) -> CallOutcome {
        for _ in 0..200 {
            if let Some(call) = self.fake(provider).calls().last()
                && call.outcome != CallOutcome::InProgress
            {
                return call.outcome;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        CallOutcome::InProgress
    }

    /// Waits (bounded) until the provider has received `n` calls; panics if it never does.
    pub async fn wait_for_calls(&self, provider: &str, n: usize) {
        for _ in 0..500 {
            if self.fake(provider).calls().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{provider} never received {n} calls");
    }

    /// The receipt the gateway kept of a request, read back by its id; waits (bounded) for a
    /// stream's, which is recorded when the stream ends.
    pub async fn stored_receipt(&self, request_id: &str) -> Value {
        for _ in 0..200 {
            let stored = self.get(&format!("/v1/receipts/{request_id}")).await;
            if stored.status() == 200 {
                return stored.json().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no receipt of {request_id}");
    }

    /// The model's entry in `GET /health/providers` (breaker and live statistics), or `Null`
    /// when it has none.
    pub async fn model_health(&self, model: &str) -> Value {
        let health: Value = self.get("/health/providers").await.json().await.unwrap();
        health["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == model)
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn last_call(&self, provider: &str) -> RecordedCall {
        self.fake(provider)
            .calls()
            .last()
            .cloned()
            .expect("the provider was called")
    }

    pub async fn shutdown(mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await.expect("clean shutdown");
        }
    }
}

pub fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .expect("the request id is ASCII")
        .to_owned()
}

pub fn user(content: &str) -> Value {
    json!([{"role": "user", "content": content}])
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

/// The JSON chunks of an SSE body (everything but `[DONE]`).
pub fn sse_chunks(body: &str) -> Vec<Value> {
    sse_events(body)
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).expect("each event is JSON"))
        .collect()
}
