//! What each OpenAI-dialect provider accepts, checked against its published spec
//! (`specs/{openai,groq,together,mistral}` in the shared material):
//!
//! | provider | differences from OpenAI |
//! |---|---|
//! | Groq | `n` must be 1; no `stream_options` (usage comes in `x_groq.usage`) |
//! | Together | `stop` is a list; `logprobs` is a count; system/assistant/tool content is a string; no `developer` role, no `max_completion_tokens`, no `stream_options` (usage comes in the last chunk) |
//! | Mistral | `random_seed` for `seed`; `max_tokens` only; `tool_choice: "any"` for `required`; temperature ≤ 1.5; messages take no `name` or unknown fields; no `logprobs`, `logit_bias` or `stream_options` |
//!
//! A parameter with an equivalent is translated; OpenAI-platform bookkeeping with no effect on
//! the answer (`store`, `metadata`, `user`, …) is dropped where the provider rejects it; a
//! parameter that would change the answer and has no equivalent is refused with a 400 that names
//! it, never silently ignored.

use gateway_core::providers::Dialect;
use gateway_core::upstream::ProviderError;
use gateway_core::wire::{
    ChatRequest, Content, EmbeddingsRequest, Message, Stop, ToolChoice, ToolChoiceMode,
};
use serde_json::Value;

/// OpenAI-platform parameters that do not change the answer.
const BOOKKEEPING: &[&str] = &[
    "store",
    "metadata",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
];

/// OpenAI parameters that change the answer and that only OpenAI serves.
const OPENAI_ONLY: &[&str] = &["audio", "modalities", "web_search_options", "verbosity"];

pub(super) fn shape_chat(
    dialect: Dialect,
    request: &mut ChatRequest,
    stream: bool,
) -> Result<(), ProviderError> {
    request.routing_hints = None;
    request.fallback_chain = None;
    request.stream = stream.then_some(true);
    request.stream_options = if stream && reports_stream_usage_on_request(dialect) {
        let mut options = request.stream_options.take().unwrap_or_default();
        options.include_usage = Some(true);
        Some(options)
    } else {
        None
    };
    match dialect {
        Dialect::Openai | Dialect::OpenaiCompatible => Ok(()),
        Dialect::Groq => shape_groq(request),
        Dialect::Together => shape_together(request),
        Dialect::Mistral => shape_mistral(request),
        // Native protocols have adapters of their own and never reach this one.
        Dialect::Anthropic => Ok(()),
    }
}

/// Whether the provider needs `stream_options.include_usage` to report usage in a stream.
/// Together and Mistral always report it in the last chunk, Groq in `x_groq.usage`; none of
/// them takes the option.
fn reports_stream_usage_on_request(dialect: Dialect) -> bool {
    matches!(dialect, Dialect::Openai | Dialect::OpenaiCompatible)
}

fn provider_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Openai => "OpenAI",
        Dialect::Groq => "Groq",
        Dialect::Together => "Together AI",
        Dialect::Mistral => "Mistral",
        Dialect::OpenaiCompatible => "this provider",
        Dialect::Anthropic => "Anthropic",
    }
}

fn refuse_openai_only(dialect: Dialect, request: &ChatRequest) -> Result<(), ProviderError> {
    for param in OPENAI_ONLY {
        match request.extra.get(*param) {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if *param == "modalities" && a == &[Value::from("text")] => {}
            Some(_) => {
                return Err(ProviderError::unsupported(
                    param,
                    format!("`{param}` is not supported by {}.", provider_name(dialect)),
                ));
            }
        }
    }
    Ok(())
}

/// OpenAI's schema puts no floor under the token limits; the other providers' schemas do.
fn refuse_negative_token_limits(
    dialect: Dialect,
    request: &ChatRequest,
) -> Result<(), ProviderError> {
    for (param, value) in [
        ("max_tokens", request.max_tokens),
        ("max_completion_tokens", request.max_completion_tokens),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(ProviderError::unsupported(
                param,
                format!("{} takes a non-negative `{param}`.", provider_name(dialect)),
            ));
        }
    }
    Ok(())
}

fn drop_bookkeeping(request: &mut ChatRequest) {
    for param in BOOKKEEPING {
        request.extra.remove(*param);
    }
    request.extra.remove("modalities");
    request.user = None;
}

fn shape_groq(request: &mut ChatRequest) -> Result<(), ProviderError> {
    refuse_negative_token_limits(Dialect::Groq, request)?;
    if request.n.is_some_and(|n| n > 1) {
        return Err(ProviderError::unsupported(
            "n",
            "Groq serves one choice per request: `n` must be 1.",
        ));
    }
    refuse_openai_only(Dialect::Groq, request)
}

