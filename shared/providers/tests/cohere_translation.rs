//! The Cohere translation, table-driven: every case in `tests/cases/cohere/` comes from Cohere's
//! documented examples (the `x-fern-examples` of `/v2/chat` and `/v2/embed` in its published
//! spec, named in each case's `source`) and says what the adapter must make of it, both ways:
//!
//! - `request`: an OpenAI request and the exact Cohere body sent for it;
//! - `refused`: an OpenAI request refused before any call, with the parameter named;
//! - `response` / `stream`: a Cohere answer (or its stream events) and the OpenAI content,
//!   tool calls (ids and arguments), finish reason and usage the client gets;
//! - `embed_request` / `embed_response`: both directions of `/v2/embed`;
//! - `error`: a Cohere error answer and the kind of failure it is.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

use std::fs;
use std::path::{Path, PathBuf};

use gateway_core::upstream::ProviderErrorKind;
use gateway_core::wire::{ChatRequest, EmbeddingVector, EmbeddingsRequest};
use gateway_providers::cohere;
use serde_json::{Value, json};

fn cases() -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/cohere");
    let mut cases: Vec<(PathBuf, Value)> = fs::read_dir(&dir)
        .expect("the cases folder")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let case = serde_json::from_str(&fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, case)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(cases.len() >= 20, "the Cohere cases are missing");
    cases
}

fn run(kind: &str, check: impl Fn(&str, &Value)) -> usize {
    let mut ran = 0;
    for (path, case) in cases() {
        assert!(
            case["source"].is_string(),
            "{}: a case names its source",
            path.display()
        );
        if case["kind"] == kind {
            check(&path.file_name().unwrap().to_string_lossy(), &case);
            ran += 1;
        }
    }
    assert!(ran > 0, "no `{kind}` case");
    ran
}

fn chat_request(case: &Value) -> ChatRequest {
    serde_json::from_value(case["openai"].clone()).expect("an OpenAI request")
}

#[test]
fn openai_requests_become_the_documented_cohere_bodies() {
    run("request", |name, case| {
        let stream = case["stream"].as_bool().unwrap();
        let body = cohere::translate_request(chat_request(case), stream)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(body, case["expect"], "{name}");
    });
}

#[test]
fn requests_cohere_cannot_honour_are_refused_naming_the_parameter() {
    run("refused", |name, case| {
        let error = cohere::translate_request(chat_request(case), false).expect_err(name);
        assert_eq!(error.kind, ProviderErrorKind::Unsupported, "{name}");
        assert_eq!(
            error.param.as_deref(),
            case["expect_param"].as_str(),
            "{name}"
        );
    });
}

/// The parts of an OpenAI answer a client reads, the same way for a completion and a stream.
fn check_answer(
    name: &str,
    expect: &Value,
    content: Value,
    calls: Value,
    finish: &Value,
    usage: &Value,
) {
    assert_eq!(content, expect["content"], "{name}: content");
    assert_eq!(calls, expect["tool_calls"], "{name}: tool calls");
    assert_eq!(finish, &expect["finish_reason"], "{name}: finish reason");
    for field in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert_eq!(
            usage[field], expect["usage"][field],
            "{name}: usage.{field}"
        );
    }
}

