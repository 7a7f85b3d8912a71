//! What each OpenAI-dialect provider accepts, checked against its published spec
//! (`specs/{openai,groq,together,mistral}` in the shared material):
//!
//! | provider | differences from OpenAI |
//! |---|---|
//! | OpenAI | none in its spec; per model family, which the spec leaves out: its reasoning models (o1, o3, o4-mini, gpt-5 and their snapshots) take `max_completion_tokens` for `max_tokens` and sample at their defaults only; its other models take no `reasoning_effort` |
//! | Groq | `n` must be 1; no `stream_options` (usage comes in `x_groq.usage`); `reasoning_effort` only for the models its spec names (Qwen3: `none`, `default`; gpt-oss: `low`, `medium`, `high`) |
//! | Together | `stop` is a list; `logprobs` is a count; system/assistant/tool content is a string; no `developer` role, no `max_completion_tokens`, no `stream_options` (usage comes in the last chunk) |
//! | Mistral | `random_seed` for `seed`; `max_tokens` only; `tool_choice: "any"` for `required`; temperature ≤ 1.5; messages take no `name` or unknown fields; no `logprobs`, `logit_bias` or `stream_options` |
//!
//! A parameter with an equivalent is translated; OpenAI-platform bookkeeping with no effect on
//! the answer (`store`, `metadata`, `user`, …) is dropped where the provider rejects it; a
//! parameter that would change the answer and has no equivalent is refused with a 400 that names
//! it, never silently ignored.

use gateway_core::upstream::ProviderError;
use gateway_core::wire::{
    ChatRequest, Content, EmbeddingsRequest, Message, Stop, ToolChoice, ToolChoiceMode,
};
use serde_json::Value;

/// The providers this adapter speaks to, each with its own quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// OpenAI itself: everything passes through.
    Openai,
    Groq,
    Together,
    Mistral,
    /// Any other server that speaks the OpenAI API (vLLM, TGI, llama.cpp, Ollama, …).
    Compatible,
}

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
    dialect: Variant,
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
        Variant::Openai => shape_openai(request),
        Variant::Compatible => Ok(()),
        Variant::Groq => shape_groq(request),
        Variant::Together => shape_together(request),
        Variant::Mistral => shape_mistral(request),
    }
}

/// Whether the provider needs `stream_options.include_usage` to report usage in a stream.
/// Together and Mistral always report it in the last chunk, Groq in `x_groq.usage`; none of
/// them takes the option.
fn reports_stream_usage_on_request(dialect: Variant) -> bool {
    matches!(dialect, Variant::Openai | Variant::Compatible)
}

fn provider_name(dialect: Variant) -> &'static str {
    match dialect {
        Variant::Openai => "OpenAI",
        Variant::Groq => "Groq",
        Variant::Together => "Together AI",
        Variant::Mistral => "Mistral",
        Variant::Compatible => "this provider",
    }
}

