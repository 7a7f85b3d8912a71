//! `POST …/embeddings`: deterministic unit vectors, as floats (or Mistral's quantized
//! integers), plain or base64.

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use super::{
    dialects::Rules,
    error::{ApiError, Bound},
    params::{self, Field, get},
};
use crate::{
    content::{embedding, estimate_tokens, fingerprint},
    directives::Directives,
};

const OUTPUT_DTYPES: &[&str] = &["float", "int8", "uint8", "binary", "ubinary"];

/// What a dialect accepts in an embeddings request.
pub(super) struct EmbeddingRules {
    /// The parameters that shape the reply. Together with `passive`, every parameter
    /// the dialect takes.
    pub active: &'static [&'static str],
    /// Parameters that are validated, then ignored.
    pub passive: &'static [Field],
    /// Whether `input` may be token ids, as OpenAI's may.
    pub token_inputs: bool,
    pub max_inputs: Option<usize>,
    /// The parameter that sets the vector size, if there is one.
    pub dimensions: Option<&'static str>,
}

pub(super) struct EmbeddingRequest {
    pub model: String,
    inputs: Vec<Input>,
    base64: bool,
    dtype: &'static str,
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
    Quantized(Vec<i16>),
    Base64(String),
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    total_tokens: u64,
}

impl EmbeddingRequest {
    pub(super) fn parse(body: &Value, dialect: &Rules) -> Result<Self, ApiError> {
        let rules = &dialect.embeddings;
        let obj = dialect.request(body, rules.active, &[rules.passive])?;
        let model = params::model(obj)?;
        let input = get(obj, "input").ok_or_else(|| ApiError::missing("input"))?;
        let inputs = inputs(input, rules)?;
        let base64 =
            params::one_of(obj, "", "encoding_format", &["float", "base64"])? == Some("base64");
        let dtype = params::one_of(obj, "", "output_dtype", OUTPUT_DTYPES)?
            .and_then(|dtype| OUTPUT_DTYPES.iter().find(|known| **known == dtype))
            .copied()
            .unwrap_or("float");
        for field in rules.passive {
            field.apply(obj, "")?;
        }
        let requested = match rules.dimensions {
            Some(key) => params::integer(obj, "", key, 1, i64::MAX)?.map(|size| (key, size)),
            None => None,
        };
        let dimensions = dimensions(&model, requested)?;
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
            dtype,
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
                let embedding = match (quantize(&vector, self.dtype), self.base64) {
                    (None, false) => Vector::Float(vector),
                    (None, true) => {
                        let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                        Vector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
                    }
                    (Some(values), false) => Vector::Quantized(values),
                    (Some(values), true) => {
                        // One byte per value: int8 values in two's complement.
                        let bytes: Vec<u8> = values.iter().map(|value| *value as u8).collect();
                        Vector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
                    }
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

/// `vector` as Mistral's `output_dtype` asks: `None` for floats; else one integer per
/// dimension (`int8`, `uint8`) or per eight dimensions, as packed sign bits (`binary`,
/// `ubinary`).
fn quantize(vector: &[f32], dtype: &str) -> Option<Vec<i16>> {
    let packed = || {
        vector.chunks(8).map(|bits| {
            bits.iter()
                .enumerate()
                .filter(|(_, x)| **x > 0.0)
                .fold(0_u8, |byte, (bit, _)| byte | (0x80 >> bit))
        })
    };
    match dtype {
        "int8" => Some(
            vector
                .iter()
                .map(|x| (x * 127.0).round().clamp(-128.0, 127.0) as i16)
                .collect(),
        ),
        "uint8" => Some(
            vector
                .iter()
                .map(|x| ((x + 1.0) * 127.5).round().clamp(0.0, 255.0) as i16)
                .collect(),
        ),
        "binary" => Some(packed().map(|byte| i16::from(byte as i8)).collect()),
        "ubinary" => Some(packed().map(i16::from).collect()),
        _ => None,
    }
}

/// `input`: a string or an array of strings, and where the dialect allows, an array of
/// token ids or an array of token-id arrays; never empty.
fn inputs(input: &Value, rules: &EmbeddingRules) -> Result<Vec<Input>, ApiError> {
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
    if let Value::Array(items) = input
        && let Some(max) = rules.max_inputs.filter(|max| items.len() > *max)
    {
        return Err(ApiError::array_too_long("input", max, items.len()));
    }
    match input {
        Value::String(_) => text(input).map(|input| vec![input]).ok_or_else(invalid),
        Value::Array(items) if !rules.token_inputs => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(_) => text(item).ok_or_else(invalid),
                other => Err(ApiError::invalid_type(
                    &format!("input[{index}]"),
                    "a string",
                    other,
                )),
            })
            .collect(),
        _ if !rules.token_inputs => Err(ApiError::invalid_type(
            "input",
            "one of a string or array of strings",
            input,
        )),
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

/// The vector size: `requested` (by the named parameter) if the model allows it, else the
/// model family's default.
fn dimensions(model: &str, requested: Option<(&str, i64)>) -> Result<usize, ApiError> {
    let (default, max, configurable) = if model.contains("ada") {
        (1536, 1536, false)
    } else if model.ends_with("-small") {
        (1536, 1536, true)
    } else if model.ends_with("-large") {
        (3072, 3072, true)
    } else {
        (256, 4096, true)
    };
    let Some((key, requested)) = requested else {
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
            key,
            "integer",
            Bound::Max(max as f64),
            &requested.into(),
        ));
    }
    Ok(usize::try_from(requested).unwrap_or(default))
}
