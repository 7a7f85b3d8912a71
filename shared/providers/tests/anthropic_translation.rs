//! The Anthropic translation, table-driven: each case in `cases/anthropic/*.json` is one of
//! Anthropic's documented examples (its `source`), with the translation it must have.
//!
//! - `requests.json`: an OpenAI request and the Messages request it becomes, or the parameter
//!   a 400 names;
//! - `responses.json`: a Message and the `chat.completion` it becomes (`created` aside);
//! - `streams.json`: stream events and the chunks they become (each chunk reduced to its delta,
//!   finish reason or usage; the envelope is checked for every chunk), or the error that ends
//!   the stream.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

use eventsource_stream::Event;
use futures::StreamExt;
use gateway_core::wire::ChatRequest;
use gateway_providers::anthropic::{
    DEFAULT_MAX_TOKENS, message_to_chat_completion, stream::chunk_stream, to_messages_request,
};
use serde_json::{Value, json};

fn cases(file: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/cases/anthropic/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("case file");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("case file is JSON");
    assert!(!cases.is_empty(), "{path} has no cases");
    cases
}

fn name(case: &Value) -> &str {
    case["name"].as_str().expect("every case has a name")
}

#[test]
fn openai_requests_become_the_documented_messages_requests() {
    for case in cases("requests.json") {
        let request: ChatRequest =
            serde_json::from_value(case["openai"].clone()).expect("a valid OpenAI request");
        let default = case["default_max_tokens"]
            .as_u64()
            .unwrap_or(DEFAULT_MAX_TOKENS);
        let translated = to_messages_request(&request, default, false);
        match case.get("error_param") {
            Some(param) => {
                let error = translated.expect_err(name(&case));
                assert_eq!(
                    error.param.as_deref(),
                    param.as_str(),
                    "{}: {}",
                    name(&case),
                    error.message
                );
            }
            None => {
                let translated = translated
                    .unwrap_or_else(|e| panic!("{}: refused ({})", name(&case), e.message));
                assert_eq!(
                    serde_json::to_value(&translated).unwrap(),
                    case["anthropic"],
                    "{}",
                    name(&case)
                );
            }
        }
    }
}

#[test]
fn streaming_requests_say_so() {
    let request: ChatRequest = serde_json::from_value(
        json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Hi"}]}),
    )
    .unwrap();
    let translated =
        serde_json::to_value(to_messages_request(&request, 10, true).unwrap()).unwrap();
    assert_eq!(translated["stream"], true);
    assert_eq!(translated["max_tokens"], 10);
}

#[test]
fn messages_become_the_documented_completions() {
    for case in cases("responses.json") {
        let body = serde_json::to_vec(&case["anthropic"]).unwrap();
        let completion = message_to_chat_completion(&body)
            .unwrap_or_else(|e| panic!("{}: {}", name(&case), e.message));
        let mut got = serde_json::to_value(&completion).unwrap();
        assert!(got["created"].as_i64().unwrap() > 0, "{}", name(&case));
        got.as_object_mut().unwrap().remove("created");
        assert_eq!(got, case["openai"], "{}", name(&case));
    }
}

/// A chunk reduced to what the case states: its delta, finish reason or usage.
fn essence(chunk: &Value, id: &str, model: &str, case: &str) -> Value {
    assert_eq!(chunk["id"], id, "{case}: {chunk}");
    assert_eq!(chunk["model"], model, "{case}: {chunk}");
    assert_eq!(chunk["object"], "chat.completion.chunk", "{case}");
    assert!(chunk["created"].as_i64().unwrap() > 0, "{case}");
    let choices = chunk["choices"].as_array().unwrap();
    if let Some(usage) = chunk.get("usage") {
        assert!(choices.is_empty(), "{case}: a usage chunk has no choices");
        return json!({"usage": usage});
    }
    assert_eq!(choices.len(), 1, "{case}: {chunk}");
    let choice = &choices[0];
    assert_eq!(choice["index"], 0, "{case}");
    assert!(choice["logprobs"].is_null(), "{case}");
    match choice["finish_reason"].as_str() {
        Some(reason) => {
            assert_eq!(choice["delta"], json!({}), "{case}");
            json!({"finish_reason": reason})
        }
        None => json!({"delta": choice["delta"]}),
    }
}

#[test]
fn stream_events_become_the_documented_chunks() {
    for case in cases("streams.json") {
        let case_name = name(&case);
        let events: Vec<_> = case["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                Ok(Event {
                    event: e[0].as_str().unwrap().to_owned(),
                    data: e[1].to_string(),
                    id: String::new(),
                    retry: None,
                })
            })
            .collect();
        let items: Vec<_> = futures::executor::block_on(
            chunk_stream("anthropic".to_owned(), futures::stream::iter(events)).collect(),
        );
        let mut chunks = Vec::new();
        let mut error = None;
        for item in items {
            assert!(error.is_none(), "{case_name}: nothing follows an error");
            match item {
                Ok(bytes) => chunks.push(serde_json::from_slice::<Value>(&bytes).unwrap()),
                Err(e) => error = Some(e),
            }
        }
        let id = case["id"].as_str().unwrap();
        let model = case["model"].as_str().unwrap();
        let got: Vec<Value> = chunks
            .iter()
            .map(|c| essence(c, id, model, case_name))
            .collect();
        assert_eq!(Value::Array(got), case["chunks"], "{case_name}");
        let want_error = case.get("error_kind").and_then(Value::as_str);
        let got_error = error.as_ref().map(|e| format!("{:?}", e.kind));
        assert_eq!(got_error.as_deref(), want_error, "{case_name}: {error:?}");
    }
}
