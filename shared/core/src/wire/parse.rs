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
        let message = match &param {
            Some(p) => format!("Invalid value for '{p}': {}.", strip_position(&inner)),
            None => format!("Invalid request body: {}.", strip_position(&inner)),
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
        assert!(err.message.contains("expected f64"), "{}", err.message);
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
