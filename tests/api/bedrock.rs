//! Bedrock through the gateway: the AWS SDK signing and framing, the fake checking both.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, sse_chunks, user};

const CLAUDE: &str = "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0";

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

#[tokio::test]
async fn a_bedrock_chat_is_a_signed_converse_call_answered_in_openais_shape() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": CLAUDE, "max_tokens": 50, "temperature": 0.5, "stop": ["zzz"],
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Hello there")
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["x-llm-gateway"]["tokens"]["counted_by"], "provider");
    assert!(body["x-llm-gateway"]["cost_usd"].as_f64().unwrap() > 0.0);

    let call = app.last_call("bedrock");
    assert_eq!(
        call.path,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    );
    assert!(
        call.authorization
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256 Credential=fake-bedrock-key/")
    );
    assert_eq!(
        call.body,
        json!({"messages": [{"role": "user", "content": [{"text": "Hello there"}]}],
            "system": [{"text": "Be brief."}],
            "inferenceConfig": {"maxTokens": 50, "temperature": 0.5, "stopSequences": ["zzz"]}})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn streamed_tool_calls_keep_their_id_name_and_every_argument_fragment() {
    let app = spawn_app().await;
    let response = app
        .chat(
            &json!({"model": CLAUDE, "stream": true, "stream_options": {"include_usage": true},
            "tools": weather_tool(), "messages": user("Weather in Paris?")}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"].get("tool_calls"))
        .collect();
    assert_eq!(calls[0][0]["index"], 0);
    assert!(calls[0][0]["id"].as_str().unwrap().starts_with("tooluse_"));
    assert_eq!(calls[0][0]["function"]["name"], "get_weather");
    let arguments: String = calls
        .iter()
        .map(|c| c[0]["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "example"})
    );
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"].get(0)?["finish_reason"].as_str())
        .unwrap();
    assert_eq!(finish, "tool_calls");
    let usage = &chunks.last().unwrap()["usage"];
    assert!(usage["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    assert!(app.last_call("bedrock").path.ends_with("/converse-stream"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_tool_result_goes_back_as_a_tool_result_block() {
    let app = spawn_app().await;
    let messages = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "tooluse_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "sunny"}
    ]);
    let response = app
        .chat(&json!({"model": CLAUDE, "tools": weather_tool(), "messages": messages}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("sunny")
    );
    let sent = app.last_call("bedrock").body;
    assert_eq!(
        sent["messages"][1]["content"][0]["toolUse"],
        json!({"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(
        sent["messages"][2]["content"][0]["toolResult"],
        json!({"toolUseId": "tooluse_1", "content": [{"text": "sunny"}]})
    );
    assert_eq!(sent["toolConfig"]["toolChoice"], json!({"auto": {}}));
    app.shutdown().await;
}

#[tokio::test]
async fn images_travel_as_bytes_and_image_urls_are_refused_by_name() {
    let app = spawn_app().await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let image = |url: &str| {
        json!([{"role": "user", "content": [{"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}}]}])
    };
    let response = app
        .chat(&json!({"model": CLAUDE, "messages": image(&format!("data:image/png;base64,{png}"))}))
        .await;
    assert_eq!(response.status(), 200);
    let sent = app.last_call("bedrock").body;
    assert_eq!(
        sent["messages"][0]["content"][1],
        json!({"image": {"format": "png", "source": {"bytes": png}}})
    );
    let calls = app.fake("bedrock").calls().len();
    let response = app
        .chat(&json!({"model": CLAUDE, "messages": image("https://example.com/cat.png")}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "messages[0].content[1]");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("data URL")
    );
    assert_eq!(
        app.fake("bedrock").calls().len(),
        calls,
        "refused before calling Bedrock"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn bedrock_errors_keep_their_meaning() {
    let app = spawn_app().await;
    let cases = [
        (
            "[[fake status=429 retry_after=3]]",
            429,
            "rate_limit_exceeded",
        ),
        ("[[fake status=400]]", 400, "invalid_request"),
        ("[[fake status=503]]", 503, "upstream_overloaded"),
        ("[[fake status=500]]", 502, "upstream_error"),
        ("[[fake status=403]]", 502, "upstream_authentication"),
    ];
    for (prompt, status, code) in cases {
        let response = app
            .chat(&json!({"model": CLAUDE, "messages": user(prompt)}))
            .await;
        assert_eq!(response.status(), status, "{prompt}");
        if status == 429 {
            assert_eq!(response.headers()["retry-after"], "3");
        }
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{prompt}");
    }
    let response = app
        .chat(&json!({"model": CLAUDE, "n": 2, "messages": user("hi")}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "n");
    app.shutdown().await;
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": CLAUDE, "stream": true, "messages": user("[[fake disconnect_after=3 words=20]]")}))
        .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("\"error\""), "{body}");
    assert!(!body.contains("[DONE]"), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn titan_embeds_each_input_with_one_signed_call() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/v1/embeddings",
            &json!({"model": "bedrock/amazon.titan-embed-text-v2:0",
            "input": ["first text", "second text"], "dimensions": 256}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 256);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let calls = app.fake("bedrock").calls();
    let invokes: Vec<_> = calls
        .iter()
        .filter(|c| c.path.ends_with("/invoke"))
        .collect();
    assert_eq!(invokes.len(), 2);
    assert_eq!(
        invokes
            .iter()
            .map(|c| c.body["inputText"].as_str().unwrap())
            .collect::<Vec<_>>()
            .len(),
        2
    );
    assert_eq!(invokes[0].body["dimensions"], 256);
    assert_eq!(invokes[0].body["normalize"], true);
    app.shutdown().await;
}

#[tokio::test]
async fn a_stream_without_usage_is_counted_by_the_gateway() {
    let app = spawn_app().await;
    let response = app
        .chat(
            &json!({"model": CLAUDE, "stream": true, "stream_options": {"include_usage": true},
            "messages": user("[[fake omit_usage]] count me")}),
        )
        .await;
    let chunks = sse_chunks(&response.text().await.unwrap());
    let last = chunks.last().unwrap();
    assert!(last["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(last["x-llm-gateway"]["tokens"]["counted_by"], "gateway");
    app.shutdown().await;
}
