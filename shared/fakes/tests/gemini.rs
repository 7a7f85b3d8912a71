//! The Gemini fake over real HTTP: Google's paths, key header, validation and error shapes.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions; a panic here is a failed test"
)]

mod common;

use common::{KEY, client, start_fake};
use gateway_fakes::{Dialect, FakeServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

const MODEL: &str = "gemini-2.5-flash";
const EMBEDDER: &str = "gemini-embedding-001";

async fn start() -> FakeServer {
    start_fake(Dialect::Gemini, &[MODEL], &[EMBEDDER]).await
}

fn url(server: &FakeServer, method: &str, model: &str) -> String {
    format!("http://{}/v1beta/models/{model}:{method}", server.addr())
}

async fn call(server: &FakeServer, method: &str, body: Value) -> (StatusCode, Value) {
    let response = client()
        .post(url(server, method, MODEL))
        .header("x-goog-api-key", KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn ask(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

/// The JSON events of an `alt=sse` body.
fn events(body: &str) -> Vec<Value> {
    body.split("\r\n\r\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn generate_content_answers_with_candidates_and_usage() {
    let server = start().await;
    let (status, body) = call(&server, "generateContent", ask("Hello there")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let candidate = &body["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert!(
        candidate["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Hello there")
    );
    assert_eq!(candidate["finishReason"], "STOP");
    let usage = &body["usageMetadata"];
    assert_eq!(
        usage["totalTokenCount"].as_u64().unwrap(),
        usage["promptTokenCount"].as_u64().unwrap()
            + usage["candidatesTokenCount"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn the_key_is_read_from_the_header_or_the_query() {
    let server = start().await;
    let by_query = client()
        .post(format!(
            "{}?key={KEY}",
            url(&server, "generateContent", MODEL)
        ))
        .json(&ask("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), StatusCode::OK);
    let none = client()
        .post(url(&server, "generateContent", MODEL))
        .bearer_auth(KEY)
        .json(&ask("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::FORBIDDEN);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    let wrong = client()
        .post(url(&server, "generateContent", MODEL))
        .header("x-goog-api-key", "nope")
        .json(&ask("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["details"][0]["reason"], "API_KEY_INVALID");
}

#[tokio::test]
async fn what_the_real_api_refuses_is_refused_in_googles_shape() {
    let server = start().await;
    for (body, words) in [
        (
            json!({"contents": [], "generationConfig": {}}),
            "contents is not specified",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "max_tokens": 5}),
            "Unknown name \"max_tokens\"",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": ""}]}]}),
            "empty text parameter",
        ),
        (
            json!({"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]}),
            "valid role",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "a", "inlineData": {"mimeType": "image/png", "data": "AA=="}}]}]}),
            "oneof",
        ),
        (
            json!({"contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "a", "response": {}}}]}]}),
            "number of function response parts",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"temperature": 2.5}}),
            "temperature",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"responseJsonSchema": {"type": "object"}}}),
            "response_mime_type",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": [{"name": "f", "description": ""}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}}}),
            "only be set when the mode is ANY",
        ),
    ] {
        let (status, reply) = call(&server, "generateContent", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply["error"]["status"], "INVALID_ARGUMENT", "{body}");
        assert_eq!(reply["error"]["code"], 400);
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
}

#[tokio::test]
async fn proto_field_names_are_accepted_as_google_accepts_them() {
    let server = start().await;
    let body = json!({"system_instruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generation_config": {"max_output_tokens": 3, "candidate_count": 2}});
    let (status, reply) = call(&server, "generateContent", body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(reply["candidates"][0]["finishReason"], "MAX_TOKENS");
}

#[tokio::test]
async fn function_calls_arrive_whole_and_results_are_quoted() {
    let server = start().await;
    let tools = json!([{"functionDeclarations": [{"name": "get_weather", "description": "",
        "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}]);
    let (_, reply) = call(
        &server,
        "generateContent",
        json!({"contents": ask("Paris?")["contents"], "tools": tools}),
    )
    .await;
    let part = &reply["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(part["name"], "get_weather");
    assert!(part["args"]["city"].is_string());
    let answered = json!({"tools": tools, "contents": [
        {"role": "user", "parts": [{"text": "Paris?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"sky": "clear"}}}]}]});
    let (status, reply) = call(&server, "generateContent", answered).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(
        reply["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .contains("clear")
    );
}

#[tokio::test]
async fn a_stream_is_server_sent_events_ending_with_the_finish_and_usage() {
    let server = start().await;
    let whole = call(&server, "generateContent", ask("Tell me [[fake words=6]]"))
        .await
        .1;
    let response = client()
        .post(format!(
            "{}?alt=sse",
            url(&server, "streamGenerateContent", MODEL)
        ))
        .header("x-goog-api-key", KEY)
        .json(&ask("Tell me [[fake words=6]]"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.len(), 6);
    let text: String = events
        .iter()
        .map(|e| {
            e["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        text,
        whole["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
    );
    let last = events.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 6);
    assert!(events[0]["candidates"][0].get("finishReason").is_none());

    let without_sse = client()
        .post(url(&server, "streamGenerateContent", MODEL))
        .header("x-goog-api-key", KEY)
        .json(&ask("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        without_sse.status(),
        StatusCode::BAD_REQUEST,
        "the JSON-array form is not simulated"
    );
}

#[tokio::test]
async fn directives_give_googles_errors() {
    let server = start().await;
    let (status, reply) = call(
        &server,
        "generateContent",
        ask("[[fake status=429 retry_after=7]]"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(reply["error"]["details"][0]["retryDelay"], "7s");
    let (status, reply) = call(&server, "generateContent", ask("[[fake status=503]]")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply["error"]["status"], "UNAVAILABLE");
    let (status, reply) = call(&server, "generateContent", ask("[[fake omit_usage]]")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(reply.get("usageMetadata").is_none());
}

#[tokio::test]
async fn embeddings_single_and_batched() {
    let server = start().await;
    let embed = |method: &'static str, body: Value| {
        let server = &server;
        async move {
            let response = client()
                .post(url(server, method, EMBEDDER))
                .header("x-goog-api-key", KEY)
                .json(&body)
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, one) = embed(
        "embedContent",
        json!({"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 4}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["embedding"]["values"].as_array().unwrap().len(), 4);
    let (status, many) = embed(
        "batchEmbedContents",
        json!({"requests": [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{many}");
    assert_eq!(many["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(
        many["embeddings"][0]["values"].as_array().unwrap().len(),
        3072
    );
    let (status, _) = embed(
        "batchEmbedContents",
        json!({"requests": [{"content": {"parts": [{"text": "a"}]}}]}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "batch items name their model"
    );
}

#[tokio::test]
async fn calls_the_fake_does_not_implement_fail_loudly() {
    let server = start().await;
    let (status, reply) = call(&server, "countTokens", ask("hi")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(reply["error"]["message"].as_str().unwrap().contains("fake"));
    let (status, _) = call(
        &server,
        "generateContent",
        json!({"contents": ask("hi")["contents"], "cachedContent": "cachedContents/x"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, reply) = call(
        &server,
        "generateContent",
        json!({"contents": ask("hi")["contents"],
        "tools": [{"googleSearch": {}}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    let unknown_model = client()
        .post(url(&server, "generateContent", "gemini-9"))
        .header("x-goog-api-key", KEY)
        .json(&ask("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_model.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn thinking_models_sign_function_calls_and_gemini_3_requires_the_signature_back() {
    let model = "gemini-3-pro-preview";
    let server = start_fake(Dialect::Gemini, &[model], &[]).await;
    let send = |body: Value| {
        let url = url(&server, "generateContent", model);
        async move {
            let response = client()
                .post(url)
                .header("x-goog-api-key", KEY)
                .json(&body)
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let tools = json!([{"functionDeclarations": [{"name": "f", "description": ""}]}]);
    let (_, reply) = send(json!({"contents": ask("go")["contents"], "tools": tools})).await;
    let signature = reply["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
        .as_str()
        .unwrap()
        .to_owned();
    let turn = |signed: bool| {
        let mut call = json!({"functionCall": {"name": "f", "args": {}}});
        if signed {
            call["thoughtSignature"] = json!(signature);
        }
        json!({"tools": tools, "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [call]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"ok": true}}}]}]})
    };
    assert_eq!(send(turn(true)).await.0, StatusCode::OK);
    let (status, reply) = send(turn(false)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("thought_signature")
    );
}
