//! What each OpenAI-style dialect accepts, side by side. Every dialect is served by the
//! same code; these tables hold all that differs, taken from each provider's published
//! OpenAPI spec (`CreateChatCompletionRequest` for OpenAI and Groq, `ChatCompletionRequest`
//! for Together and Mistral, and their embedding requests). Where a spec leaves a value
//! unbounded that the fake must bound, or says less than the provider enforces, the
//! table says so.
//!
//! A dialect takes exactly its `active` parameters (those that shape the reply) and its
//! `passive` ones (validated, then ignored); anything else is refused. Groq, Together and
//! Mistral are written as their differences from OpenAI.

use serde_json::Value;

use super::{
    chat_messages::{CallRules, MessageRules, PartRule, PartShape, Presence, Role, RoleRule},
    chat_reply::StreamUsage,
    chat_request::{ChatRules, FormatRules, Logprobs, StopRules},
    chat_tools::{ToolChoice, ToolRules},
    checks,
    embeddings::EmbeddingRules,
    error::{ApiError, ErrorStyle},
    params::{Check, Field, Object},
};
use crate::Dialect;

/// Everything a dialect does differently.
pub(crate) struct Rules {
    pub errors: ErrorStyle,
    /// The error for an unknown top-level parameter.
    pub unrecognized: fn(&str, &Value) -> ApiError,
    pub chat: ChatRules,
    pub embeddings: EmbeddingRules,
}

impl Rules {
    pub(super) fn of(dialect: Dialect) -> &'static Self {
        match dialect {
            Dialect::OpenAi => &OPENAI,
            Dialect::Groq => &GROQ,
            Dialect::Together => &TOGETHER,
            Dialect::Mistral => &MISTRAL,
            // SageMaker containers (vLLM, TGI, LMI) take what OpenAI takes; the native protocols
            // are served by modules of their own and never come here.
            Dialect::Sagemaker
            | Dialect::Anthropic
            | Dialect::Cohere
            | Dialect::Gemini
            | Dialect::Bedrock => &OPENAI,
        }
    }

    /// The request body as an object whose keys are all `active` or `passive` parameters.
    pub(super) fn request<'a>(
        &self,
        body: &'a Value,
        active: &[&str],
        passive: &[&[Field]],
    ) -> Result<&'a Object, ApiError> {
        let obj = body.as_object().ok_or_else(ApiError::unparseable_body)?;
        let known = |key: &str| {
            active.contains(&key) || passive.iter().copied().flatten().any(|f| f.key == key)
        };
        match obj.iter().find(|(key, _)| !known(key)) {
            Some((key, value)) => Err((self.unrecognized)(key, value)),
            None => Ok(obj),
        }
    }
}

const fn role(
    name: &'static str,
    role: Role,
    keys: &'static [&'static str],
    parts: &'static [&'static str],
    content: Presence,
) -> RoleRule {
    RoleRule {
        name,
        role,
        keys,
        extras: &[],
        parts,
        content,
    }
}

const fn part(kind: &'static str, shape: PartShape) -> PartRule {
    PartRule { kind, shape }
}

/// OpenAI's sampling parameters, which Groq and Together take alike.
const SAMPLING: &[Field] = &[
    Field::optional("temperature", Check::Decimal(0.0, 2.0)),
    Field::optional("top_p", Check::Decimal(0.0, 1.0)),
    FREQUENCY_PENALTY,
    PRESENCE_PENALTY,
    Field::optional("seed", Check::Integer(i64::MIN, i64::MAX)),
];
const FREQUENCY_PENALTY: Field = Field::optional("frequency_penalty", Check::Decimal(-2.0, 2.0));
const PRESENCE_PENALTY: Field = Field::optional("presence_penalty", Check::Decimal(-2.0, 2.0));
const USER: Field = Field::optional("user", Check::Text);
const STORE: Field = Field::optional("store", Check::Boolean);

const NAMED: &[&str] = &["role", "content", "name"];
const SYSTEM: RoleRule = role("system", Role::System, NAMED, &["text"], Presence::Required);
const DEVELOPER: RoleRule = role(
    "developer",
    Role::Developer,
    NAMED,
    &["text"],
    Presence::Required,
);
const TEXT: PartRule = part("text", PartShape::Text);
const IMAGE_URL: PartRule = part(
    "image_url",
    PartShape::Nested(&[
        Field::required("url", Check::Text),
        Field::optional("detail", Check::OneOf(&["auto", "low", "high"])),
    ]),
);
/// OpenAI's response formats, without its demand that the prompt mention JSON.
const ANY_JSON_PROMPT: FormatRules = FormatRules {
    json_word: false,
    ..OPENAI_CHAT.response_format
};
const NONE_AUTO_REQUIRED: &[(&str, ToolChoice)] = &[
    ("none", ToolChoice::None),
    ("auto", ToolChoice::Auto),
    ("required", ToolChoice::Required),
];

