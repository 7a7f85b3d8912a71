//! Provider adapters: one module per wire protocol, each implementing the core
//! [`Provider`](gateway_core::upstream::Provider) port.
//!
//! - [`openai_compatible`]: OpenAI and every provider that speaks its dialect (Groq, Together,
//!   Mistral, self-hosted vLLM/TGI/llama.cpp/Ollama), with each one's quirks.
//! - [`anthropic`]: Anthropic's Messages API, translated both ways.
//! - [`cohere`]: Cohere's v2 chat and embed API.
//! - [`gemini`]: Google Gemini's native API (generateContent, streamGenerateContent, embedContent).
//! - [`bedrock`]: AWS Bedrock Converse / ConverseStream, Titan embeddings (AWS SDK).
//! - [`sagemaker`]: SageMaker endpoints whose containers speak OpenAI's schema (AWS SDK).
//! - [`translate`]: OpenAI-shaped answers built from other protocols' parts, for native adapters.
//! - [`http`]: the one HTTP client all adapters share, and how transport failures read.

pub mod anthropic;
mod aws;
pub mod bedrock;
pub mod cohere;
mod errors;
pub mod gemini;
pub mod http;
mod local_limits;
pub mod openai_compatible;
pub mod sagemaker;
pub mod translate;

use std::sync::Arc;

use gateway_core::config::ResolvedProvider;
use gateway_core::providers::Dialect;
use gateway_core::upstream::Provider;

use crate::http::HttpClient;
use crate::openai_compatible::{OpenAiCompatible, Variant};

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
    client: &HttpClient,
) -> Result<Arc<dyn Provider>, InvalidBaseUrl> {
    let openai_style = |variant| -> Result<Arc<dyn Provider>, InvalidBaseUrl> {
        Ok(Arc::new(OpenAiCompatible::new(
            provider,
            variant,
            client.clone(),
        )?))
    };
    Ok(match provider.dialect {
        Dialect::Openai => openai_style(Variant::Openai)?,
        Dialect::Groq => openai_style(Variant::Groq)?,
        Dialect::Together => openai_style(Variant::Together)?,
        Dialect::Mistral => openai_style(Variant::Mistral)?,
        Dialect::OpenaiCompatible => openai_style(Variant::Compatible)?,
        Dialect::Cohere => Arc::new(cohere::Cohere::new(provider, client.clone())?),
        Dialect::Gemini => Arc::new(gemini::Gemini::new(provider, client.clone())?),
        Dialect::Bedrock => {
            Arc::new(bedrock::Bedrock::new(provider).ok_or_else(|| no_aws(provider))?)
        }
        Dialect::Sagemaker => {
            Arc::new(sagemaker::Sagemaker::new(provider).ok_or_else(|| no_aws(provider))?)
        }
        Dialect::Anthropic => Arc::new(anthropic::Anthropic::new(provider, client.clone())?),
    })
}

/// An AWS provider resolved without its AWS settings: configuration resolution always sets them.
fn no_aws(provider: &ResolvedProvider) -> InvalidBaseUrl {
    InvalidBaseUrl {
        provider: provider.id.clone(),
        url: provider.base_url.clone(),
        reason: "an AWS provider needs a region".to_owned(),
    }
}

/// `base_url` joined with an endpoint path, parsed once at start-up rather than per request.
fn endpoint(provider: &ResolvedProvider, path: &str) -> Result<::http::Uri, InvalidBaseUrl> {
    let url = format!("{}{path}", provider.base_url);
    url.parse()
        .map_err(|e: ::http::uri::InvalidUri| InvalidBaseUrl {
            provider: provider.id.clone(),
            url: provider.base_url.clone(),
            reason: e.to_string(),
        })
}
