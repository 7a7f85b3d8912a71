//! Demo mode: simulated providers on loopback, so a newcomer with no provider accounts sees every
//! feature work. They are the same fakes the test suites use, serving every catalog model of
//! their provider.

use std::net::SocketAddr;
use std::time::Duration;

use gateway_core::catalog::{Catalog, ModelKind};
use gateway_core::config::{Config, EnvSource, KeyConfig, ProviderConfig};
use gateway_core::keys::{self, KeyEnvironment};
use gateway_fakes::{Behaviour, Dialect, FakeOptions, FakeServer};

/// The variable that fixes the demo key, for scripts.
pub const DEMO_KEY_ENV: &str = "LLM_GATEWAY_DEMO_KEY";

/// The providers demo mode simulates, each by a fake speaking its own dialect.
pub const SIMULATED_PROVIDERS: &[(&str, Dialect)] = &[
    ("openai", Dialect::OpenAi),
    ("groq", Dialect::Groq),
    ("together", Dialect::Together),
    ("mistral", Dialect::Mistral),
    ("anthropic", Dialect::Anthropic),
    ("cohere", Dialect::Cohere),
    ("gemini", Dialect::Gemini),
    ("bedrock", Dialect::Bedrock),
];

/// Pacing that makes streaming visible without making the demo slow.
const DEMO_BEHAVIOUR: Behaviour = Behaviour {
    latency: Duration::from_millis(120),
    ttft: Duration::from_millis(80),
    chunk_delay: Duration::from_millis(15),
};

/// The running simulated providers; they stop when this is dropped or shut down.
pub struct Demo {
    pub key: String,
    pub fakes: Vec<(String, FakeServer)>,
}

impl Demo {
    pub async fn shutdown(self) {
        for (_, fake) in self.fakes {
            fake.shutdown().await;
        }
    }
}

/// Starts the simulated providers and points `config` at them (replacing any configured
/// providers) with one demo key.
pub async fn start(config: &mut Config, env: &dyn EnvSource) -> anyhow::Result<Demo> {
    let key = match env.var(DEMO_KEY_ENV) {
        Some(key) if keys::has_key_prefix(&key) => key,
        Some(_) => anyhow::bail!(
            "{DEMO_KEY_ENV} must start with `llm_gw_dev_` or `llm_gw_prod_` (make one with `llm-gateway keygen`)"
        ),
        None => keys::generate(KeyEnvironment::Development),
    };
    let catalog = Catalog::built_in()?;
    config.providers.clear();
    let mut fakes = Vec::new();
    for &(provider, dialect) in SIMULATED_PROVIDERS {
        let models_of = |kind: ModelKind| -> Vec<String> {
            catalog
                .for_provider(provider)
                .filter(|m| m.kind == kind)
                .map(|m| m.upstream_name().to_owned())
                .collect()
        };
        let api_key = format!("demo-{provider}-key");
        let options = FakeOptions {
            api_key: Some(api_key.clone()),
            models: models_of(ModelKind::Chat),
            embedding_models: models_of(ModelKind::Embedding),
            behaviour: DEMO_BEHAVIOUR,
            // Nothing reads a demo provider's call log; a demo serving load for hours keeps none.
            keep_calls: 0,
        };
        let fake =
            FakeServer::start(dialect, options, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let section = if dialect == Dialect::Bedrock {
            // Signed with the demo key as the access key id, at the fake's root.
            ProviderConfig {
                base_url: Some(format!("http://{}", fake.addr())),
                region: Some("us-east-1".to_owned()),
                access_key_id: Some(api_key),
                secret_access_key: Some(format!("demo-{provider}-secret")),
                enabled: true,
                ..ProviderConfig::default()
            }
        } else {
            ProviderConfig {
                base_url: Some(fake.base_url()),
                api_key: Some(api_key),
                enabled: true,
                ..ProviderConfig::default()
            }
        };
        config.providers.insert(provider.to_owned(), section);
        fakes.push((provider.to_owned(), fake));
    }
    config.auth.keys.push(KeyConfig {
        name: "demo".to_owned(),
        secret: Some(key.clone()),
        sha256: None,
    });
    Ok(Demo { key, fakes })
}
