//! `x-routing-hints` and `x-fallback-chain`: what a client asks of one request's routing.
//!
//! Both come as body fields (the product's documented form) or, for clients that cannot add
//! body fields, as JSON request headers of the same names; the body wins when both are given.
//! Unknown hint names and wrong types are refused with a 400 naming the field, so a typo never
//! silently routes differently from what the client meant.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;

pub const HINTS_FIELD: &str = "x-routing-hints";
pub const FALLBACK_FIELD: &str = "x-fallback-chain";

/// What `auto` optimises for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    Cost,
    Latency,
    Quality,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingHints {
    pub priority: Option<Priority>,
    pub max_latency_ms: Option<u64>,
    pub prefer_providers: Vec<String>,
    pub exclude_providers: Vec<String>,
    pub min_quality_score: Option<f64>,
}

impl RoutingHints {
    /// The hints of a request: the body field if present, else the header.
    pub fn from_request(body: Option<&Value>, header: Option<&str>) -> Result<Self, ApiError> {
        match (body, header) {
            (Some(Value::Null) | None, None) => Ok(RoutingHints::default()),
            (Some(value), _) if !value.is_null() => Self::from_value(value, HINTS_FIELD),
            (_, Some(text)) => {
                let value: Value = serde_json::from_str(text).map_err(|_| {
                    ApiError::invalid_param(
                        HINTS_FIELD,
                        "The `x-routing-hints` header must be a JSON object.",
                    )
                })?;
                Self::from_value(&value, HINTS_FIELD)
            }
            _ => Ok(RoutingHints::default()),
        }
    }

    fn from_value(value: &Value, field: &str) -> Result<Self, ApiError> {
        let Value::Object(object) = value else {
            return Err(ApiError::invalid_param(
                field,
                format!("`{field}` must be an object."),
            ));
        };
        let mut hints = RoutingHints::default();
        for (key, value) in object {
            let param = format!("{field}.{key}");
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "priority" => {
                    hints.priority = Some(Priority::deserialize(value).map_err(|_| {
                        ApiError::invalid_param(
                            &param,
                            format!("`{param}` must be \"cost\", \"latency\" or \"quality\"."),
                        )
                    })?);
                }
                "max_latency_ms" => {
                    let ms = value
                        .as_f64()
                        .filter(|ms| ms.is_finite() && *ms >= 1.0 && ms.fract() == 0.0)
                        .ok_or_else(|| {
                            ApiError::invalid_param(
                                &param,
                                format!(
                                    "`{param}` must be a whole number of milliseconds, at least 1."
                                ),
                            )
                        })?;
                    hints.max_latency_ms = Some(ms as u64);
                }
                "min_quality_score" => {
                    let score = value
                        .as_f64()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .ok_or_else(|| {
                            ApiError::invalid_param(
                                &param,
                                format!("`{param}` must be a number from 0 to 1."),
                            )
                        })?;
                    hints.min_quality_score = Some(score);
                }
                "prefer_providers" => hints.prefer_providers = providers(value, &param)?,
                "exclude_providers" => hints.exclude_providers = providers(value, &param)?,
                _ => {
                    return Err(ApiError::invalid_param(
                        &param,
                        format!(
                            "Unknown routing hint `{key}`: use priority, max_latency_ms, \
                             prefer_providers, exclude_providers or min_quality_score."
                        ),
                    ));
                }
            }
        }
        Ok(hints)
    }
}

fn providers(value: &Value, param: &str) -> Result<Vec<String>, ApiError> {
    let error = || {
        ApiError::invalid_param(
            param,
            format!("`{param}` must be an array of provider names."),
        )
    };
    let items = value.as_array().ok_or_else(error)?;
    items
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(error))
        .collect()
}

/// The fallback chain of a request: the body field if present, else the header.
pub fn fallback_chain_from_request(
    body: Option<Vec<String>>,
    header: Option<&str>,
) -> Result<Option<Vec<String>>, ApiError> {
    if body.is_some() {
        return Ok(body);
    }
    let Some(text) = header else {
        return Ok(None);
    };
    serde_json::from_str::<Vec<String>>(text)
        .map(Some)
        .map_err(|_| {
            ApiError::invalid_param(
                FALLBACK_FIELD,
                "The `x-fallback-chain` header must be a JSON array of model names.",
            )
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_documented_hint_is_read() {
        let hints = RoutingHints::from_request(
            Some(&json!({"priority": "latency", "max_latency_ms": 2000,
                         "prefer_providers": ["anthropic", "openai"],
                         "exclude_providers": ["cohere"], "min_quality_score": 0.8})),
            None,
        )
        .unwrap();
        assert_eq!(
            hints,
            RoutingHints {
                priority: Some(Priority::Latency),
                max_latency_ms: Some(2000),
                prefer_providers: vec!["anthropic".into(), "openai".into()],
                exclude_providers: vec!["cohere".into()],
                min_quality_score: Some(0.8),
            }
        );
    }

    #[test]
    fn a_malformed_hint_is_a_400_naming_the_field() {
        for (hints, param) in [
            (json!({"priority": "speed"}), "x-routing-hints.priority"),
            (
                json!({"max_latency_ms": -5}),
                "x-routing-hints.max_latency_ms",
            ),
            (
                json!({"min_quality_score": 2}),
                "x-routing-hints.min_quality_score",
            ),
            (
                json!({"prefer_providers": "openai"}),
                "x-routing-hints.prefer_providers",
            ),
            (
                json!({"exclude_providers": [1]}),
                "x-routing-hints.exclude_providers",
            ),
            (json!({"priorty": "cost"}), "x-routing-hints.priorty"),
            (json!(["cost"]), "x-routing-hints"),
        ] {
            let err = RoutingHints::from_request(Some(&hints), None).unwrap_err();
            assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
            assert_eq!(err.param.as_deref(), Some(param), "{hints}");
        }
    }

    #[test]
    fn the_header_form_is_read_and_the_body_wins() {
        let header = r#"{"priority": "quality"}"#;
        let from_header = RoutingHints::from_request(None, Some(header)).unwrap();
        assert_eq!(from_header.priority, Some(Priority::Quality));
        let both = RoutingHints::from_request(Some(&json!({"priority": "cost"})), Some(header));
        assert_eq!(both.unwrap().priority, Some(Priority::Cost));
        let err = RoutingHints::from_request(None, Some("priority=cost")).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("x-routing-hints"));

        let chain = fallback_chain_from_request(None, Some(r#"["openai/gpt-4o"]"#)).unwrap();
        assert_eq!(chain, Some(vec!["openai/gpt-4o".to_owned()]));
        let err = fallback_chain_from_request(None, Some("openai/gpt-4o")).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("x-fallback-chain"));
    }
}
