//! Checks beyond what a [`Check`](super::params::Check) says by itself, for fields the
//! fake validates and then ignores; the dialect tables refer to these.

use serde_json::Value;

use super::{
    error::ApiError,
    params::{self, Check, Field, Object, check_fields, get, param, reject_unknown},
};

/// Mistral's `image_url` chunk value: a URL, or `{"url", "detail"}`.
pub(super) fn mistral_image_url(obj: &Object, at: &str, key: &str) -> Result<(), ApiError> {
    const FIELDS: &[Field] = &[
        Field::required("url", Check::Text),
        Field::optional("detail", Check::OneOf(&["low", "auto", "high"])),
    ];
    match get(obj, key) {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Object(image)) => check_fields(image, &param(at, key), FIELDS, &[]),
        Some(other) => Err(ApiError::invalid_type(
            &param(at, key),
            "one of a string or object",
            other,
        )),
    }
}

/// Groq's `include_reasoning`: a boolean that excludes `reasoning_format`.
pub(super) fn groq_include_reasoning(obj: &Object, _: &str, key: &str) -> Result<(), ApiError> {
    if params::boolean(obj, "", key)?.is_some() && get(obj, "reasoning_format").is_some() {
        return Err(ApiError::invalid(
            "`include_reasoning` and `reasoning_format` cannot be used together",
            Some(key),
            None,
        ));
    }
    Ok(())
}

/// Groq's `reasoning_effort`, which its spec gives per model family: Qwen3 models take `none`
/// or `default`, openai/gpt-oss models `low`, `medium` or `high`, and the others none.
pub(super) fn groq_reasoning_effort(obj: &Object, _: &str, key: &str) -> Result<(), ApiError> {
    let Some(value) = get(obj, key) else {
        return Ok(());
    };
    let model = get(obj, "model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let efforts: &[&str] = if model.starts_with("qwen/qwen3") {
        &["none", "default"]
    } else if model.starts_with("openai/gpt-oss") {
        &["low", "medium", "high"]
    } else {
        &[]
    };
    match value.as_str() {
        Some(effort) if efforts.contains(&effort) => Ok(()),
        _ if efforts.is_empty() => Err(ApiError::invalid(
            format!("`{key}` is not supported with this model"),
            Some(key),
            None,
        )),
        _ => Err(ApiError::invalid(
            format!("`{key}` must be one of: {}", efforts.join(", ")),
            Some(key),
            None,
        )),
    }
}

/// OpenAI's `metadata`: at most 16 string values, with short keys and values.
pub(super) fn openai_metadata(obj: &Object, _: &str, _: &str) -> Result<(), ApiError> {
    let Some(metadata) = params::object(obj, "", "metadata")? else {
        return Ok(());
    };
    if metadata.len() > 16 {
        return Err(ApiError::invalid(
            format!(
                "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got \
                 {} instead.",
                metadata.len()
            ),
            Some("metadata"),
            Some("object_above_max_properties"),
        ));
    }
    for (key, value) in metadata {
        let at = param("metadata", key);
        let text = value
            .as_str()
            .ok_or_else(|| ApiError::invalid_type(&at, "a string", value))?;
        if key.chars().count() > 64 || text.chars().count() > 512 {
            return Err(ApiError::invalid(
                format!(
                    "Invalid '{at}': metadata keys are limited to 64 characters and values to 512."
                ),
                Some(&at),
                Some("invalid_value"),
            ));
        }
    }
    Ok(())
}

/// OpenAI's `logit_bias`: token ids mapped to biases within -100..=100.
pub(super) fn openai_logit_bias(obj: &Object, _: &str, _: &str) -> Result<(), ApiError> {
    let Some(bias) = params::object(obj, "", "logit_bias")? else {
        return Ok(());
    };
    for key in bias.keys() {
        if key.parse::<u32>().is_err() {
            return Err(ApiError::invalid(
                format!("Invalid key in 'logit_bias': {key}. Should be an integer token ID."),
                Some("logit_bias"),
                Some("invalid_value"),
            ));
        }
        params::decimal(bias, "logit_bias", key, -100.0, 100.0)?;
    }
    Ok(())
}

/// OpenAI's `prediction`: `{"type": "content", "content": string or parts}`.
pub(super) fn openai_prediction(obj: &Object, _: &str, _: &str) -> Result<(), ApiError> {
    let Some(prediction) = params::object(obj, "", "prediction")? else {
        return Ok(());
    };
    reject_unknown(prediction, "prediction", &["type", "content"])?;
    params::one_of(prediction, "prediction", "type", &["content"])?
        .ok_or_else(|| ApiError::missing("prediction.type"))?;
    match get(prediction, "content") {
        Some(Value::String(_) | Value::Array(_)) => Ok(()),
        Some(other) => Err(ApiError::invalid_type(
            "prediction.content",
            "one of a string or array of objects",
            other,
        )),
        None => Err(ApiError::missing("prediction.content")),
    }
}

/// OpenAI's `modalities`. Text is the only output the fake can produce; asking for audio
/// is refused loudly.
pub(super) fn output_modalities(obj: &Object, _: &str, _: &str) -> Result<(), ApiError> {
    if let Some(modalities) = params::array(obj, "", "modalities")? {
        for (index, modality) in modalities.iter().enumerate() {
            let at = format!("modalities[{index}]");
            match modality.as_str() {
                Some("text") => {}
                Some("audio") => {
                    return Err(ApiError::unsupported(
                        "gateway-fakes does not simulate audio output.",
                        "modalities",
                    ));
                }
                Some(other) => return Err(ApiError::invalid_value(&at, other, &["text", "audio"])),
                None => return Err(ApiError::invalid_type(&at, "a string", modality)),
            }
        }
    }
    Ok(())
}

/// OpenAI's `audio` output options, refused like `modalities: ["audio"]`.
pub(super) fn audio_output(obj: &Object, _: &str, _: &str) -> Result<(), ApiError> {
    if get(obj, "audio").is_some() {
        return Err(ApiError::unsupported(
            "gateway-fakes does not simulate audio output.",
            "audio",
        ));
    }
    Ok(())
}
