//! What OpenAI enforces per model family, which its schema does not say: its reasoning models
//! (o1, o3, o4-mini, gpt-5 and their snapshots) refuse `max_tokens` and any sampling setting
//! but the default, and its other models refuse `reasoning_effort`. Worded as OpenAI words it.

use serde_json::Value;

use super::{
    error::ApiError,
    params::{Object, get},
};

pub(super) fn check(obj: &Object, model: &str) -> Result<(), ApiError> {
    if !is_reasoning(model) {
        return match get(obj, "reasoning_effort") {
            Some(_) => Err(ApiError::invalid(
                "Unrecognized request argument supplied: reasoning_effort",
                None,
                None,
            )),
            None => Ok(()),
        };
    }
    let unsupported = |key: &str| {
        ApiError::invalid(
            format!("Unsupported parameter: '{key}' is not supported with this model."),
            Some(key),
            Some("unsupported_parameter"),
        )
    };
    if get(obj, "max_tokens").is_some() {
        return Err(ApiError::invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use \
             'max_completion_tokens' instead.",
            Some("max_tokens"),
            Some("unsupported_parameter"),
        ));
    }
    for (key, default) in [
        ("temperature", 1.0),
        ("top_p", 1.0),
        ("presence_penalty", 0.0),
        ("frequency_penalty", 0.0),
    ] {
        if let Some(value) = get(obj, key).and_then(Value::as_f64)
            && value != default
        {
            return Err(ApiError::invalid(
                format!(
                    "Unsupported value: '{key}' does not support {value} with this model. Only \
                     the default ({default}) value is supported."
                ),
                Some(key),
                Some("unsupported_value"),
            ));
        }
    }
    if get(obj, "logprobs") == Some(&Value::Bool(true)) {
        return Err(unsupported("logprobs"));
    }
    for key in ["top_logprobs", "logit_bias"] {
        if get(obj, key).is_some() {
            return Err(unsupported(key));
        }
    }
    Ok(())
}

/// o1, o3, o4-mini, gpt-5 (not gpt-5-chat), their dated snapshots and fine-tunes.
fn is_reasoning(model: &str) -> bool {
    let model = model.strip_prefix("ft:").unwrap_or(model);
    let family = model.split(['-', ':']).next().unwrap_or(model);
    matches!(family, "o1" | "o3" | "o4") || (model.starts_with("gpt-5") && !model.contains("-chat"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn checked(model: &str, body: Value) -> Result<(), ApiError> {
        check(body.as_object().unwrap(), model)
    }

    #[test]
    fn reasoning_models_refuse_max_tokens_and_sampling_settings() {
        for model in [
            "o1",
            "o3-mini",
            "o4-mini-2025-04-16",
            "gpt-5",
            "ft:o4-mini:acme::1",
        ] {
            assert!(
                checked(
                    model,
                    json!({"max_completion_tokens": 9, "reasoning_effort": "low", "temperature": 1})
                )
                .is_ok()
            );
            for body in [
                json!({"max_tokens": 9}),
                json!({"temperature": 0.5}),
                json!({"top_p": 0.5}),
                json!({"frequency_penalty": 1}),
                json!({"logprobs": true}),
                json!({"logit_bias": {}}),
            ] {
                assert!(checked(model, body.clone()).is_err(), "{model} {body}");
            }
        }
    }

    #[test]
    fn other_models_refuse_reasoning_effort() {
        for model in ["gpt-4o", "gpt-4.1-nano", "gpt-5-chat-latest"] {
            assert!(checked(model, json!({"max_tokens": 9, "temperature": 0.5})).is_ok());
            assert!(
                checked(model, json!({"reasoning_effort": "low"})).is_err(),
                "{model}"
            );
        }
    }
}
