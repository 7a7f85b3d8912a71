//! `embedContent` and `batchEmbedContents`: deterministic unit vectors of the model's size
//! (or `outputDimensionality`), for text parts only.

use serde_json::{Value, json};

use super::{
    error::GoogleError,
    request::{array, check_model_name, field, fields, integer, object, string},
};
use crate::{
    content::{embedding, fingerprint},
    directives::Directives,
};

/// Gemini's limit on requests in one batch.
const MAX_BATCH: usize = 100;
const REQUEST_FIELDS: &[&str] = &[
    "model",
    "content",
    "taskType",
    "title",
    "outputDimensionality",
];
const TASK_TYPES: &[&str] = &[
    "TASK_TYPE_UNSPECIFIED",
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
];

pub(super) struct EmbedRequest {
    model: String,
    /// Each text with its vector size.
    items: Vec<(String, usize)>,
    batch: bool,
    pub directives: Directives,
}

impl EmbedRequest {
    pub(super) fn parse(body: &Value, model: &str, batch: bool) -> Result<Self, GoogleError> {
        let items = if batch {
            let root = fields(object(body, "")?, "", &["requests"])?;
            let requests = field(&root, "requests")
                .ok_or_else(|| GoogleError::invalid("requests", "requests is required"))?;
            let requests = array(requests, "requests")?;
            if requests.is_empty() || requests.len() > MAX_BATCH {
                return Err(GoogleError::invalid(
                    "requests",
                    format!(
                        "* BatchEmbedContentsRequest.requests: at least 1 and at most {MAX_BATCH} requests are allowed in a batch."
                    ),
                ));
            }
            requests
                .iter()
                .enumerate()
                .map(|(i, r)| item(r, model, &format!("requests[{i}]"), true))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![item(body, model, "", false)?]
        };
        let directives = Directives::parse(items.iter().map(|(t, _)| t.as_str()))
            .map_err(|e| GoogleError::directive(&e))?;
        Ok(Self {
            model: model.to_owned(),
            items,
            batch,
            directives,
        })
    }

    pub(super) fn response(&self) -> Value {
        let vectors: Vec<Value> = self
            .items
            .iter()
            .map(|(text, size)| {
                let values = embedding(
                    fingerprint(&[self.model.as_bytes(), text.as_bytes()]),
                    *size,
                );
                json!({ "values": values })
            })
            .collect();
        if self.batch {
            json!({ "embeddings": vectors })
        } else {
            json!({ "embedding": vectors.into_iter().next().unwrap_or(Value::Null) })
        }
    }
}

/// One `EmbedContentRequest`: its text and vector size. In a batch `model` is required.
fn item(body: &Value, model: &str, at: &str, batch: bool) -> Result<(String, usize), GoogleError> {
    let f = fields(object(body, at)?, at, REQUEST_FIELDS)?;
    let join = |name: &str| {
        if at.is_empty() {
            name.to_owned()
        } else {
            format!("{at}.{name}")
        }
    };
    match field(&f, "model") {
        Some(name) => check_model_name(name, model, &join("model"))?,
        None if batch => return Err(GoogleError::invalid(&join("model"), "model is required")),
        None => {}
    }
    if let Some(task) = field(&f, "taskType") {
        let task = string(task, &join("task_type"))?;
        if !TASK_TYPES.contains(&task) {
            return Err(GoogleError::invalid(
                &join("task_type"),
                format!("Invalid value at 'task_type', \"{task}\""),
            ));
        }
    }
    if let Some(title) = field(&f, "title") {
        string(title, &join("title"))?;
    }
    let content = field(&f, "content")
        .ok_or_else(|| GoogleError::invalid(&join("content"), "content is required"))?;
    let c = fields(
        object(content, &join("content"))?,
        &join("content"),
        &["role", "parts"],
    )?;
    let parts = field(&c, "parts")
        .map(|p| array(p, &join("content.parts")))
        .transpose()?
        .unwrap_or(&[]);
    if parts.is_empty() {
        return Err(GoogleError::invalid(
            &join("content.parts"),
            "content.parts must not be empty.",
        ));
    }
    let mut text = String::new();
    for (k, part) in parts.iter().enumerate() {
        let at = join(&format!("content.parts[{k}]"));
        let p = fields(object(part, &at)?, &at, &["text"])?;
        let t = field(&p, "text")
            .ok_or_else(|| GoogleError::invalid(&at, "Only text parts can be embedded."))?;
        let t = string(t, &at)?;
        if t.is_empty() {
            return Err(GoogleError::invalid(
                &at,
                "Unable to submit request because it has an empty text parameter.",
            ));
        }
        text.push_str(t);
    }
    let (default, max) = sizes(model);
    let size = match field(&f, "outputDimensionality") {
        Some(d) => integer(d, &join("output_dimensionality"), 1, max as i64)? as usize,
        None => default,
    };
    Ok((text, size))
}

/// Default and largest vector size of a model.
fn sizes(model: &str) -> (usize, usize) {
    if model.starts_with("gemini-embedding") {
        (3072, 3072)
    } else {
        (768, 768)
    }
}