// OpenAI ------------------------------------------------------------------------------

static OPENAI: Rules = Rules {
    errors: ErrorStyle::OpenAi,
    unrecognized: ApiError::unrecognized_argument,
    chat: OPENAI_CHAT,
    embeddings: EmbeddingRules {
        active: &["model", "input", "encoding_format", "dimensions"],
        passive: &[USER],
        token_inputs: true,
        max_inputs: Some(2048),
        dimensions: Some("dimensions"),
    },
};

const OPENAI_CHAT: ChatRules = ChatRules {
    active: &[
        "model",
        "messages",
        "n",
        "logprobs",
        "top_logprobs",
        "max_tokens",
        "max_completion_tokens",
        "stream",
        "stream_options",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "response_format",
    ],
    passive: &[
        SAMPLING,
        &[
            USER,
            Field::optional("safety_identifier", Check::Text),
            Field::optional("prompt_cache_key", Check::Text),
            STORE,
            Field::optional(
                "reasoning_effort",
                Check::OneOf(&["none", "minimal", "low", "medium", "high", "xhigh"]),
            ),
            Field::optional(
                "service_tier",
                Check::OneOf(&["auto", "default", "flex", "scale", "priority"]),
            ),
            Field::optional("verbosity", Check::OneOf(&["low", "medium", "high"])),
            Field::optional(
                "prompt_cache_retention",
                Check::OneOf(&["in-memory", "24h"]),
            ),
            Field::optional("web_search_options", Check::Object),
            Field::optional("metadata", Check::Custom(checks::openai_metadata)),
            Field::optional("logit_bias", Check::Custom(checks::openai_logit_bias)),
            Field::optional("prediction", Check::Custom(checks::openai_prediction)),
            Field::optional("modalities", Check::Custom(checks::output_modalities)),
            Field::optional("audio", Check::Custom(checks::audio_output)),
        ],
    ],
    max_n: 128,
    min_max_tokens: 1,
    logprobs: Logprobs::Flag,
    stream_options: &["include_usage", "include_obfuscation"],
    stream_usage: StreamUsage::OnRequest,
    stop: StopRules {
        string: true,
        max: Some(4),
    },
    messages: MessageRules {
        roles: &[
            SYSTEM,
            RoleRule {
                extras: &[
                    Field::optional("refusal", Check::Text),
                    Field::optional("audio", Check::Object),
                ],
                ..role(
                    "assistant",
                    Role::Assistant,
                    &[
                        "role",
                        "content",
                        "name",
                        "tool_calls",
                        "function_call",
                        "refusal",
                        "audio",
                    ],
                    &["text", "refusal"],
                    Presence::OptionalWith(&["tool_calls", "function_call", "refusal", "audio"]),
                )
            },
            role(
                "user",
                Role::User,
                NAMED,
                &["text", "image_url", "input_audio", "file"],
                Presence::Required,
            ),
            role("function", Role::Function, NAMED, &[], Presence::Optional),
            role(
                "tool",
                Role::Tool,
                &["role", "content", "tool_call_id"],
                &["text"],
                Presence::Required,
            ),
            DEVELOPER,
        ],
        parts: &[
            TEXT,
            IMAGE_URL,
            part(
                "input_audio",
                PartShape::Nested(&[
                    Field::required("data", Check::Text),
                    Field::required("format", Check::OneOf(&["wav", "mp3"])),
                ]),
            ),
            part("refusal", PartShape::Refusal),
            part(
                "file",
                PartShape::Nested(&[
                    Field::optional("file_data", Check::Text),
                    Field::optional("file_id", Check::Text),
                    Field::optional("filename", Check::Text),
                ]),
            ),
        ],
        calls: CallRules {
            keys: &["id", "type", "function"],
            id_required: true,
            type_required: true,
            object_arguments: false,
        },
        tool_call_id_required: true,
    },
    tools: ToolRules {
        max: Some(128),
        type_required: true,
        types: Some(&["function"]),
        function_keys: &["name", "description", "parameters", "strict"],
        parameters_required: false,
        tool_modes: NONE_AUTO_REQUIRED,
        function_modes: &[("none", ToolChoice::None), ("auto", ToolChoice::Auto)],
        named_keys: &["type", "function"],
        named_function_keys: &["name"],
        named_type_required: true,
        choice_needs_definitions: true,
    },
    response_format: FormatRules {
        type_required: true,
        plain_keys: &["type"],
        json_word: true,
        schema_required: false,
    },
    openai_model_families: true,
};

