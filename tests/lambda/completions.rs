//! `completions` behind a Function URL with `InvokeMode: RESPONSE_STREAM`.

use std::net::SocketAddr;
use std::time::Duration;

use gateway_fakes::{Behaviour, Dialect, FakeOptions, FakeServer};
use gateway_store::ReceiptStore;
use gateway_store::Timestamp;
use gateway_store::dynamodb::{DynamoConfig, DynamoStore, StaticCredentials};
use gateway_store::model::query::ReceiptQuery;
use gateway_tests::runtime_api::{FunctionResponse, Outcome};
use serde_json::{Value, json};

use crate::harness::{self, KEY, RunningFunction, TempPath};

/// Between the fake provider's stream events: long enough that chunks relayed one by one
/// arrive measurably apart, where a buffered relay would deliver them together.
const CHUNK_DELAY: Duration = Duration::from_millis(60);

struct Setup {
    function: RunningFunction,
    table: String,
    moto: String,
    _fake: FakeServer,
    _config: TempPath,
}

async fn start_completions() -> Setup {
    let moto = harness::moto_url("LLM_GATEWAY_TEST_DYNAMODB_URL");
    let fake = FakeServer::start(
        Dialect::OpenAi,
        FakeOptions {
            api_key: Some("fake-openai-key".to_owned()),
            models: vec!["gpt-4o-mini".to_owned()],
            embedding_models: Vec::new(),
            behaviour: Behaviour {
                chunk_delay: CHUNK_DELAY,
                ..Behaviour::default()
            },
            ..FakeOptions::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let table = harness::unique("completions");
    let config = format!(
        "[[auth.keys]]\nname = \"tests\"\nsecret = \"{KEY}\"\n\n\
         [providers.openai]\nbase_url = \"{}\"\napi_key = \"fake-openai-key\"\n\n\
         [store]\nbackend = \"dynamodb\"\n\n\
         [store.dynamodb]\ntable = \"{table}\"\nendpoint_url = \"{moto}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"testing\"\nsecret_access_key = \"testing\"\ncreate_table = true\n",
        fake.base_url()
    );
    let path = std::env::temp_dir().join(format!("{}.toml", harness::unique("completions")));
    std::fs::write(&path, config).unwrap();
    let function = harness::start(
        "completions",
        &[("LLM_GATEWAY_CONFIG", path.display().to_string())],
    )
    .await;
    Setup {
        function,
        table,
        moto,
        _fake: fake,
        _config: TempPath(path),
    }
}

fn streamed(outcome: Outcome) -> FunctionResponse {
    match outcome {
        Outcome::Response(response) => {
            assert!(response.streaming, "not sent in streaming mode");
            assert_eq!(
                response.content_type.as_deref(),
                Some("application/vnd.awslambda.http-integration-response")
            );
            response
        }
        Outcome::Error { error_type, body } => panic!("function error {error_type:?}: {body}"),
    }
}

fn with_body(mut event: Value, body: &str) -> Value {
    event["body"] = Value::String(body.to_owned());
    event
}

#[tokio::test]
async fn sse_reaches_the_client_chunk_by_chunk_and_the_receipt_reaches_dynamodb() {
    let setup = start_completions().await;
    let event = harness::event("function-url-chat-stream.json");
    let response = streamed(setup.function.invoke(event).await);

    let (prelude, body) = response.http_prelude().expect("prelude JSON + 8 NUL bytes");
    assert_eq!(prelude["statusCode"], 200, "{prelude}");
    assert_eq!(
        prelude["headers"]["content-type"], "text/event-stream",
        "{prelude}"
    );
    let request_id = prelude["headers"]["x-request-id"]
        .as_str()
        .unwrap()
        .to_owned();

    let text = String::from_utf8(body).unwrap();
    let events: Vec<&str> = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .collect();
    assert_eq!(events.last().copied(), Some("data: [DONE]"), "{text}");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    assert!(chunks.len() >= 3, "{text}");
    assert!(
        chunks.last().unwrap().get("x-llm-gateway").is_some(),
        "the final chunk carries the receipt: {text}"
    );

    // The SSE events arrived as separate frames, spread over the provider's pace.
    let data_frames: Vec<_> = response
        .frames
        .iter()
        .filter(|f| f.data.windows(6).any(|w| w == b"data: "))
        .collect();
    assert!(data_frames.len() >= 3, "{} frames", data_frames.len());
    let spread = data_frames.last().unwrap().after - data_frames[0].after;
    assert!(
        spread >= CHUNK_DELAY * 2,
        "chunks arrived within {spread:?}: buffered, not streamed"
    );

    // The receipt was written before the invocation ended.
    let store = DynamoStore::connect(&DynamoConfig {
        table: setup.table.clone(),
        endpoint_url: Some(setup.moto.clone()),
        region: Some("us-east-1".to_owned()),
        credentials: Some(StaticCredentials {
            access_key_id: "testing".to_owned(),
            secret_access_key: "testing".to_owned(),
        }),
    })
    .await
    .unwrap();
    let receipts = store
        .query_receipts(
            &ReceiptQuery {
                request_id: Some(request_id.clone()),
                ..ReceiptQuery::for_org(gateway_server::access::CONFIGURED_ORG_ID)
            },
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        receipts.items.len(),
        1,
        "receipt {request_id} not in DynamoDB"
    );
    assert_eq!(receipts.items[0].model, "openai/gpt-4o-mini");
    assert_eq!(receipts.items[0].status, 200);

    // JSON logs name the invocation.
    let output = setup.function.process.output();
    assert!(
        output.lines().any(|l| l.starts_with('{')
            && l.contains("\"requestId\":\"00000000-0000-4000-8000-000000000001\"")),
        "no JSON log line with the request id:\n{output}"
    );
}

#[tokio::test]
async fn bad_requests_get_openai_errors_through_the_stream() {
    let setup = start_completions().await;
    let event = harness::event("function-url-chat-stream.json");

    let response = streamed(
        setup
            .function
            .invoke(with_body(event.clone(), "{not json"))
            .await,
    );
    let (prelude, body) = response.http_prelude().unwrap();
    assert_eq!(prelude["statusCode"], 400, "{prelude}");
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");

    let mut wrong_key = event.clone();
    wrong_key["headers"]["authorization"] = json!("Bearer llm_gw_dev_wrong");
    let response = streamed(setup.function.invoke(wrong_key).await);
    let (prelude, body) = response.http_prelude().unwrap();
    assert_eq!(prelude["statusCode"], 401, "{prelude}");
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["code"], "invalid_api_key", "{error}");

    let unknown_model = with_body(
        event,
        r#"{"model":"openai/no-such-model","messages":[{"role":"user","content":"hi"}]}"#,
    );
    let response = streamed(setup.function.invoke(unknown_model).await);
    let (prelude, _) = response.http_prelude().unwrap();
    assert_eq!(prelude["statusCode"], 404, "{prelude}");
}