fn shape_together(request: &mut ChatRequest) -> Result<(), ProviderError> {
    refuse_negative_token_limits(Dialect::Together, request)?;
    refuse_openai_only(Dialect::Together, request)?;
    drop_bookkeeping(request);
    if let Some(Stop::One(s)) = &request.stop {
        request.stop = Some(Stop::Many(vec![s.clone()]));
    }
    let top = request.top_logprobs.take();
    if let Some(logprobs) = request.logprobs.take()
        && logprobs
    {
        request
            .extra
            .insert("logprobs".into(), Value::from(top.unwrap_or(1).max(1)));
    }
    if let Some(max) = request.max_completion_tokens.take() {
        request.max_tokens.get_or_insert(max);
    }
    for message in &mut request.messages {
        match message {
            Message::Developer(m) => {
                flatten_to_text(&mut m.content);
                *message = Message::System(m.clone());
            }
            Message::System(m) => flatten_to_text(&mut m.content),
            Message::Assistant(m) => {
                if let Some(content) = &mut m.content {
                    flatten_to_text(content);
                }
                m.refusal = None;
            }
            Message::Tool(m) => flatten_to_text(&mut m.content),
            Message::User(_) | Message::Function(_) => {}
        }
    }
    Ok(())
}

fn shape_mistral(request: &mut ChatRequest) -> Result<(), ProviderError> {
    refuse_negative_token_limits(Dialect::Mistral, request)?;
    refuse_openai_only(Dialect::Mistral, request)?;
    drop_bookkeeping(request);
    if let Some(t) = request.temperature
        && t > 1.5
    {
        return Err(ProviderError::unsupported(
            "temperature",
            format!("Mistral accepts `temperature` between 0 and 1.5, got {t}."),
        ));
    }
    if request.logprobs == Some(true) {
        return Err(ProviderError::unsupported(
            "logprobs",
            "Mistral does not return log probabilities.",
        ));
    }
    request.logprobs = None;
    request.top_logprobs = None;
    if request.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
        return Err(ProviderError::unsupported(
            "logit_bias",
            "Mistral does not support `logit_bias`.",
        ));
    }
    request.logit_bias = None;
    if request.extra.contains_key("functions") || request.extra.contains_key("function_call") {
        return Err(ProviderError::unsupported(
            "functions",
            "Mistral takes `tools`, not the deprecated `functions`.",
        ));
    }
    if let Some(seed) = request.seed.take() {
        if seed < 0 {
            return Err(ProviderError::unsupported(
                "seed",
                "Mistral takes a non-negative `seed`.",
            ));
        }
        request
            .extra
            .insert("random_seed".into(), Value::from(seed));
    }
    if let Some(max) = request.max_completion_tokens.take() {
        request.max_tokens.get_or_insert(max);
    }
    if let Some(ToolChoice::Mode(ToolChoiceMode::Required)) = request.tool_choice {
        request.tool_choice = None;
        request
            .extra
            .insert("tool_choice".into(), Value::from("any"));
    }
    for message in &mut request.messages {
        match message {
            Message::Developer(m) => {
                m.name = None;
                m.extra.clear();
                *message = Message::System(m.clone());
            }
            Message::System(m) => {
                m.name = None;
                m.extra.clear();
            }
            Message::User(m) => {
                m.name = None;
                m.extra.clear();
            }
            Message::Assistant(m) => {
                m.name = None;
                m.refusal = None;
                m.extra.retain(|k, _| k == "prefix");
            }
            Message::Tool(m) => m.extra.retain(|k, _| k == "name"),
            Message::Function(_) => {
                return Err(ProviderError::unsupported(
                    "messages",
                    "Mistral does not take the deprecated `function` role; use `tool`.",
                ));
            }
        }
    }
    Ok(())
}

fn flatten_to_text(content: &mut Content) {
    if let Content::Parts(_) = content {
        *content = Content::Text(content.joined_text());
    }
}

pub(super) fn shape_embeddings(
    dialect: Dialect,
    request: &mut EmbeddingsRequest,
) -> Result<(), ProviderError> {
    // Vectors always travel as floats from the provider; the gateway encodes base64 itself, so
    // `encoding_format` behaves the same whichever provider serves the model.
    request.encoding_format = None;
    match dialect {
        Dialect::Openai | Dialect::Groq | Dialect::OpenaiCompatible | Dialect::Anthropic => {}
        Dialect::Mistral => {
            request.user = None;
            if let Some(d) = request.dimensions.take() {
                request
                    .extra
                    .insert("output_dimension".into(), Value::from(d));
            }
        }
        Dialect::Together => {
            request.user = None;
            if request.dimensions.is_some() {
                return Err(ProviderError::unsupported(
                    "dimensions",
                    "Together AI does not support `dimensions` for embeddings.",
                ));
            }
        }
    }
    Ok(())
}

