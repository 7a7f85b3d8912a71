//! SageMaker endpoints through the gateway: an OpenAI-schema container behind
//! InvokeEndpoint and InvokeEndpointWithResponseStream.

use gateway_fakes::Dialect;
use serde_json::{Value, json};

use crate::helpers::{TestApp, aws_section, spawn_app_with, sse_chunks, user};

const MODEL: &str = "sagemaker/llama-3-8b";

/// The usual test app plus a SageMaker provider serving `llama-3-8b` from the endpoint
/// `llama-3-8b-endpoint`.
async fn spawn_app_with_sagemaker() -> TestApp {
    let (fake, section) = aws_section(Dialect::Sagemaker, "sagemaker", &["llama-3-8b"], &[]).await;
    let mut app = spawn_app_with(&section).await;
    app.fakes.insert("sagemaker".to_owned(), fake);
    app
}

#[tokio::test]
async fn a_chat_invokes_the_mapped_endpoint_with_the_openai_body_without_model() {
    let app = spawn_app_with_sagemaker().await;
    let response = app
        .chat(&json!({"model": MODEL, "max_tokens": 40, "messages": user("Hello endpoint")}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Hello endpoint")
    );
    assert_eq!(body["x-llm-gateway"]["tokens"]["counted_by"], "provider");
    let call = app.last_call("sagemaker");
    assert_eq!(call.path, "/endpoints/llama-3-8b-endpoint/invocations");
    assert!(
        call.authorization
            .unwrap()
            .contains("/sagemaker/aws4_request")
    );
    assert_eq!(
        call.body,
        json!({"messages": [{"role": "user", "content": "Hello endpoint"}], "max_tokens": 40})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_stream_is_reassembled_from_payload_parts_cut_mid_line() {
    let app = spawn_app_with_sagemaker().await;
    let response = app
        .chat(
            &json!({"model": MODEL, "stream": true, "stream_options": {"include_usage": true},
            "messages": user("Stream please [[fake words=12]]")}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        text,
        "word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11 word12"
    );
    assert!(
        chunks.last().unwrap()["usage"]["completion_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let call = app.last_call("sagemaker");
    assert!(call.path.ends_with("/invocations-response-stream"));
    assert_eq!(call.body["stream"], true);
    assert_eq!(call.body["stream_options"], json!({"include_usage": true}));
    app.shutdown().await;
}

#[tokio::test]
async fn a_containers_refusal_is_the_clients_400_and_endpoint_failures_are_upstream_errors() {
    let app = spawn_app_with_sagemaker().await;
    let response = app
        .chat(&json!({"model": MODEL, "temperature": 1.5, "top_logprobs": 30, "logprobs": true, "messages": user("hi")}))
        .await;
    assert_eq!(response.status(), 400);
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=429]]")}))
        .await;
    assert_eq!(response.status(), 429);
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=503]]")}))
        .await;
    assert_eq!(response.status(), 503);
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=424]]")}))
        .await;
    assert_eq!(response.status(), 502);
    app.shutdown().await;
}

#[tokio::test]
async fn a_stream_cut_before_done_ends_with_an_error_event() {
    let app = spawn_app_with_sagemaker().await;
    let response = app
        .chat(&json!({"model": MODEL, "stream": true, "messages": user("[[fake disconnect_after=4 words=20]]")}))
        .await;
    let body = response.text().await.unwrap();
    assert!(body.contains("\"error\""), "{body}");
    assert!(!body.contains("[DONE]"), "{body}");
    app.shutdown().await;
}