// Groq: `/openai/v1/chat/completions`, `CreateChatCompletionRequest` -------------------
//
// The spec defines `ChatCompletionStreamOptions` but omits `stream_options` from the
// request; Groq's API takes it (and honours `include_usage`), so the fake does too. Its
// other parameters are OpenAI's.

static GROQ: Rules = Rules {
    errors: ErrorStyle::OpenAi,
    unrecognized: ApiError::unsupported_property,
    chat: ChatRules {
        passive: &[
            SAMPLING,
            &[
                USER,
                STORE,
                Field::optional("metadata", Check::Object),
                Field::optional("logit_bias", Check::Object),
                Field::optional(
                    "service_tier",
                    Check::OneOf(&["auto", "on_demand", "flex", "performance"]),
                ),
                Field::optional(
                    "reasoning_effort",
                    Check::Custom(checks::groq_reasoning_effort),
                ),
                Field::optional(
                    "reasoning_format",
                    Check::OneOf(&["hidden", "raw", "parsed"]),
                ),
                Field::optional(
                    "include_reasoning",
                    Check::Custom(checks::groq_include_reasoning),
                ),
                Field::optional("disable_tool_validation", Check::Boolean),
                Field::optional("include_domains", Check::Array),
                Field::optional("exclude_domains", Check::Array),
                Field::optional("search_settings", Check::Object),
                Field::optional("compound_custom", Check::Object),
                Field::optional("documents", Check::Array),
                Field::optional("citation_options", Check::OneOf(&["enabled", "disabled"])),
            ],
        ],
        // "n: minimum 1, maximum 1".
        max_n: 1,
        min_max_tokens: 0,
        stream_options: &["include_usage"],
        stream_usage: StreamUsage::OnRequestAndXGroq,
        messages: MessageRules {
            roles: &[
                SYSTEM,
                DEVELOPER,
                role("user", Role::User, NAMED, GROQ_PARTS, Presence::Required),
                RoleRule {
                    extras: &[Field::optional("reasoning", Check::Text)],
                    ..role(
                        "assistant",
                        Role::Assistant,
                        &[
                            "role",
                            "content",
                            "reasoning",
                            "name",
                            "tool_calls",
                            "function_call",
                        ],
                        &["text"],
                        Presence::Optional,
                    )
                },
                role(
                    "tool",
                    Role::Tool,
                    &["role", "content", "tool_call_id"],
                    GROQ_PARTS,
                    Presence::Required,
                ),
                role("function", Role::Function, NAMED, &[], Presence::Nullable),
            ],
            parts: &[
                TEXT,
                IMAGE_URL,
                part(
                    "document",
                    PartShape::Nested(&[
                        Field::required("data", Check::Object),
                        Field::optional("id", Check::Text),
                    ]),
                ),
            ],
            ..OPENAI_CHAT.messages
        },
        tools: ToolRules {
            // `function`, `browser_search`, `code_interpreter` or any other string.
            types: None,
            function_keys: &["description", "name", "parameters", "strict"],
            function_modes: NONE_AUTO_REQUIRED,
            ..OPENAI_CHAT.tools
        },
        response_format: ANY_JSON_PROMPT,
        openai_model_families: false,
        ..OPENAI_CHAT
    },
    embeddings: EmbeddingRules {
        active: &["model", "input", "encoding_format"],
        passive: &[USER],
        token_inputs: false,
        max_inputs: Some(2048),
        dimensions: None,
    },
};

const GROQ_PARTS: &[&str] = &["text", "image_url", "document"];

// Together: `/chat/completions`, `ChatCompletionRequest` -------------------------------
//
// The spec bounds few numbers; the descriptions give the ranges used here (penalties
// -2..=2, `top_p` and `min_p` 0..=1). `temperature` is described as 0-1 but served up
// to 2, OpenAI's ceiling. Messages, tools and choices are not declared closed, but the
// fake still refuses keys the spec does not name. A named `tool_choice` is the spec's
// `ToolChoice` (`id`, `index`, `function.arguments`) or OpenAI's shape without them.
// There is `function_call` but no `functions`, so only its modes can be used.

