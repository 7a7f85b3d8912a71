//! Provider adapters: one module per wire protocol, each implementing the core
//! [`Provider`](gateway_core::upstream::Provider) port.
//!
//! - [`openai_compatible`]: OpenAI and every provider that speaks its dialect (Groq, Together,
//!   Mistral, self-hosted vLLM/TGI/llama.cpp/Ollama), with each one's quirks.
//! - [`http`]: the one HTTP client all adapters share, and how transport failures read.

pub mod http;
pub mod openai_compatible;

use std::sync::Arc;

use gateway_core::config::ResolvedProvider;
use gateway_core::providers::Dialect;
use gateway_core::upstream::Provider;

/// Builds the adapter for a configured provider.
pub fn build(provider: &ResolvedProvider, client: &reqwest::Client) -> Arc<dyn Provider> {
    match provider.dialect {
        Dialect::Openai
        | Dialect::Groq
        | Dialect::Together
        | Dialect::Mistral
        | Dialect::OpenaiCompatible => Arc::new(openai_compatible::OpenAiCompatible::new(
            provider,
            client.clone(),
        )),
    }
}