/// Used by tests to check a shaped request without a network.
#[cfg(test)]
fn shaped(dialect: Dialect, json: &str, stream: bool) -> Result<Value, ProviderError> {
    let mut request: ChatRequest = gateway_core::wire::parse_json_body(json.as_bytes()).unwrap();
    shape_chat(dialect, &mut request, stream)?;
    Ok(serde_json::to_value(&request).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::upstream::ProviderErrorKind;

    const BASE: &str = r#"{"model":"m","messages":[{"role":"developer","content":[{"type":"text","text":"Be brief."}],"name":"dev"},{"role":"user","content":"hi","name":"ann"}]"#;

    fn req(extra: &str) -> String {
        format!("{BASE}{extra}}}")
    }

    #[test]
    fn openai_gets_everything_as_sent_plus_usage_on_streams() {
        let v = shaped(Dialect::Openai, &req(r#","store":true,"seed":7"#), true).unwrap();
        assert_eq!(v["store"], true);
        assert_eq!(v["seed"], 7);
        assert_eq!(v["stream"], true);
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["messages"][0]["role"], "developer");
    }

    #[test]
    fn stream_options_never_go_on_a_non_stream_call() {
        let v = shaped(
            Dialect::Openai,
            &req(r#","stream_options":{"include_usage":true}"#),
            false,
        )
        .unwrap();
        assert!(v.get("stream_options").is_none());
        assert!(v.get("stream").is_none());
    }

    #[test]
    fn mistral_gets_its_own_names_and_no_unknown_message_fields() {
        let v = shaped(
            Dialect::Mistral,
            &req(r#","seed":7,"max_completion_tokens":9,"tool_choice":"required","user":"u","store":true"#),
            true,
        )
        .unwrap();
        assert_eq!(v["random_seed"], 7);
        assert!(v.get("seed").is_none());
        assert_eq!(v["max_tokens"], 9);
        assert_eq!(v["tool_choice"], "any");
        assert!(v.get("user").is_none() && v.get("store").is_none());
        assert!(v.get("stream_options").is_none());
        assert_eq!(v["messages"][0]["role"], "system");
        assert!(v["messages"][0].get("name").is_none());
        assert!(v["messages"][1].get("name").is_none());
    }

    #[test]
    fn mistral_refuses_what_it_cannot_do() {
        let e = shaped(Dialect::Mistral, &req(r#","temperature":1.8"#), false).unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::Unsupported);
        assert_eq!(e.param.as_deref(), Some("temperature"));
        let e = shaped(Dialect::Mistral, &req(r#","logprobs":true"#), false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("logprobs"));
    }

    #[test]
    fn together_gets_list_stops_counted_logprobs_and_string_system_content() {
        let v = shaped(
            Dialect::Together,
            &req(r#","stop":"END","logprobs":true,"top_logprobs":3,"max_completion_tokens":5"#),
            true,
        )
        .unwrap();
        assert_eq!(v["stop"], serde_json::json!(["END"]));
        assert_eq!(v["logprobs"], 3);
        assert!(v.get("top_logprobs").is_none());
        assert_eq!(v["max_tokens"], 5);
        assert_eq!(v["messages"][0]["role"], "system");
        assert_eq!(v["messages"][0]["content"], "Be brief.");
        assert!(v.get("stream_options").is_none());
    }

    #[test]
    fn negative_token_limits_go_to_openai_only() {
        assert!(shaped(Dialect::Openai, &req(r#","max_tokens":-1"#), false).is_ok());
        for dialect in [Dialect::Groq, Dialect::Together, Dialect::Mistral] {
            let e = shaped(dialect, &req(r#","max_completion_tokens":-1"#), false).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("max_completion_tokens"));
        }
    }

    #[test]
    fn groq_gets_no_stream_options() {
        let v = shaped(
            Dialect::Groq,
            &req(r#","stream_options":{"include_usage":true}"#),
            true,
        )
        .unwrap();
        assert!(v.get("stream_options").is_none());
    }

    #[test]
    fn groq_takes_one_choice_only() {
        let e = shaped(Dialect::Groq, &req(r#","n":2"#), false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("n"));
        assert!(shaped(Dialect::Groq, &req(r#","n":1"#), false).is_ok());
    }

    #[test]
    fn audio_output_is_refused_outside_openai() {
        let e = shaped(
            Dialect::Groq,
            &req(r#","modalities":["text","audio"]"#),
            false,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("modalities"));
        assert!(
            shaped(
                Dialect::Openai,
                &req(r#","modalities":["text","audio"]"#),
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn embeddings_always_ask_for_floats() {
        let mut e: EmbeddingsRequest = serde_json::from_str(
            r#"{"model":"m","input":"x","encoding_format":"base64","dimensions":8}"#,
        )
        .unwrap();
        shape_embeddings(Dialect::Mistral, &mut e).unwrap();
        let v = serde_json::to_value(&e).unwrap();
        assert!(v.get("encoding_format").is_none());
        assert_eq!(v["output_dimension"], 8);
    }
}