static TOGETHER: Rules = Rules {
    errors: ErrorStyle::OpenAi,
    unrecognized: ApiError::unrecognized_argument,
    chat: ChatRules {
        active: &[
            "model",
            "messages",
            "n",
            "logprobs",
            "max_tokens",
            "stream",
            "stop",
            "tools",
            "tool_choice",
            "function_call",
            "response_format",
        ],
        passive: &[
            SAMPLING,
            &[
                Field::optional("top_k", Check::Integer(i32::MIN as i64, i32::MAX as i64)),
                Field::optional("min_p", Check::Decimal(0.0, 1.0)),
                Field::optional("repetition_penalty", Check::Decimal(f64::MIN, f64::MAX)),
                Field::optional("logit_bias", Check::Object),
                Field::optional("echo", Check::Boolean),
                Field::optional("safety_model", Check::Text),
                Field::optional(
                    "context_length_exceeded_behavior",
                    Check::OneOf(&["truncate", "error"]),
                ),
                Field::optional("chat_template_kwargs", Check::Object),
                Field::optional("compliance", Check::OneOf(&["hipaa"])),
                Field::optional("reasoning", Check::Object),
                Field::optional("reasoning_effort", Check::OneOf(&["low", "medium", "high"])),
            ],
        ],
        min_max_tokens: 0,
        logprobs: Logprobs::Count,
        stream_options: &[],
        stream_usage: StreamUsage::FinalChunk,
        stop: StopRules {
            string: false,
            max: None,
        },
        messages: MessageRules {
            roles: &[
                role("system", Role::System, NAMED, &[], Presence::Required),
                role(
                    "user",
                    Role::User,
                    NAMED,
                    &["text", "image_url", "video_url", "audio_url", "input_audio"],
                    Presence::Required,
                ),
                role(
                    "assistant",
                    Role::Assistant,
                    &["role", "content", "name", "tool_calls", "function_call"],
                    &[],
                    Presence::Optional,
                ),
                role(
                    "tool",
                    Role::Tool,
                    &["role", "content", "name", "tool_call_id"],
                    &[],
                    Presence::Required,
                ),
                role("function", Role::Function, NAMED, &[], Presence::Required),
            ],
            parts: &[
                TEXT,
                part("image_url", PartShape::Nested(URL_ONLY)),
                part("video_url", PartShape::Nested(URL_ONLY)),
                part("audio_url", PartShape::Nested(URL_ONLY)),
                part(
                    "input_audio",
                    PartShape::Nested(&[
                        Field::required("data", Check::Text),
                        Field::required("format", Check::OneOf(&["wav"])),
                    ]),
                ),
            ],
            calls: CallRules {
                keys: &["index", "id", "type", "function"],
                ..OPENAI_CHAT.messages.calls
            },
            ..OPENAI_CHAT.messages
        },
        tools: ToolRules {
            max: None,
            type_required: false,
            types: None,
            function_keys: &["description", "name", "parameters"],
            named_keys: &["type", "function", "id", "index"],
            named_function_keys: &["name", "arguments"],
            choice_needs_definitions: false,
            ..OPENAI_CHAT.tools
        },
        response_format: ANY_JSON_PROMPT,
        openai_model_families: false,
        ..OPENAI_CHAT
    },
    embeddings: EmbeddingRules {
        active: &["model", "input"],
        passive: &[],
        token_inputs: false,
        max_inputs: None,
        dimensions: None,
    },
};

const URL_ONLY: &[Field] = &[Field::required("url", Check::Text)];

// Mistral: `/v1/chat/completions`, `ChatCompletionRequest`; `/v1/embeddings`,
// `EmbeddingRequest` ---------------------------------------------------------------------
//
// Requests and messages are closed (`additionalProperties: false`); violations are 422.
// The spec sets no maximum `n`; the fake caps it at OpenAI's 128.

