//! `POST …/embeddings`: deterministic unit vectors, as floats or base64.

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use super::{
    error::ApiError,
    params::{self, get},
};
use crate::{
    content::{embedding, estimate_tokens, fingerprint},
    directives::Directives,
};

const KNOWN_PARAMETERS: &[&str] = &["model", "input", "encoding_format", "dimensions", "user"];
const MAX_INPUTS: usize = 2048;

pub(super) struct EmbeddingRequest {
    pub model: String,
    inputs: Vec<Input>,
    base64: bool,
    dimensions: usize,
    pub directives: Directives,
}

enum Input {
    Text(String),
    Tokens(Vec<u64>),
}

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<Embedding>,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Serialize)]
struct Embedding {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

/// Floats serialize in their shortest `f32` form, as OpenAI sends them.
#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    total_tokens: u64,
}

impl EmbeddingRequest {
    pub(super) fn parse(body: &Value) -> Result<Self, ApiError> {
        let obj = body.as_object().ok_or_else(ApiError::unparseable_body)?;
        if let Some(key) = obj
            .keys()
            .find(|key| !KNOWN_PARAMETERS.contains(&key.as_str()))
        {
            return Err(ApiError::unrecognized_argument(key));
        }
        let model = match obj.get("model") {
            None | Some(Value::Null) => {
                return Err(ApiError::invalid(
                    "you must provide a model parameter",
                    None,
                    None,
                ));
            }
            Some(Value::String(model)) => model.clone(),
            Some(other) => return Err(ApiError::invalid_type("model", "a string", other)),
        };
        let inputs = inputs(get(obj, "input").ok_or_else(|| ApiError::missing("input"))?)?;
        let base64 =
            params::one_of(obj, "", "encoding_format", &["float", "base64"])? == Some("base64");
        params::string(obj, "", "user")?;
        let dimensions = dimensions(&model, params::integer(obj, "", "dimensions", 1, i64::MAX)?)?;
        let texts = inputs.iter().filter_map(|input| match input {
            Input::Text(text) => Some(text.as_str()),
            Input::Tokens(_) => None,
        });
        let directives =
            Directives::parse(texts).map_err(|error| ApiError::directive(&error, "input"))?;
        Ok(Self {
            model,
            inputs,
            base64,
            dimensions,
            directives,
        })
    }

    /// The response body.
    pub(super) fn respond(&self) -> Response {
        let data = self
            .inputs
            .iter()
            .enumerate()
            .map(|(index, input)| {
                let key = match input {
                    Input::Text(text) => text.clone(),
                    Input::Tokens(tokens) => format!("{tokens:?}"),
                };
                let vector = embedding(
                    fingerprint(&[self.model.as_bytes(), key.as_bytes()]),
                    self.dimensions,
                );
                let embedding = if self.base64 {
                    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                    Vector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
                } else {
                    Vector::Float(vector)
                };
                Embedding {
                    object: "embedding",
                    index,
                    embedding,
                }
            })
            .collect();
        let prompt_tokens = self
            .inputs
            .iter()
            .map(|input| match input {
                Input::Text(text) => estimate_tokens(text),
                Input::Tokens(tokens) => tokens.len() as u64,
            })
            .sum();
        let list = List {
            object: "list",
            data,
            model: &self.model,
            usage: (!self.directives.omit_usage).then_some(Usage {
                prompt_tokens,
                total_tokens: prompt_tokens,
            }),
        };
        axum::Json(list).into_response()
    }
}

/// `input`: a string, an array of strings, an array of token ids, or an array of
/// token-id arrays; never empty.
fn inputs(input: &Value) -> Result<Vec<Input>, ApiError> {
    let invalid = || {
        ApiError::invalid(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            Some("input"),
            None,
        )
    };
    let tokens = |items: &[Value]| -> Option<Vec<u64>> {
        let tokens: Option<Vec<u64>> = items.iter().map(Value::as_u64).collect();
        tokens.filter(|tokens| !tokens.is_empty())
    };
    let text = |item: &Value| {
        item.as_str()
            .filter(|text| !text.is_empty())
            .map(|text| Input::Text(text.to_owned()))
    };
    match input {
        Value::String(_) => text(input).map(|input| vec![input]).ok_or_else(invalid),
        Value::Array(items) if items.len() > MAX_INPUTS => {
            Err(ApiError::array_too_long("input", MAX_INPUTS, items.len()))
        }
        Value::Array(items) if items.first().is_some_and(Value::is_string) => items
            .iter()
            .map(text)
            .collect::<Option<_>>()
            .ok_or_else(invalid),
        Value::Array(items) if items.first().is_some_and(Value::is_array) => items
            .iter()
            .map(|item| {
                item.as_array()
                    .and_then(|item| tokens(item))
                    .map(Input::Tokens)
            })
            .collect::<Option<_>>()
            .ok_or_else(invalid),
        Value::Array(items) => tokens(items)
            .map(|tokens| vec![Input::Tokens(tokens)])
            .ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// The vector size: `requested` if the model allows it, else the model family's default.
fn dimensions(model: &str, requested: Option<i64>) -> Result<usize, ApiError> {
    let (default, max, configurable) = if model.contains("ada") {
        (1536, 1536, false)
    } else if model.ends_with("-small") {
        (1536, 1536, true)
    } else if model.ends_with("-large") {
        (3072, 3072, true)
    } else {
        (256, 4096, true)
    };
    let Some(requested) = requested else {
        return Ok(default);
    };
    if !configurable {
        return Err(ApiError::invalid(
            "This model does not support specifying dimensions.",
            None,
            None,
        ));
    }
    if requested > max {
        return Err(ApiError::out_of_range(
            "dimensions",
            "integer",
            true,
            &max.to_string(),
            &requested.into(),
        ));
    }
    Ok(usize::try_from(requested).unwrap_or(default))
}
