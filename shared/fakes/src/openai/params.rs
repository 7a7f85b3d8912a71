//! Typed reads of request fields that fail the way OpenAI's validator does, and the
//! [`Check`]s and [`Field`]s the dialect tables describe their fields with.
//!
//! `obj` is the JSON object holding the field and `at` the parameter path of that object
//! (`""` at the top level, `messages[2]` inside a message), used to name the parameter
//! in errors. As in OpenAI's API, an explicit `null` counts as absent.

use serde_json::{Map, Value};

use super::error::{ApiError, Bound};

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
    match obj.iter().find(|(key, _)| !known.contains(&key.as_str())) {
        Some((key, value)) => Err(ApiError::unknown_parameter(&param(at, key), value)),
        None => Ok(()),
    }
}

/// The request's `model`: a string, required.
pub(super) fn model(obj: &Object) -> Result<String, ApiError> {
    match obj.get("model") {
        None | Some(Value::Null) => Err(ApiError::missing_model()),
        Some(Value::String(model)) => Ok(model.clone()),
        Some(other) => Err(ApiError::invalid_type("model", "a string", other)),
    }
}

/// How a field's value is checked. The fake validates such fields like the provider and
/// otherwise ignores them (they steer sampling or bookkeeping a fake has none of).
#[derive(Clone, Copy)]
pub(super) enum Check {
    /// A number within `min..=max`.
    Decimal(f64, f64),
    /// A number above `min` (exclusive) and at most `max`.
    DecimalAbove(f64, f64),
    /// An integer within `min..=max`.
    Integer(i64, i64),
    Boolean,
    Text,
    OneOf(&'static [&'static str]),
    Object,
    Array,
    /// An object with exactly these fields.
    Fields(&'static [Field]),
    /// Anything else, given the object holding the field, its path and the field's key.
    Custom(fn(&Object, &str, &str) -> Result<(), ApiError>),
}

impl Check {
    pub(super) fn apply(self, obj: &Object, at: &str, key: &str) -> Result<(), ApiError> {
        match self {
            Self::Decimal(min, max) => decimal(obj, at, key, min, max).map(drop),
            Self::DecimalAbove(min, max) => {
                decimal_within(obj, at, key, Bound::Above(min), max).map(drop)
            }
            Self::Integer(min, max) => integer(obj, at, key, min, max).map(drop),
            Self::Boolean => boolean(obj, at, key).map(drop),
            Self::Text => string(obj, at, key).map(drop),
            Self::OneOf(allowed) => one_of(obj, at, key, allowed).map(drop),
            Self::Object => object(obj, at, key).map(drop),
            Self::Array => array(obj, at, key).map(drop),
            Self::Fields(fields) => match object(obj, at, key)? {
                Some(inner) => check_fields(inner, &param(at, key), fields, &[]),
                None => Ok(()),
            },
            Self::Custom(check) => check(obj, at, key),
        }
    }
}

/// A field of a JSON object: its key, how its value is checked, whether it must be there.
#[derive(Clone, Copy)]
pub(super) struct Field {
    pub key: &'static str,
    pub check: Check,
    pub required: bool,
}

impl Field {
    pub(super) const fn optional(key: &'static str, check: Check) -> Self {
        Self {
            key,
            check,
            required: false,
        }
    }

    pub(super) const fn required(key: &'static str, check: Check) -> Self {
        Self {
            key,
            check,
            required: true,
        }
    }

    pub(super) fn apply(&self, obj: &Object, at: &str) -> Result<(), ApiError> {
        self.check.apply(obj, at, self.key)?;
        if self.required && get(obj, self.key).is_none() {
            return Err(ApiError::missing(&param(at, self.key)));
        }
        Ok(())
    }
}

/// Checks `obj` against `fields`, rejecting keys that are neither fields nor in `also`.
pub(super) fn check_fields(
    obj: &Object,
    at: &str,
    fields: &[Field],
    also: &[&str],
) -> Result<(), ApiError> {
    if let Some((key, value)) = obj.iter().find(|(key, _)| {
        !also.contains(&key.as_str()) && !fields.iter().any(|field| field.key == key.as_str())
    }) {
        return Err(ApiError::unknown_parameter(&param(at, key), value));
    }
    fields.iter().try_for_each(|field| field.apply(obj, at))
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
    decimal_within(obj, at, key, Bound::Min(min), max)
}

/// A number (integers included) at most `max` and above or at `low`.
fn decimal_within(
    obj: &Object,
    at: &str,
    key: &str,
    low: Bound,
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
            Bound::Max(max),
            value,
        ));
    }
    let too_low = match low {
        Bound::Above(min) => number <= min,
        Bound::Min(min) | Bound::Max(min) => number < min,
    };
    if too_low {
        return Err(ApiError::out_of_range(&name, "decimal", low, value));
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
            Bound::Max(max as f64),
            value,
        ));
    }
    if number < min {
        return Err(ApiError::out_of_range(
            &name,
            "integer",
            Bound::Min(min as f64),
            value,
        ));
    }
    Ok(Some(number))
}