static MISTRAL: Rules = Rules {
    errors: ErrorStyle::Mistral,
    unrecognized: ApiError::unrecognized_argument,
    chat: ChatRules {
        active: &[
            "model",
            "messages",
            "n",
            "max_tokens",
            "stream",
            "stop",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "response_format",
        ],
        passive: &[&[
            Field::optional("temperature", Check::Decimal(0.0, 1.5)),
            Field::optional("top_p", Check::DecimalAbove(0.0, 1.0)),
            FREQUENCY_PENALTY,
            PRESENCE_PENALTY,
            Field::optional("random_seed", Check::Integer(0, i64::MAX)),
            Field::optional("metadata", Check::Object),
            Field::optional("prompt_cache_key", Check::Text),
            Field::optional("service_tier", Check::OneOf(&["auto", "standard_only"])),
            Field::optional("safe_prompt", Check::Boolean),
            Field::optional("prompt_mode", Check::OneOf(&["reasoning"])),
            Field::optional(
                "reasoning_effort",
                Check::OneOf(&["none", "minimal", "low", "medium", "high", "xhigh"]),
            ),
            Field::optional("guardrails", Check::Array),
            Field::optional(
                "prediction",
                Check::Fields(&[
                    Field::optional("type", Check::OneOf(&["content"])),
                    Field::optional("content", Check::Text),
                ]),
            ),
        ]],
        min_max_tokens: 0,
        stream_options: &[],
        stream_usage: StreamUsage::FinalChunk,
        stop: StopRules {
            string: true,
            max: None,
        },
        messages: MessageRules {
            roles: &[
                role(
                    "system",
                    Role::System,
                    &["role", "content"],
                    &["text", "thinking"],
                    Presence::Required,
                ),
                role(
                    "user",
                    Role::User,
                    &["role", "content"],
                    MISTRAL_CHUNKS,
                    Presence::Nullable,
                ),
                RoleRule {
                    extras: &[Field::optional("prefix", Check::Boolean)],
                    ..role(
                        "assistant",
                        Role::Assistant,
                        &["role", "content", "tool_calls", "prefix"],
                        MISTRAL_CHUNKS,
                        Presence::Optional,
                    )
                },
                role(
                    "tool",
                    Role::Tool,
                    &["role", "content", "tool_call_id", "name"],
                    MISTRAL_CHUNKS,
                    Presence::Nullable,
                ),
            ],
            parts: &[
                TEXT,
                part(
                    "image_url",
                    PartShape::Flat(&[Field::required(
                        "image_url",
                        Check::Custom(checks::mistral_image_url),
                    )]),
                ),
                part(
                    "document_url",
                    PartShape::Flat(&[
                        Field::required("document_url", Check::Text),
                        Field::optional("document_name", Check::Text),
                    ]),
                ),
                part(
                    "reference",
                    PartShape::Flat(&[Field::required("reference_ids", Check::Array)]),
                ),
                part(
                    "file",
                    PartShape::Flat(&[Field::required("file_id", Check::Text)]),
                ),
                part(
                    "thinking",
                    PartShape::Flat(&[
                        Field::required("thinking", Check::Array),
                        Field::optional("signature", Check::Text),
                        Field::optional("closed", Check::Boolean),
                    ]),
                ),
                part(
                    "input_audio",
                    PartShape::Flat(&[Field::required("input_audio", Check::Text)]),
                ),
            ],
            calls: CallRules {
                keys: &["id", "type", "function", "index"],
                id_required: false,
                type_required: false,
                object_arguments: true,
            },
            tool_call_id_required: false,
        },
        tools: ToolRules {
            max: None,
            type_required: false,
            // Only `function` tools are simulated.
            types: Some(&[
                "function",
                "web_search",
                "web_search_premium",
                "code_interpreter",
                "image_generation",
                "document_library",
                "connector",
            ]),
            function_keys: &["name", "description", "strict", "parameters"],
            parameters_required: true,
            tool_modes: &[
                ("auto", ToolChoice::Auto),
                ("none", ToolChoice::None),
                ("any", ToolChoice::Required),
                ("required", ToolChoice::Required),
            ],
            function_modes: &[],
            named_type_required: false,
            choice_needs_definitions: false,
            ..OPENAI_CHAT.tools
        },
        response_format: FormatRules {
            type_required: false,
            plain_keys: &["type", "json_schema"],
            json_word: false,
            schema_required: true,
        },
        openai_model_families: false,
        ..OPENAI_CHAT
    },
    embeddings: EmbeddingRules {
        active: &[
            "model",
            "input",
            "output_dimension",
            "output_dtype",
            "encoding_format",
        ],
        passive: &[Field::optional("metadata", Check::Object)],
        token_inputs: false,
        max_inputs: None,
        dimensions: Some("output_dimension"),
    },
};

const MISTRAL_CHUNKS: &[&str] = &[
    "text",
    "image_url",
    "document_url",
    "reference",
    "file",
    "thinking",
    "input_audio",
];
