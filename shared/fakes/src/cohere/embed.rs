//! `/v2/embed` checked as Cohere checks it, answered with deterministic float vectors.
//!
//! Vector sizes follow Cohere's models: 1024 for the v3 models, 384 for their `light`
//! variants, 1536 (or `output_dimension`: 256, 512, 1024, 1536) for embed-v4.0.

use serde_json::{Map, Value, json};

use super::error::CohereError;
use crate::content::{embedding, estimate_tokens, fingerprint};
use crate::directives::Directives;

const FIELDS: &[&str] = &[
    "texts",
    "images",
    "model",
    "input_type",
    "inputs",
    "max_tokens",
    "output_dimension",
    "embedding_types",
    "truncate",
    "priority",
];
const INPUT_TYPES: &[&str] = &[
    "search_document",
    "search_query",
    "classification",
    "clustering",
    "image",
];
const EMBEDDING_TYPES: &[&str] = &["float", "int8", "uint8", "binary", "ubinary", "base64"];
const MAX_TEXTS: usize = 96;

pub(super) struct EmbedRequest {
    pub model: String,
    texts: Vec<String>,
    dimensions: usize,
    pub directives: Directives,
}

impl EmbedRequest {
    pub(super) fn parse(body: &Value) -> Result<Self, CohereError> {
        let obj = body
            .as_object()
            .ok_or_else(|| CohereError::invalid("body", "must be a JSON object"))?;
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(CohereError::invalid(unknown, "unknown field"));
        }
        let model = obj
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| CohereError::invalid("model", "is required and must be a string"))?
            .to_owned();
        match obj.get("input_type").and_then(Value::as_str) {
            Some(t) if INPUT_TYPES.contains(&t) => {}
            _ => {
                return Err(CohereError::invalid(
                    "input_type",
                    format!("is required and must be one of {}", INPUT_TYPES.join(", ")),
                ));
            }
        }
        if obj.contains_key("images") || obj.contains_key("inputs") {
            return Err(CohereError::invalid(
                "texts",
                "the fake Cohere API embeds `texts` only",
            ));
        }
        let texts = obj
            .get("texts")
            .and_then(Value::as_array)
            .filter(|t| (1..=MAX_TEXTS).contains(&t.len()))
            .ok_or_else(|| {
                CohereError::invalid(
                    "texts",
                    format!("must be an array of 1 to {MAX_TEXTS} strings"),
                )
            })?
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| CohereError::invalid("texts", "must contain strings only"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(types) = obj.get("embedding_types") {
            let ok = types.as_array().is_some_and(|t| {
                !t.is_empty()
                    && t.iter()
                        .all(|x| x.as_str().is_some_and(|x| EMBEDDING_TYPES.contains(&x)))
            });
            if !ok {
                return Err(CohereError::invalid(
                    "embedding_types",
                    format!("must be a list of {}", EMBEDDING_TYPES.join(", ")),
                ));
            }
            if !types.as_array().into_iter().flatten().any(|t| t == "float") {
                return Err(CohereError::invalid(
                    "embedding_types",
                    "the fake Cohere API returns `float` embeddings only",
                ));
            }
        }
        check_enum(obj, "truncate", &["NONE", "START", "END"])?;
        check_integer(obj, "max_tokens", 1, i64::MAX)?;
        check_integer(obj, "priority", 0, 999)?;
        let dimensions = dimensions(&model, obj.get("output_dimension"))?;
        let directives = Directives::parse(texts.iter().map(String::as_str))
            .map_err(|e| CohereError::directive(&e))?;
        Ok(Self {
            model,
            texts,
            dimensions,
            directives,
        })
    }

    pub(super) fn response(&self) -> Value {
        let vectors: Vec<Vec<f32>> = self
            .texts
            .iter()
            .map(|t| {
                embedding(
                    fingerprint(&[self.model.as_bytes(), t.as_bytes()]),
                    self.dimensions,
                )
            })
            .collect();
        let tokens: u64 = self.texts.iter().map(|t| estimate_tokens(t)).sum();
        let seed = fingerprint(&[self.texts.concat().as_bytes()]);
        json!({
            "id": super::uuid(seed),
            "response_type": "embeddings_by_type",
            "texts": self.texts,
            "embeddings": {"float": vectors},
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
        })
    }
}

fn dimensions(model: &str, requested: Option<&Value>) -> Result<usize, CohereError> {
    let default = if model.starts_with("embed-v4") {
        1536
    } else if model.contains("light") {
        384
    } else {
        1024
    };
    let Some(requested) = requested else {
        return Ok(default);
    };
    if !model.starts_with("embed-v4") {
        return Err(CohereError::invalid(
            "output_dimension",
            format!("is not supported by {model}"),
        ));
    }
    match requested.as_u64() {
        Some(d @ (256 | 512 | 1024 | 1536)) => Ok(d as usize),
        _ => Err(CohereError::invalid(
            "output_dimension",
            "must be one of 256, 512, 1024, 1536",
        )),
    }
}

fn check_enum(obj: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<(), CohereError> {
    match obj.get(key) {
        None => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(_) => Err(CohereError::invalid(
            key,
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

fn check_integer(
    obj: &Map<String, Value>,
    key: &str,
    min: i64,
    max: i64,
) -> Result<(), CohereError> {
    match obj.get(key) {
        None => Ok(()),
        Some(v) if v.as_i64().is_some_and(|n| (min..=max).contains(&n)) => Ok(()),
        Some(_) => Err(CohereError::invalid(
            key,
            format!("must be an integer from {min} to {max}"),
        )),
    }
}
