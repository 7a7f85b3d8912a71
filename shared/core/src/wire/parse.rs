//! Turning a request body into a typed request, with errors that name the offending field.

use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Parses a JSON body; a failure is a 400 whose `param` is the path of the bad field
/// (`messages[0].content`), as a client needs to fix it. Tracking the path costs time on every
/// field, so it is done only for a body that already failed.
pub fn parse_json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).or_else(|_| parse_reporting_path(body))
}

fn parse_reporting_path<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid_request(format!(
                "We could not parse the JSON body of your request: {inner}."
            ))
            .with_code("invalid_json");
        }
        let mut param = if path == "." { None } else { Some(path) };
        if let Some(field) = missing_field(&inner) {
            param = Some(match param {
                Some(parent) => format!("{parent}.{field}"),
                None => field,
            });
        }
        let detail = strip_position(&inner);
        let message = match (&param, wrong_type(&detail)) {
            (Some(p), Some(wrong)) => format!("Invalid type for '{p}': {wrong}."),
            (None, Some(wrong)) => format!("Invalid request body: {wrong}."),
            (Some(p), None) => format!("Invalid value for '{p}': {detail}."),
            (None, None) => format!("Invalid request body: {detail}."),
        };
        let mut error = ApiError::invalid_request(message).with_code("invalid_type");
        error.param = param;
        error
    })?;
    de.end().map_err(|e| {
        ApiError::invalid_request(format!(
            "We could not parse the JSON body of your request: {e}."
        ))
        .with_code("invalid_json")
    })?;
    Ok(value)
}

/// The field a "missing field `x`" error names.
fn missing_field(err: &serde_json::Error) -> Option<String> {
    let text = err.to_string();
    let rest = text.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// serde's "invalid type: string \"hot\", expected f64" in a JSON client's terms, as OpenAI
/// words it: "expected a number, but got a string (\"hot\") instead". Other errors are `None`,
/// and kept as serde words them.
fn wrong_type(detail: &str) -> Option<String> {
    let (got, expected) = detail
        .strip_prefix("invalid type: ")?
        .split_once(", expected ")?;
    let expected = match expected {
        "f32" | "f64" => "a number",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative whole number",
        "a sequence" => "an array",
        "a map" => "an object",
        "unit" => "null",
        other if other.starts_with("struct ") => "an object",
        other => other,
    };
    let got = match got.split_once(' ') {
        Some(("string", value)) => format!("a string ({value})"),
        Some(("integer" | "floating", _)) => format!("a number ({})", backticked(got)),
        Some(("boolean", _)) => format!("a boolean ({})", backticked(got)),
        _ => match got {
            "sequence" => "an array".to_owned(),
            "map" => "an object".to_owned(),
            "null" | "unit value" => "null".to_owned(),
            other => other.to_owned(),
        },
    };
    Some(format!("expected {expected}, but got {got} instead"))
}

/// The value serde quotes in backticks (`` integer `5` `` gives `5`), or the whole text.
fn backticked(text: &str) -> &str {
    text.split('`').nth(1).unwrap_or(text)
}

/// serde_json appends " at line 1 column 42", which means nothing to a client holding a dict.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(idx) => text[..idx].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ChatRequest;

    #[test]
    fn a_wrong_type_names_the_field_path() {
        let err = parse_json_body::<ChatRequest>(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#,
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("temperature"));
        assert_eq!(
            err.message,
            r#"Invalid type for 'temperature': expected a number, but got a string ("hot") instead."#
        );
    }

    #[test]
    fn wrong_types_are_named_in_json_terms() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"[]",
                "Invalid request body: expected an object, but got an array instead.",
            ),
            (
                br#"{"model":"m","messages":{"role":"user"}}"#,
                "Invalid type for 'messages': expected an array, but got an object instead.",
            ),
            (
                br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":[1]}"#,
                "Invalid type for 'top_p': expected a number, but got an array instead.",
            ),
            (
                br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#,
                r#"Invalid type for 'stream': expected a boolean, but got a string ("yes") instead."#,
            ),
            (
                br#"{"model":7,"messages":[]}"#,
                "Invalid type for 'model': expected a string, but got a number (7) instead.",
            ),
        ];
        for (body, message) in cases {
            let err = parse_json_body::<ChatRequest>(body).unwrap_err();
            assert_eq!(err.message, message);
            assert_eq!(err.code.as_deref(), Some("invalid_type"));
        }
    }

    #[test]
    fn malformed_json_is_reported_as_such() {
        let err = parse_json_body::<ChatRequest>(br#"{"model": "#).unwrap_err();
        assert_eq!(err.code.as_deref(), Some("invalid_json"));
    }

    #[test]
    fn a_seed_above_int64_is_rejected() {
        let err = parse_json_body::<ChatRequest>(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":9223372036854775808}"#,
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("seed"));
    }

    #[test]
    fn unknown_roles_name_the_message() {
        let err = parse_json_body::<ChatRequest>(
            br#"{"model":"m","messages":[{"role":"wizard","content":"hi"}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[0].role"));
    }
}
