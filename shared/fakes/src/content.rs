//! Deterministic content: reply text, word-level streaming and truncation, JSON that
//! satisfies a JSON Schema, ids and embedding vectors.
//!
//! Everything is derived from FNV-1a hashes and a SplitMix64 generator rather than
//! `std`'s hasher, whose output may change between Rust releases: tests may pin values.

use serde_json::{Map, Value, json};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Recursive schemas (`$ref` cycles) are cut off at this depth.
const MAX_SCHEMA_DEPTH: usize = 24;

/// A stable 64-bit hash of `parts`, where part boundaries matter.
pub(crate) fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut hash = FNV_OFFSET;
    for part in parts {
        for &byte in *part {
            hash = (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
        hash = (hash ^ 0xff).wrapping_mul(FNV_PRIME);
    }
    hash
}

/// SplitMix64.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[-1, 1)`.
    fn next_signed_unit(&mut self) -> f64 {
        let mantissa = self.next_u64() >> 11;
        mantissa as f64 / (1_u64 << 52) as f64 - 1.0
    }
}

/// `len` characters from `[A-Za-z0-9]`, determined by `seed`.
pub(crate) fn alphanumeric(seed: u64, len: usize) -> String {
    let mut rng = Rng::new(seed);
    (0..len)
        .map(|_| {
            let index = (rng.next_u64() % ALPHANUMERIC.len() as u64) as usize;
            char::from(ALPHANUMERIC.get(index).copied().unwrap_or(b'x'))
        })
        .collect()
}

/// A rough token count for `text`: one token per four characters.
pub(crate) fn estimate_tokens(text: &str) -> u64 {
    text.chars().count().div_ceil(4) as u64
}

