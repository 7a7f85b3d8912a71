//! InvokeModel for Amazon Titan Text Embeddings (v1 and v2): the body Titan reads, checked
//! as Titan checks it, and its answer.

use serde_json::{Value, json};

use crate::{
    aws::{AwsError, kind},
    content::{embedding, estimate_tokens, fingerprint},
    directives::Directives,
};

const V2_DIMENSIONS: &[u64] = &[256, 512, 1024];
const V2_DEFAULT_DIMENSIONS: usize = 1024;
const V1_DIMENSIONS: usize = 1536;

pub(super) struct TitanRequest {
    pub text: String,
    pub dimensions: usize,
    pub directives: Directives,
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::validation("ValidationException", message)
}

impl TitanRequest {
    pub(super) fn parse(model: &str, body: &Value) -> Result<Self, AwsError> {
        if !model.starts_with("amazon.titan-embed-text") {
            return Err(invalid(format!(
                "The fake serves InvokeModel for Titan Text Embeddings only, not `{model}`"
            )));
        }
        let v2 = model.contains("-v2");
        let body = body.as_object().ok_or_else(|| {
            invalid(format!(
                "Malformed input request: expected type: JSONObject, found: {}",
                kind(body)
            ))
        })?;
        let allowed: &[&str] = if v2 {
            &["inputText", "dimensions", "normalize", "embeddingTypes"]
        } else {
            &["inputText"]
        };
        if let Some(key) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(invalid(format!(
                "Malformed input request: extraneous key [{key}] is not permitted, please reformat your input and try again."
            )));
        }
        let text = body
            .get("inputText")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid("Malformed input request: required key [inputText] not found")
            })?;
        if text.is_empty() {
            return Err(invalid(
                "Malformed input request: expected minLength: 1, actual: 0",
            ));
        }
        let dimensions = match body.get("dimensions") {
            None => {
                if v2 {
                    V2_DEFAULT_DIMENSIONS
                } else {
                    V1_DIMENSIONS
                }
            }
            Some(d) => match d.as_u64().filter(|d| V2_DIMENSIONS.contains(d)) {
                Some(d) => d as usize,
                None => {
                    return Err(invalid(format!(
                        "Malformed input request: #/dimensions: {d} is not a valid enum value"
                    )));
                }
            },
        };
        if body.get("normalize").is_some_and(|n| !n.is_boolean()) {
            return Err(invalid(
                "Malformed input request: #/normalize: expected type: Boolean",
            ));
        }
        let directives = Directives::parse([text]).map_err(|e| invalid(e.to_string()))?;
        Ok(TitanRequest {
            text: text.to_owned(),
            dimensions,
            directives,
        })
    }

    pub(super) fn answer(&self) -> Value {
        json!({
            "embedding": embedding(fingerprint(&[self.text.as_bytes()]), self.dimensions),
            "inputTextTokenCount": estimate_tokens(&self.text),
        })
    }
}
