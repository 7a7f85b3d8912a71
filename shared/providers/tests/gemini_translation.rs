//! The Gemini translations, driven by cases taken from Google's documented examples
//! (`cases/gemini/*.json`, each case naming its source):
//!
//! - `requests.json`: an OpenAI chat request and the exact `GenerateContentRequest` body;
//! - `responses.json`: a `GenerateContentResponse` and the OpenAI completion it becomes;
//! - `streams.json`: the events of a stream and the OpenAI chunks they become, in order;
//! - `errors.json`: an error answer and the kind, retryability and status the client sees.
//!
//! Expected OpenAI JSON is matched as a subset (ids and timestamps vary): every key given must
//! match, arrays must have the same length, and in a string `*` stands for any text.

#![expect(clippy::expect_used, reason = "a panic in a test is that test failing")]

use std::time::Duration;

use gateway_core::wire::{ChatRequest, parse_json_body};
use gateway_providers::gemini::errors::error_from_google;
use gateway_providers::gemini::request::generate_content_request;
use gateway_providers::gemini::response::chat_completion;
use gateway_providers::gemini::stream::StreamTranslator;
use gateway_providers::gemini::wire::GenerateContentResponse;
use serde_json::Value;

fn cases(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/cases/gemini/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("case file");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("case file is a JSON array");
    assert!(!cases.is_empty(), "{path} has no cases");
    for case in &cases {
        assert!(
            case["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("https://")),
            "{case}"
        );
    }
    cases
}

/// Where `actual` differs from the subset `expected`, as a path; `None` when it matches.
fn mismatch(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, v)| match a.get(k) {
            Some(actual) => mismatch(v, actual, &format!("{path}.{k}")),
            None if v.is_null() => None,
            None => Some(format!("{path}.{k} is missing")),
        }),
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (e, a))| mismatch(e, a, &format!("{path}[{i}]"))),
        (Value::String(e), Value::String(a)) if e.contains('*') => {
            let (prefix, suffix) = e.split_once('*').unwrap_or((e, ""));
            let matches = a.len() >= prefix.len() + suffix.len()
                && a.starts_with(prefix)
                && a.ends_with(suffix);
            (!matches).then(|| format!("{path}: {a:?} does not match {e:?}"))
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => None,
        _ if expected == actual => None,
        _ => Some(format!("{path}: expected {expected}, got {actual}")),
    }
}

#[test]
fn openai_requests_become_gemini_requests() {
    for case in cases("requests.json") {
        let name = case["name"].as_str().unwrap();
        let request: ChatRequest = parse_json_body(case["openai"].to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let body =
            generate_content_request(&request, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        let body = serde_json::to_value(body).unwrap();
        assert_eq!(body, case["gemini"], "{name}");
        match generate_content_request(&request, true) {
            Ok(streamed) => assert_eq!(
                serde_json::to_value(streamed).unwrap(),
                body,
                "{name}: streaming changes nothing"
            ),
            // Only what the gateway cannot stream differs: several choices, log probabilities.
            Err(e) => assert!(
                matches!(e.param.as_deref(), Some("n" | "logprobs")),
                "{name}: {e}"
            ),
        }
    }
}

#[test]
fn gemini_answers_become_openai_completions() {
    for case in cases("responses.json") {
        let name = case["name"].as_str().unwrap();
        let response: GenerateContentResponse =
            serde_json::from_value(case["gemini"].clone()).unwrap();
        let completion =
            serde_json::to_value(chat_completion(response, "gemini-2.5-flash")).unwrap();
        if let Some(difference) = mismatch(&case["openai"], &completion, "") {
            panic!("{name}: {difference}\n{completion:#}");
        }
    }
}

#[test]
fn gemini_streams_become_openai_chunks() {
    for case in cases("streams.json") {
        let name = case["name"].as_str().unwrap();
        let mut translator = StreamTranslator::new("gemini-2.5-flash", None);
        let mut chunks = Vec::new();
        for event in case["events"].as_array().unwrap() {
            chunks.extend(
                translator
                    .event(&event.to_string())
                    .unwrap_or_else(|e| panic!("{name}: {e}")),
            );
        }
        chunks.extend(translator.end().unwrap_or_else(|e| panic!("{name}: {e}")));
        let chunks: Vec<Value> = chunks
            .iter()
            .map(|c| serde_json::from_slice(c).unwrap())
            .collect();
        let actual = Value::Array(chunks);
        if let Some(difference) = mismatch(&case["chunks"], &actual, "") {
            panic!("{name}: {difference}\n{actual:#}");
        }
    }
}

#[test]
fn streamed_and_whole_answers_give_a_tool_call_the_same_id() {
    let call = r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}}],"role":"model"},"finishReason":"STOP","index":0}]}"#;
    let whole = chat_completion(serde_json::from_str(call).unwrap(), "m");
    let id = &whole.choices[0].message.tool_calls.as_ref().unwrap()[0].id;
    let mut translator = StreamTranslator::new("m", None);
    let chunks = translator.event(call).unwrap();
    let start: Value = serde_json::from_slice(&chunks[1]).unwrap();
    assert_eq!(
        start["choices"][0]["delta"]["tool_calls"][0]["id"],
        id.as_str()
    );
}

#[test]
fn gemini_errors_become_gateway_errors() {
    for case in cases("errors.json") {
        let name = case["name"].as_str().unwrap();
        let status = case["status"].as_u64().unwrap() as u16;
        let error = error_from_google(
            Some(status),
            None,
            case["body"].to_string().as_bytes(),
            None,
        );
        assert_eq!(
            format!("{:?}", error.kind),
            case["kind"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            error.is_retryable(),
            case["retryable"].as_bool().unwrap(),
            "{name}"
        );
        if let Some(secs) = case["retry_after_secs"].as_u64() {
            assert_eq!(error.retry_after, Some(Duration::from_secs(secs)), "{name}");
        }
        let api = error.to_api_error("gemini");
        assert_eq!(
            u64::from(api.status().as_u16()),
            case["gateway_status"].as_u64().unwrap(),
            "{name}"
        );
    }
}
