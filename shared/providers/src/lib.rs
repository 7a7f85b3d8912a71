//! Provider adapters: one module per wire protocol, each implementing the core
//! [`Provider`](gateway_core::upstream::Provider) port.
//!
//! - [`openai_compatible`]: OpenAI and every provider that speaks its dialect (Groq, Together,
//!   Mistral, self-hosted vLLM/TGI/llama.cpp/Ollama), with each one's quirks.
//! - [`anthropic`]: Anthropic's Messages API, translated both ways.
//! - [`translate`]: OpenAI-shaped answers built from other protocols' parts, for native adapters.
//! - [`http`]: the one HTTP client all adapters share, and how transport failures read.

pub mod anthropic;
mod errors;
pub mod http;
pub mod openai_compatible;
pub mod translate;

use std::sync::Arc;

use gateway_core::config::ResolvedProvider;
use gateway_core::providers::Dialect;
use gateway_core::upstream::Provider;

#[derive(Debug, thiserror::Error)]
#[error("providers.{provider}.base_url: `{url}` is not a valid URL ({reason})")]
pub struct InvalidBaseUrl {
    provider: String,
    url: String,
    reason: String,
}

/// Builds the adapter for a configured provider.
pub fn build(
    provider: &ResolvedProvider,
    client: &reqwest::Client,
) -> Result<Arc<dyn Provider>, InvalidBaseUrl> {
    Ok(match provider.dialect {
        Dialect::Openai
        | Dialect::Groq
        | Dialect::Together
        | Dialect::Mistral
        | Dialect::OpenaiCompatible => Arc::new(openai_compatible::OpenAiCompatible::new(
            provider,
            client.clone(),
        )?),
        Dialect::Anthropic => Arc::new(anthropic::Anthropic::new(provider, client.clone())?),
    })
}

/// `base_url` joined with an endpoint path, parsed once at start-up rather than per request.
fn endpoint(provider: &ResolvedProvider, path: &str) -> Result<reqwest::Url, InvalidBaseUrl> {
    let url = format!("{}{path}", provider.base_url);
    reqwest::Url::parse(&url).map_err(|e| InvalidBaseUrl {
        provider: provider.id.clone(),
        url: provider.base_url.clone(),
        reason: e.to_string(),
    })
}