/// The first `max` characters of `text`.
pub(crate) fn excerpt(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// How many characters of a prompt or tool result a reply quotes back.
const QUOTE_CHARS: usize = 200;

/// The start of `text`, without directives, for quoting in a reply.
pub(crate) fn quote(text: &str) -> String {
    let stripped = crate::directives::strip(text);
    excerpt(stripped.trim(), QUOTE_CHARS).trim_end().to_owned()
}

/// What a reply answers: a tool's result, or the user's last words.
pub(crate) enum Heard<'a> {
    ToolResult(&'a str),
    Prompt(&'a str),
}

/// Every dialect's deterministic reply text: `words` filler words when the request asks for
/// them, else a sentence naming the model and quoting what it heard.
pub(crate) fn simulated_text(model: &str, words: Option<usize>, heard: Heard<'_>) -> String {
    if let Some(words) = words {
        return filler(words);
    }
    match heard {
        Heard::ToolResult(result) => format!(
            "This is a simulated reply from {model}. The tool returned: {}",
            quote(result)
        ),
        Heard::Prompt(prompt) => match quote(prompt) {
            quoted if quoted.is_empty() => format!("This is a simulated reply from {model}."),
            quoted => format!("This is a simulated reply from {model}. You said: {quoted}"),
        },
    }
}

/// `text` split into words, each keeping the whitespace that follows it (and the first
/// keeping any leading whitespace), so the pieces concatenate back to `text` exactly.
pub(crate) fn pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut seen_word = false;
    let mut previous_was_space = false;
    for (index, c) in text.char_indices() {
        let space = c.is_whitespace();
        if !space && previous_was_space && seen_word {
            pieces.push(&text[start..index]);
            start = index;
        }
        seen_word |= !space;
        previous_was_space = space;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

pub(crate) fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// `text` cut to its first `max` words, or `None` when it is not longer than that.
pub(crate) fn truncate_words(text: &str, max: usize) -> Option<&str> {
    if word_count(text) <= max {
        return None;
    }
    let kept: usize = pieces(text).iter().take(max).map(|piece| piece.len()).sum();
    Some(text[..kept].trim_end())
}

/// `text` cut before the earliest occurrence of any of `stops`, if one occurs.
pub(crate) fn truncate_at_stop<'a>(text: &'a str, stops: &[String]) -> Option<&'a str> {
    stops
        .iter()
        .filter(|stop| !stop.is_empty())
        .filter_map(|stop| text.find(stop.as_str()))
        .min()
        .map(|end| &text[..end])
}

/// `word1 word2 ... wordN`.
pub(crate) fn filler(words: usize) -> String {
    (1..=words)
        .map(|n| format!("word{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` in consecutive pieces of at most `size` characters.
pub(crate) fn fragments(text: &str, size: usize) -> Vec<&str> {
    let mut fragments = Vec::new();
    let mut start = 0;
    for (count, (index, _)) in text.char_indices().enumerate() {
        if count > 0 && count % size.max(1) == 0 {
            fragments.push(&text[start..index]);
            start = index;
        }
    }
    if start < text.len() {
        fragments.push(&text[start..]);
    }
    fragments
}

/// A unit-norm vector of `dimensions` floats determined by `seed`.
pub(crate) fn embedding(seed: u64, dimensions: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let raw: Vec<f64> = (0..dimensions).map(|_| rng.next_signed_unit()).collect();
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt();
    let norm = if norm > 0.0 { norm } else { 1.0 };
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// A value that validates against `schema`: every object property present, one item
/// per array (or `minItems`), the first `enum` value, `"example"`, `1`, `1.5`, `true`.
/// Understands `$ref` into `$defs`/`definitions`, `anyOf`/`oneOf`/`allOf`, `const`,
/// nullable `type` arrays, common string formats and numeric bounds.
pub(crate) fn value_for_schema(schema: &Value) -> Value {
    Generator { root: schema }.value(schema, 0)
}

struct Generator<'a> {
    root: &'a Value,
}

impl Generator<'_> {
    fn value(&self, schema: &Value, depth: usize) -> Value {
        let Some(schema) = schema.as_object().filter(|_| depth <= MAX_SCHEMA_DEPTH) else {
            return Value::Null;
        };
        if let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| self.resolve(r))
        {
            return self.value(target, depth + 1);
        }
        if let Some(constant) = schema.get("const") {
            return constant.clone();
        }
        if let Some(first) = schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return first.clone();
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alternatives) = schema.get(key).and_then(Value::as_array) {
                let chosen = alternatives
                    .iter()
                    .find(|alt| !is_null_schema(alt))
                    .or(alternatives.first());
                if let Some(chosen) = chosen {
                    return self.value(chosen, depth + 1);
                }
            }
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            return self.all_of(parts, depth);
        }
        match schema_type(schema) {
            "object" => self.object(schema, depth),
            "array" => {
                let item = schema
                    .get("items")
                    .map_or_else(|| json!("example"), |items| self.value(items, depth + 1));
                let count = schema
                    .get("minItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .clamp(1, 16);
                Value::Array(vec![item; count as usize])
            }
            "integer" => json!(bounded(schema, 1.0, true) as i64),
            "number" => json!(bounded(schema, 1.5, false)),
            "boolean" => Value::Bool(true),
            "null" => Value::Null,
            _ => Value::String(string_for(schema)),
        }
    }

    fn object(&self, schema: &Map<String, Value>, depth: usize) -> Value {
        let properties = schema.get("properties").and_then(Value::as_object);
        let object = properties
            .into_iter()
            .flatten()
            .map(|(name, property)| (name.clone(), self.value(property, depth + 1)))
            .collect();
        Value::Object(object)
    }

    /// Merges the parts when they are all objects; otherwise the first part decides.
    fn all_of(&self, parts: &[Value], depth: usize) -> Value {
        let values: Vec<Value> = parts
            .iter()
            .map(|part| self.value(part, depth + 1))
            .collect();
        if values.iter().all(Value::is_object) {
            let merged = values.into_iter().filter_map(|v| match v {
                Value::Object(map) => Some(map),
                _ => None,
            });
            return Value::Object(merged.flatten().collect());
        }
        values.into_iter().next().unwrap_or(Value::Null)
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

fn schema_type(schema: &Map<String, Value>) -> &str {
    match schema.get("type") {
        Some(Value::String(kind)) => kind,
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null")
            .unwrap_or("null"),
        _ if schema.contains_key("properties") => "object",
        _ if schema.contains_key("items") => "array",
        _ => "string",
    }
}

/// `preferred`, moved inside the schema's numeric bounds when it falls outside them.
fn bounded(schema: &Map<String, Value>, preferred: f64, integer: bool) -> f64 {
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let step = if integer { 1.0 } else { 0.5 };
    let low = bound("minimum").or(bound("exclusiveMinimum").map(|b| b + step));
    let high = bound("maximum").or(bound("exclusiveMaximum").map(|b| b - step));
    let value = match (low, high) {
        (Some(low), _) if preferred < low => low,
        (_, Some(high)) if preferred > high => high,
        _ => preferred,
    };
    if integer { value.ceil() } else { value }
}

fn string_for(schema: &Map<String, Value>) -> String {
    let base = match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => "2024-01-01T00:00:00Z",
        Some("date") => "2024-01-01",
        Some("time") => "00:00:00Z",
        Some("email") => "user@example.com",
        Some("uri" | "url") => "https://example.com",
        Some("uuid") => "00000000-0000-4000-8000-000000000000",
        _ => "example",
    };
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |m| m as usize);
    let mut text = excerpt(base, max).to_owned();
    while text.chars().count() < min.min(max) {
        text.push('x');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_boundary_sensitive() {
        assert_eq!(fingerprint(&[b"abc"]), fingerprint(&[b"abc"]));
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(alphanumeric(7, 24), alphanumeric(7, 24));
        assert_eq!(alphanumeric(7, 24).len(), 24);
        assert!(
            alphanumeric(8, 24)
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
    }

    #[test]
    fn pieces_reassemble_exactly() {
        for text in ["", "one", "  lead two\n\nthree  ", "a b c"] {
            assert_eq!(pieces(text).concat(), text);
        }
        assert_eq!(
            pieces("  lead two\n\nthree  "),
            ["  lead ", "two\n\n", "three  "]
        );
        assert_eq!(pieces("a b c").len(), word_count("a b c"));
    }

    #[test]
    fn truncation_by_words_and_stop() {
        assert_eq!(truncate_words("one two  three four", 2), Some("one two"));
        assert_eq!(truncate_words("one two", 2), None);
        assert_eq!(truncate_words("one two", 0), Some(""));
        let stops = ["three".to_owned(), "two".to_owned(), String::new()];
        assert_eq!(truncate_at_stop("one two three", &stops), Some("one "));
        assert_eq!(truncate_at_stop("one", &stops), None);
        assert_eq!(filler(3), "word1 word2 word3");
        assert_eq!(excerpt("héllo", 2), "hé");
    }

    #[test]
    fn fragments_cover_the_text() {
        let text = r#"{"city":"Zürich","days":3}"#;
        let parts = fragments(text, 8);
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.chars().count() <= 8));
        assert!(fragments("", 8).is_empty());
    }

    #[test]
    fn schema_values_follow_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer", "minimum": 18},
                "score": {"type": "number", "maximum": 1},
                "ok": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
                "when": {"type": ["string", "null"], "format": "date"},
                "nick": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 3}]},
                "pet": {"$ref": "#/$defs/Pet"},
                "kind": {"const": "fixed"}
            },
            "$defs": {"Pet": {"type": "object", "properties": {"legs": {"type": "integer"}}}}
        });
        assert_eq!(
            value_for_schema(&schema),
            json!({
                "name": "example", "age": 18, "score": 1.0, "ok": true, "tags": ["x"],
                "when": "2024-01-01", "nick": "exa", "pet": {"legs": 1}, "kind": "fixed"
            })
        );
        assert_eq!(value_for_schema(&json!({"type": "number"})), json!(1.5));
    }

    #[test]
    fn recursive_schemas_terminate() {
        let schema = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}
        });
        let value = value_for_schema(&schema);
        assert!(value.get("next").unwrap().is_object());
    }

    #[test]
    fn embeddings_are_unit_vectors() {
        let vector = embedding(42, 256);
        assert_eq!(vector.len(), 256);
        let norm: f64 = vector
            .iter()
            .map(|x| f64::from(*x).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert_eq!(vector, embedding(42, 256));
        assert_ne!(vector, embedding(43, 256));
    }
}