fn refuse_openai_only(dialect: Variant, request: &ChatRequest) -> Result<(), ProviderError> {
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
    dialect: Variant,
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

/// The request's `reasoning_effort`, unless absent or null (which OpenAI reads as absent).
fn reasoning_effort(request: &ChatRequest) -> Option<&Value> {
    request
        .extra
        .get("reasoning_effort")
        .filter(|v| !v.is_null())
}

/// Whether `model` is one of OpenAI's reasoning models, fine-tuned ones included.
fn is_openai_reasoning_model(model: &str) -> bool {
    let model = model.strip_prefix("ft:").unwrap_or(model);
    let family = model.split(['-', ':']).next().unwrap_or(model);
    matches!(family, "o1" | "o3" | "o4") || (model.starts_with("gpt-5") && !model.contains("-chat"))
}

fn shape_openai(request: &mut ChatRequest) -> Result<(), ProviderError> {
    let model = request.model.as_str();
    if !is_openai_reasoning_model(model) {
        if reasoning_effort(request).is_some() {
            return Err(ProviderError::unsupported(
                "reasoning_effort",
                format!(
                    "`reasoning_effort` is for OpenAI's reasoning models (o-series, gpt-5); \
                     `{model}` does not take it."
                ),
            ));
        }
        return Ok(());
    }
    let sampling = [
        ("temperature", request.temperature, 1.0),
        ("top_p", request.top_p, 1.0),
        ("presence_penalty", request.presence_penalty, 0.0),
        ("frequency_penalty", request.frequency_penalty, 0.0),
    ];
    for (param, value, default) in sampling {
        if value.is_some_and(|v| v != default) {
            return Err(ProviderError::unsupported(
                param,
                format!(
                    "OpenAI's reasoning model `{model}` samples at its default `{param}` \
                     ({default}) only."
                ),
            ));
        }
    }
    let logprobs = request.logprobs == Some(true) || request.top_logprobs.is_some();
    for (param, used) in [
        ("logprobs", logprobs),
        ("logit_bias", request.logit_bias.is_some()),
    ] {
        if used {
            return Err(ProviderError::unsupported(
                param,
                format!("OpenAI's reasoning model `{model}` does not take `{param}`."),
            ));
        }
    }
    // The same limit by its newer name, the only one these models take.
    if let Some(max) = request.max_tokens.take() {
        request.max_completion_tokens.get_or_insert(max);
    }
    Ok(())
}

fn shape_groq(request: &mut ChatRequest) -> Result<(), ProviderError> {
    refuse_negative_token_limits(Variant::Groq, request)?;
    if request.n.is_some_and(|n| n > 1) {
        return Err(ProviderError::unsupported(
            "n",
            "Groq serves one choice per request: `n` must be 1.",
        ));
    }
    refuse_groq_reasoning_effort(request)?;
    refuse_openai_only(Variant::Groq, request)
}

/// Groq's spec gives `reasoning_effort` per model family.
fn refuse_groq_reasoning_effort(request: &ChatRequest) -> Result<(), ProviderError> {
    let Some(effort) = reasoning_effort(request) else {
        return Ok(());
    };
    let model = request.model.as_str();
    let efforts: &[&str] = if model.starts_with("qwen/qwen3") {
        &["none", "default"]
    } else if model.starts_with("openai/gpt-oss") {
        &["low", "medium", "high"]
    } else {
        &[]
    };
    if effort.as_str().is_some_and(|e| efforts.contains(&e)) {
        return Ok(());
    }
    let message = if efforts.is_empty() {
        format!("Groq's `{model}` takes no `reasoning_effort`.")
    } else {
        format!(
            "Groq's `{model}` takes `reasoning_effort` {}.",
            efforts.join(", ")
        )
    };
    Err(ProviderError::unsupported("reasoning_effort", message))
}

fn shape_together(request: &mut ChatRequest) -> Result<(), ProviderError> {
    refuse_negative_token_limits(Variant::Together, request)?;
    refuse_openai_only(Variant::Together, request)?;
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
    refuse_negative_token_limits(Variant::Mistral, request)?;
    refuse_openai_only(Variant::Mistral, request)?;
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
    dialect: Variant,
    request: &mut EmbeddingsRequest,
) -> Result<(), ProviderError> {
    // Vectors always travel as floats from the provider; the gateway encodes base64 itself, so
    // `encoding_format` behaves the same whichever provider serves the model.
    request.encoding_format = None;
    match dialect {
        Variant::Openai | Variant::Groq | Variant::Compatible => {}
        Variant::Mistral => {
            request.user = None;
            if let Some(d) = request.dimensions.take() {
                request
                    .extra
                    .insert("output_dimension".into(), Value::from(d));
            }
        }
        Variant::Together => {
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
fn shaped(dialect: Variant, json: &str, stream: bool) -> Result<Value, ProviderError> {
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
        let v = shaped(Variant::Openai, &req(r#","store":true,"seed":7"#), true).unwrap();
        assert_eq!(v["store"], true);
        assert_eq!(v["seed"], 7);
        assert_eq!(v["stream"], true);
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["messages"][0]["role"], "developer");
    }

    #[test]
    fn openai_reasoning_models_get_max_completion_tokens_and_default_sampling() {
        let reasoning = |model: &str, extra: &str| {
            let json = req(extra).replacen(r#""model":"m""#, &format!(r#""model":"{model}""#), 1);
            shaped(Variant::Openai, &json, false)
        };
        for model in [
            "o4-mini",
            "o3",
            "o1-2024-12-17",
            "gpt-5-mini",
            "ft:o4-mini-2025-04-16:acme::x",
        ] {
            let v = reasoning(
                model,
                r#","max_tokens":50,"temperature":1,"reasoning_effort":"low""#,
            )
            .unwrap();
            assert!(v.get("max_tokens").is_none(), "{model}: {v}");
            assert_eq!(v["max_completion_tokens"], 50, "{model}");
            assert_eq!(v["reasoning_effort"], "low");
            for (extra, param) in [
                (r#","temperature":0.2"#, "temperature"),
                (r#","top_p":0.9"#, "top_p"),
                (r#","presence_penalty":0.5"#, "presence_penalty"),
                (r#","logprobs":true"#, "logprobs"),
                (r#","logit_bias":{"1":2}"#, "logit_bias"),
            ] {
                let e = reasoning(model, extra).unwrap_err();
                assert_eq!(e.kind, ProviderErrorKind::Unsupported, "{model} {extra}");
                assert_eq!(e.param.as_deref(), Some(param));
            }
        }
        let both = reasoning("o4-mini", r#","max_tokens":50,"max_completion_tokens":70"#).unwrap();
        assert_eq!(both["max_completion_tokens"], 70);
        assert!(both.get("max_tokens").is_none());
        for model in [
            "gpt-4o",
            "gpt-4.1-mini",
            "gpt-5-chat-latest",
            "omni-moderation",
        ] {
            let kept = reasoning(model, r#","max_tokens":50,"temperature":0.2"#).unwrap();
            assert_eq!(kept["max_tokens"], 50, "{model}");
            assert_eq!(kept["temperature"], 0.2);
            let e = reasoning(model, r#","reasoning_effort":"low""#).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("reasoning_effort"), "{model}");
        }
    }

    #[test]
    fn groq_takes_reasoning_effort_only_where_its_spec_says() {
        let groq = |model: &str, effort: &str| {
            let json = req(&format!(r#","reasoning_effort":"{effort}""#)).replacen(
                r#""model":"m""#,
                &format!(r#""model":"{model}""#),
                1,
            );
            shaped(Variant::Groq, &json, false)
        };
        assert!(groq("qwen/qwen3-32b", "none").is_ok());
        assert!(groq("openai/gpt-oss-120b", "high").is_ok());
        for (model, effort) in [
            ("llama-3.1-8b-instant", "low"),
            ("qwen/qwen3-32b", "high"),
            ("openai/gpt-oss-20b", "default"),
        ] {
            let e = groq(model, effort).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("reasoning_effort"), "{model}");
        }
    }

    #[test]
    fn stream_options_never_go_on_a_non_stream_call() {
        let v = shaped(
            Variant::Openai,
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
            Variant::Mistral,
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
        let e = shaped(Variant::Mistral, &req(r#","temperature":1.8"#), false).unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::Unsupported);
        assert_eq!(e.param.as_deref(), Some("temperature"));
        let e = shaped(Variant::Mistral, &req(r#","logprobs":true"#), false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("logprobs"));
    }

    #[test]
    fn together_gets_list_stops_counted_logprobs_and_string_system_content() {
        let v = shaped(
            Variant::Together,
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
        assert!(shaped(Variant::Openai, &req(r#","max_tokens":-1"#), false).is_ok());
        for dialect in [Variant::Groq, Variant::Together, Variant::Mistral] {
            let e = shaped(dialect, &req(r#","max_completion_tokens":-1"#), false).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("max_completion_tokens"));
        }
    }

    #[test]
    fn groq_gets_no_stream_options() {
        let v = shaped(
            Variant::Groq,
            &req(r#","stream_options":{"include_usage":true}"#),
            true,
        )
        .unwrap();
        assert!(v.get("stream_options").is_none());
    }

    #[test]
    fn groq_takes_one_choice_only() {
        let e = shaped(Variant::Groq, &req(r#","n":2"#), false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("n"));
        assert!(shaped(Variant::Groq, &req(r#","n":1"#), false).is_ok());
    }

    #[test]
    fn audio_output_is_refused_outside_openai() {
        let e = shaped(
            Variant::Groq,
            &req(r#","modalities":["text","audio"]"#),
            false,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("modalities"));
        assert!(
            shaped(
                Variant::Openai,
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
        shape_embeddings(Variant::Mistral, &mut e).unwrap();
        let v = serde_json::to_value(&e).unwrap();
        assert!(v.get("encoding_format").is_none());
        assert_eq!(v["output_dimension"], 8);
    }
}
