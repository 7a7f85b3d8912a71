//! The providers the gateway knows by name, and the wire protocols (dialects) it speaks.

use serde::Deserialize;

/// A provider's wire protocol. The OpenAI dialect's variants differ only in the quirks each
/// provider's published API has (see the providers crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OpenAI itself: everything passes through.
    Openai,
    Groq,
    Together,
    Mistral,
    /// A self-hosted or third-party server that speaks the OpenAI API (vLLM, TGI, llama.cpp,
    /// Ollama, LM Studio, …).
    OpenaiCompatible,
    /// Anthropic's Messages API (`POST /v1/messages`), translated both ways.
    Anthropic,
    /// Cohere's own v2 API (`/v2/chat`, `/v2/embed`), translated to and from OpenAI's.
    Cohere,
    /// Google Gemini's native API (`generateContent`, `streamGenerateContent`, `embedContent`).
    Gemini,
    /// AWS Bedrock Runtime: Converse / ConverseStream for chat, InvokeModel (Titan) for
    /// embeddings; signed with AWS credentials instead of an API key.
    Bedrock,
    /// Amazon SageMaker Runtime endpoints whose containers speak the OpenAI messages schema
    /// (LMI, vLLM, TGI): InvokeEndpoint / InvokeEndpointWithResponseStream.
    Sagemaker,
}

impl Dialect {
    /// Whether the provider is reached through the AWS SDK (region and AWS credentials rather
    /// than a base URL and an API key).
    pub fn is_aws(self) -> bool {
        matches!(self, Dialect::Bedrock | Dialect::Sagemaker)
    }
}

/// AWS providers known by name: on when their `[providers.<id>]` section is present. Their
/// credentials come from the standard AWS chain, so there is no key variable to look for.
pub const AWS_PROVIDERS: &[(&str, Dialect)] = &[
    ("bedrock", Dialect::Bedrock),
    ("sagemaker", Dialect::Sagemaker),
];

/// The public regional endpoint of an AWS provider (the AWS SDK's own default).
pub fn aws_endpoint(dialect: Dialect, region: &str) -> Option<String> {
    match dialect {
        Dialect::Bedrock => Some(format!("https://bedrock-runtime.{region}.amazonaws.com")),
        Dialect::Sagemaker => Some(format!("https://runtime.sagemaker.{region}.amazonaws.com")),
        _ => None,
    }
}

/// A provider known by name: where it lives and which variables configure it.
#[derive(Debug)]
pub struct BuiltInProvider {
    pub id: &'static str,
    pub dialect: Dialect,
    pub base_url: &'static str,
    pub key_env: &'static str,
    pub base_url_env: &'static str,
}

pub const BUILT_IN_PROVIDERS: &[BuiltInProvider] = &[
    BuiltInProvider {
        id: "openai",
        dialect: Dialect::Openai,
        base_url: "https://api.openai.com/v1",
        key_env: "OPENAI_API_KEY",
        base_url_env: "OPENAI_BASE_URL",
    },
    BuiltInProvider {
        id: "groq",
        dialect: Dialect::Groq,
        base_url: "https://api.groq.com/openai/v1",
        key_env: "GROQ_API_KEY",
        base_url_env: "GROQ_BASE_URL",
    },
    BuiltInProvider {
        id: "together",
        dialect: Dialect::Together,
        base_url: "https://api.together.xyz/v1",
        key_env: "TOGETHER_API_KEY",
        base_url_env: "TOGETHER_BASE_URL",
    },
    BuiltInProvider {
        id: "mistral",
        dialect: Dialect::Mistral,
        base_url: "https://api.mistral.ai/v1",
        key_env: "MISTRAL_API_KEY",
        base_url_env: "MISTRAL_BASE_URL",
    },
    BuiltInProvider {
        id: "anthropic",
        dialect: Dialect::Anthropic,
        base_url: "https://api.anthropic.com",
        key_env: "ANTHROPIC_API_KEY",
        base_url_env: "ANTHROPIC_BASE_URL",
    },
    BuiltInProvider {
        id: "cohere",
        dialect: Dialect::Cohere,
        base_url: "https://api.cohere.com",
        key_env: "COHERE_API_KEY",
        base_url_env: "COHERE_BASE_URL",
    },
    BuiltInProvider {
        id: "gemini",
        dialect: Dialect::Gemini,
        base_url: "https://generativelanguage.googleapis.com",
        key_env: "GEMINI_API_KEY",
        base_url_env: "GEMINI_BASE_URL",
    },
];
