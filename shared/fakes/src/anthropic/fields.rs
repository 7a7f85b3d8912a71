//! Checks of single JSON fields, answered as Anthropic answers them (`path: problem`).

use serde_json::{Map, Value};

use super::error::ApiError;

pub(super) type Object = Map<String, Value>;

pub(super) fn required_string<'a>(
    obj: &'a Object,
    at: &str,
    key: &str,
) -> Result<&'a str, ApiError> {
    let path = join(at, key);
    match obj.get(key) {
        None => Err(ApiError::missing(&path)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::at(&path, "Input should be a valid string")),
    }
}

pub(super) fn optional_bool(obj: &Object, at: &str, key: &str) -> Result<Option<bool>, ApiError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::at(
            &join(at, key),
            "Input should be a valid boolean",
        )),
    }
}

pub(super) fn number_in(obj: &Object, key: &str, min: f64, max: f64) -> Result<(), ApiError> {
    let Some(value) = obj.get(key) else {
        return Ok(());
    };
    let n = value
        .as_f64()
        .ok_or_else(|| ApiError::at(key, "Input should be a valid number"))?;
    if n < min {
        return Err(ApiError::at(
            key,
            &format!("Input should be greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(ApiError::at(
            key,
            &format!("Input should be less than or equal to {max}"),
        ));
    }
    Ok(())
}

pub(super) fn string_array(obj: &Object, key: &str) -> Result<Vec<String>, ApiError> {
    match obj.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::at(&format!("{key}.{i}"), "Input should be a valid string")
                })
            })
            .collect(),
        Some(_) => Err(ApiError::at(key, "Input should be a valid list")),
    }
}

pub(super) fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

pub(super) fn closed<'a>(
    value: &'a Value,
    at: &str,
    keys: &[&str],
) -> Result<&'a Object, ApiError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::at(at, "Input should be a valid dictionary or object"))?;
    if let Some(key) = obj.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(ApiError::extra(&join(at, key)));
    }
    Ok(obj)
}