#[test]
fn cohere_answers_become_openai_completions() {
    run("response", |name, case| {
        let body = serde_json::to_vec(&case["cohere"]).unwrap();
        let completion = cohere::translate_response(&body, case["model"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expect = &case["expect"];
        assert_eq!(completion["object"], "chat.completion", "{name}");
        assert_eq!(completion["id"], expect["id"], "{name}");
        assert_eq!(completion["model"], case["model"], "{name}");
        let choice = &completion["choices"][0];
        assert_eq!(choice["message"]["role"], "assistant", "{name}");
        let calls: Vec<Value> = choice["message"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                assert_eq!(c["type"], "function", "{name}");
                json!({"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]})
            })
            .collect();
        check_answer(
            name,
            expect,
            choice["message"]["content"].clone(),
            Value::Array(calls),
            &choice["finish_reason"],
            &completion["usage"],
        );
        let citations = choice["message"]
            .get("citations")
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(
            citations,
            expect.get("citations").cloned().unwrap_or(Value::Null),
            "{name}"
        );
    });
}

#[test]
fn cohere_streams_become_openai_chunks() {
    run("stream", |name, case| {
        let events: Vec<&str> = case["cohere_events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        let chunks = cohere::translate_stream(case["model"].as_str().unwrap(), events)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expect = &case["expect"];
        let first = &chunks[0];
        assert_eq!(
            first["choices"][0]["delta"]["role"], "assistant",
            "{name}: role first"
        );
        for chunk in &chunks {
            assert_eq!(chunk["object"], "chat.completion.chunk", "{name}");
            assert_eq!(chunk["id"], expect["id"], "{name}");
        }
        let mut content = String::new();
        let mut calls: Vec<Value> = Vec::new();
        let mut finish = Value::Null;
        for chunk in &chunks[..chunks.len() - 1] {
            let choice = &chunk["choices"][0];
            content.push_str(choice["delta"]["content"].as_str().unwrap_or_default());
            for call in choice["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let index = call["index"].as_u64().unwrap() as usize;
                if let Some(id) = call["id"].as_str() {
                    assert_eq!(
                        index,
                        calls.len(),
                        "{name}: tool calls are numbered in order"
                    );
                    calls
                        .push(json!({"id": id, "name": call["function"]["name"], "arguments": ""}));
                }
                let arguments = format!(
                    "{}{}",
                    calls[index]["arguments"].as_str().unwrap(),
                    call["function"]["arguments"].as_str().unwrap()
                );
                calls[index]["arguments"] = Value::from(arguments);
            }
            if !choice["finish_reason"].is_null() {
                assert!(finish.is_null(), "{name}: one finish chunk");
                finish = choice["finish_reason"].clone();
            }
        }
        let usage_chunk = chunks.last().unwrap();
        assert_eq!(
            usage_chunk["choices"],
            json!([]),
            "{name}: usage chunk last"
        );
        let content = if content.is_empty() && !calls.is_empty() {
            Value::Null
        } else {
            Value::from(content)
        };
        check_answer(
            name,
            expect,
            content,
            Value::Array(calls),
            &finish,
            &usage_chunk["usage"],
        );
    });
}

#[test]
fn a_stream_without_message_end_is_an_error() {
    let (_, case) = cases()
        .into_iter()
        .find(|(p, _)| p.ends_with("stream-2-text.json"))
        .unwrap();
    let events: Vec<&str> = case["cohere_events"].as_array().unwrap()[..5]
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    let error = cohere::translate_stream("m", events).unwrap_err();
    assert_eq!(error.kind, ProviderErrorKind::StreamInterrupted);
    for (reason, kind) in [
        ("ERROR", ProviderErrorKind::ServerError),
        ("TIMEOUT", ProviderErrorKind::Timeout),
    ] {
        let end = json!({"type": "message-end", "delta": {"finish_reason": reason, "error": "generation failed"}}).to_string();
        let error = cohere::translate_stream("m", [end.as_str()]).unwrap_err();
        assert_eq!(error.kind, kind);
        assert!(error.is_retryable());
    }
}

#[test]
fn embeddings_translate_both_ways() {
    run("embed_request", |name, case| {
        let request: EmbeddingsRequest = serde_json::from_value(case["openai"].clone()).unwrap();
        let body =
            cohere::translate_embeddings_request(request).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(body, case["expect"], "{name}");
    });
    run("embed_response", |name, case| {
        let body = serde_json::to_vec(&case["cohere"]).unwrap();
        let response =
            cohere::translate_embeddings_response(&body, case["model"].as_str().unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expect = &case["expect"];
        assert_eq!(
            response.data.len() as u64,
            expect["count"].as_u64().unwrap(),
            "{name}"
        );
        for (i, item) in response.data.iter().enumerate() {
            assert_eq!(item.index as usize, i, "{name}");
            let EmbeddingVector::Float(vector) = &item.embedding else {
                panic!("{name}: floats expected");
            };
            assert_eq!(
                vector.len() as u64,
                expect["dimensions"].as_u64().unwrap(),
                "{name}"
            );
        }
        let EmbeddingVector::Float(first) = &response.data[0].embedding else {
            unreachable!()
        };
        for (got, want) in first.iter().zip(expect["first"].as_array().unwrap()) {
            assert!(
                (f64::from(*got) - want.as_f64().unwrap()).abs() < 1e-6,
                "{name}"
            );
        }
        assert_eq!(
            response.usage.prompt_tokens,
            expect["prompt_tokens"].as_u64().unwrap(),
            "{name}"
        );
    });
}

#[test]
fn cohere_errors_are_classified() {
    run("error", |name, case| {
        let body = serde_json::to_vec(&case["cohere"]).unwrap();
        let error = cohere::translate_error(case["status"].as_u64().unwrap() as u16, &body);
        assert_eq!(
            format!("{:?}", error.kind),
            case["expect_kind"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            error.message,
            case["cohere"]["message"].as_str().unwrap(),
            "{name}"
        );
    });
}
