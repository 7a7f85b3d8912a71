//! Typed reads of request fields that fail the way OpenAI's validator does.
//!
//! `obj` is the JSON object holding the field and `at` the parameter path of that object
//! (`""` at the top level, `messages[2]` inside a message), used to name the parameter
//! in errors. As in OpenAI's API, an explicit `null` counts as absent.

use serde_json::{Map, Value};

use super::error::ApiError;

pub(super) type Object = Map<String, Value>;

/// The path of `key` inside the object at `at`.
pub(super) fn param(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

pub(super) fn get<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|value| !value.is_null())
}

/// Rejects keys outside `known`, naming the first in OpenAI's "Unknown parameter" style.
pub(super) fn reject_unknown(obj: &Object, at: &str, known: &[&str]) -> Result<(), ApiError> {
    match obj.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(ApiError::unknown_parameter(&param(at, key))),
        None => Ok(()),
    }
}

pub(super) fn object<'a>(
    obj: &'a Object,
    at: &str,
    key: &str,
) -> Result<Option<&'a Object>, ApiError> {
    get(obj, key)
        .map(|value| {
            value
                .as_object()
                .ok_or_else(|| ApiError::invalid_type(&param(at, key), "an object", value))
        })
        .transpose()
}

pub(super) fn array<'a>(
    obj: &'a Object,
    at: &str,
    key: &str,
) -> Result<Option<&'a Vec<Value>>, ApiError> {
    get(obj, key)
        .map(|value| {
            value
                .as_array()
                .ok_or_else(|| ApiError::invalid_type(&param(at, key), "an array", value))
        })
        .transpose()
}

pub(super) fn string<'a>(
    obj: &'a Object,
    at: &str,
    key: &str,
) -> Result<Option<&'a str>, ApiError> {
    get(obj, key)
        .map(|value| {
            value
                .as_str()
                .ok_or_else(|| ApiError::invalid_type(&param(at, key), "a string", value))
        })
        .transpose()
}

pub(super) fn required_string<'a>(
    obj: &'a Object,
    at: &str,
    key: &str,
) -> Result<&'a str, ApiError> {
    string(obj, at, key)?.ok_or_else(|| ApiError::missing(&param(at, key)))
}

pub(super) fn boolean(obj: &Object, at: &str, key: &str) -> Result<Option<bool>, ApiError> {
    get(obj, key)
        .map(|value| {
            value
                .as_bool()
                .ok_or_else(|| ApiError::invalid_type(&param(at, key), "a boolean", value))
        })
        .transpose()
}

/// One of `allowed`, or absent.
pub(super) fn one_of<'a>(
    obj: &'a Object,
    at: &str,
    key: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    let value = string(obj, at, key)?;
    match value {
        Some(value) if !allowed.contains(&value) => {
            Err(ApiError::invalid_value(&param(at, key), value, allowed))
        }
        _ => Ok(value),
    }
}

/// A number (integers included) within `min..=max`.
pub(super) fn decimal(
    obj: &Object,
    at: &str,
    key: &str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, ApiError> {
    let Some(value) = get(obj, key) else {
        return Ok(None);
    };
    let name = param(at, key);
    let number = value
        .as_f64()
        .ok_or_else(|| ApiError::invalid_type(&name, "a decimal", value))?;
    if number > max {
        return Err(ApiError::out_of_range(
            &name,
            "decimal",
            true,
            &max.to_string(),
            value,
        ));
    }
    if number < min {
        return Err(ApiError::out_of_range(
            &name,
            "decimal",
            false,
            &min.to_string(),
            value,
        ));
    }
    Ok(Some(number))
}

/// An integer within `min..=max`.
pub(super) fn integer(
    obj: &Object,
    at: &str,
    key: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    let Some(value) = get(obj, key) else {
        return Ok(None);
    };
    let name = param(at, key);
    let number = match value.as_i64() {
        Some(number) => number,
        None if value.is_u64() => i64::MAX,
        None => return Err(ApiError::invalid_type(&name, "an integer", value)),
    };
    if number > max {
        return Err(ApiError::out_of_range(
            &name,
            "integer",
            true,
            &max.to_string(),
            value,
        ));
    }
    if number < min {
        return Err(ApiError::out_of_range(
            &name,
            "integer",
            false,
            &min.to_string(),
            value,
        ));
    }
    Ok(Some(number))
}
