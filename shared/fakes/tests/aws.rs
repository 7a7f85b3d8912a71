//! The Bedrock and SageMaker fakes over raw HTTP: they answer only signed requests, refuse
//! what the real services refuse with AWS's error shape, and fail loudly on anything else.
//! (The AWS SDK's side of the exchange is tested through the gateway's adapters.)
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions; a panic here is a failed test"
)]

mod common;

use common::{KEY, client, start_fake};
use gateway_fakes::Dialect;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const CLAUDE: &str = "anthropic.claude-3-haiku-20240307-v1:0";

/// A POST carrying a SigV4-shaped `Authorization` header for `service` (the fakes check its
/// shape and access key id; they have no secret to check the signature with).
async fn signed(base: &str, path: &str, service: &str, body: &Value) -> Response {
    let signature = "a".repeat(64);
    client()
        .post(format!("{base}{path}"))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={KEY}/20260101/us-east-1/{service}/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature={signature}"
            ),
        )
        .header("x-amz-date", "20260101T000000Z")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn error_type(response: &Response) -> String {
    response.headers()["x-amzn-errortype"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn bedrock_answers_a_valid_converse_and_refuses_invalid_ones() {
    let fake = start_fake(Dialect::Bedrock, &[CLAUDE], &[]).await;
    let base = format!("http://{}", fake.addr());
    let path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse";
    let ok = signed(
        &base,
        path,
        "bedrock",
        &json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["stopReason"], "end_turn");
    assert!(
        body["output"]["message"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Hi")
    );
    assert!(body["usage"]["inputTokens"].as_u64().unwrap() > 0);

    let cases = [
        (
            json!({"messages": [{"role": "assistant", "content": [{"text": "Hi"}]}]}),
            "start with a user",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": " "}]}]}),
            "blank",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}], "maxTokens": 5}),
            "extraneous key [maxTokens]",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "b"}]}]}),
            "alternate",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}], "inferenceConfig": {"temperature": 1.5}}),
            "range",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": "x", "content": [{"text": "r"}]}}]}], "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}}),
            "does not match any toolUse",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"image": {"format": "bmp", "source": {"bytes": "AAAA"}}}]}]}),
            "bmp",
        ),
    ];
    for (body, says) in cases {
        let response = signed(&base, path, "bedrock", &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_type(&response), "ValidationException");
        let message = response.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(says), "{message} should say {says}");
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn bedrock_refuses_unsigned_requests_unknown_models_and_unknown_operations() {
    let fake = start_fake(Dialect::Bedrock, &[CLAUDE], &[]).await;
    let base = format!("http://{}", fake.addr());
    let body = json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]});
    let unsigned = client()
        .post(format!("{base}/model/{CLAUDE}/converse"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_type(&unsigned), "MissingAuthenticationTokenException");
    let wrong_service = signed(
        &base,
        &format!("/model/{CLAUDE}/converse"),
        "sagemaker",
        &body,
    )
    .await;
    assert_eq!(wrong_service.status(), StatusCode::FORBIDDEN);
    let unknown_model = signed(
        &base,
        "/model/other.model-v1%3A0/converse",
        "bedrock",
        &body,
    )
    .await;
    assert_eq!(unknown_model.status(), StatusCode::BAD_REQUEST);
    let unknown_operation = signed(
        &base,
        &format!("/model/{CLAUDE}/count-tokens"),
        "bedrock",
        &body,
    )
    .await;
    assert_eq!(unknown_operation.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_type(&unknown_operation), "UnknownOperationException");
    let throttled = signed(&base, &format!("/model/{CLAUDE}/converse"), "bedrock",
        &json!({"messages": [{"role": "user", "content": [{"text": "[[fake status=429 retry_after=4]]"}]}]})).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_type(&throttled), "ThrottlingException");
    assert_eq!(throttled.headers()["retry-after"], "4");
    fake.shutdown().await;
}

#[tokio::test]
async fn bedrock_streams_are_aws_event_stream_frames() {
    let fake = start_fake(Dialect::Bedrock, &[CLAUDE], &[]).await;
    let base = format!("http://{}", fake.addr());
    let response = signed(
        &base,
        &format!("/model/{CLAUDE}/converse-stream"),
        "bedrock",
        &json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let bytes = response.bytes().await.unwrap();
    // Each frame starts with its total length (big-endian u32), headers length, prelude CRC.
    let mut offset = 0;
    let mut events = Vec::new();
    while offset < bytes.len() {
        let total = u32::from_be_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        let frame = &bytes[offset..offset + total];
        let text = String::from_utf8_lossy(frame);
        for name in [
            "messageStart",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata",
        ] {
            if text.contains(name) {
                events.push(name);
                break;
            }
        }
        offset += total;
    }
    assert_eq!(events.first(), Some(&"messageStart"));
    assert_eq!(&events[events.len() - 2..], ["messageStop", "metadata"]);
    fake.shutdown().await;
}

#[tokio::test]
async fn titan_embeddings_check_their_body() {
    let fake = start_fake(Dialect::Bedrock, &[], &["amazon.titan-embed-text-v2:0"]).await;
    let base = format!("http://{}", fake.addr());
    let path = "/model/amazon.titan-embed-text-v2%3A0/invoke";
    let ok = signed(
        &base,
        path,
        "bedrock",
        &json!({"inputText": "hello", "dimensions": 512, "normalize": true}),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["embedding"].as_array().unwrap().len(), 512);
    let bad = signed(
        &base,
        path,
        "bedrock",
        &json!({"inputText": "hello", "dimensions": 300}),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let extra = signed(&base, path, "bedrock", &json!({"input": "hello"})).await;
    assert_eq!(extra.status(), StatusCode::BAD_REQUEST);
    fake.shutdown().await;
}

#[tokio::test]
async fn sagemaker_wraps_a_containers_refusal_in_a_model_error() {
    let fake = start_fake(Dialect::Sagemaker, &["my-endpoint"], &[]).await;
    let base = format!("http://{}", fake.addr());
    let ok = signed(
        &base,
        "/endpoints/my-endpoint/invocations",
        "sagemaker",
        &json!({"messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let refused = signed(
        &base,
        "/endpoints/my-endpoint/invocations",
        "sagemaker",
        &json!({"messages": "not a list"}),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FAILED_DEPENDENCY);
    assert_eq!(error_type(&refused), "ModelError");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["OriginalStatusCode"], 400);
    let missing = signed(
        &base,
        "/endpoints/other/invocations",
        "sagemaker",
        &json!({"messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_type(&missing), "ValidationError");
    let mismatch = signed(
        &base,
        "/endpoints/my-endpoint/invocations",
        "sagemaker",
        &json!({"messages": [{"role": "user", "content": "Hi"}], "stream": true}),
    )
    .await;
    assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST);
    fake.shutdown().await;
}
