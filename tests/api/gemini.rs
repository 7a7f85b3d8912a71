//! Gemini's native API end to end: the gateway speaks `generateContent`,
//! `streamGenerateContent?alt=sse` and `embedContent` to the fake, and the client sees
//! OpenAI's shapes, streaming and tool calls included.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, sse_chunks, user};

const MODEL: &str = "gemini/gemini-2.5-flash";

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

#[tokio::test]
async fn a_chat_reaches_generate_content_with_the_key_in_its_header() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": MODEL, "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello Gemini"}
        ], "max_completion_tokens": 50, "stop": ["END"], "seed": 3}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        content.contains("simulated reply from gemini-2.5-flash"),
        "{content}"
    );
    assert!(content.contains("Hello Gemini"));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(body["x-llm-gateway"]["provider"], "gemini");
    let call = app.last_call("gemini");
    assert!(
        call.path
            .ends_with("/v1beta/models/gemini-2.5-flash:generateContent"),
        "{}",
        call.path
    );
    assert_eq!(
        call.authorization, None,
        "the key travels in x-goog-api-key"
    );
    assert_eq!(
        call.body["systemInstruction"]["parts"][0]["text"],
        "Be brief."
    );
    assert_eq!(call.body["contents"][0]["role"], "user");
    assert_eq!(call.body["generationConfig"]["maxOutputTokens"], 50);
    assert_eq!(
        call.body["generationConfig"]["stopSequences"],
        json!(["END"])
    );
    assert_eq!(call.body["generationConfig"]["seed"], 3);
    app.shutdown().await;
}

#[tokio::test]
async fn a_streamed_chat_has_a_role_first_then_text_then_finish_then_usage() {
    let app = spawn_app().await;
    let response = app
        .chat(
            &json!({"model": MODEL, "messages": user("Stream please"), "stream": true,
            "stream_options": {"include_usage": true}}),
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
    assert!(text.contains("Stream please"), "{text}");
    let finish = chunks
        .iter()
        .find(|c| {
            c["choices"]
                .get(0)
                .is_some_and(|ch| !ch["finish_reason"].is_null())
        })
        .unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    let completion = last["usage"]["completion_tokens"].as_u64().unwrap();
    assert_eq!(
        completion,
        text.split_whitespace().count() as u64,
        "streamed usage is the final count"
    );
    let call = app.last_call("gemini");
    assert!(
        call.path.ends_with(":streamGenerateContent"),
        "{}",
        call.path
    );
    app.shutdown().await;
}

#[tokio::test]
async fn tool_calls_have_the_same_ids_streamed_or_not_and_results_go_back_by_name() {
    let app = spawn_app().await;
    let ask =
        json!({"model": MODEL, "messages": user("Weather in Paris?"), "tools": [weather_tool()]});
    let body: Value = app.chat(&ask).await.json().await.unwrap();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(arguments["city"].is_string());
    let id = call["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("call_"));

    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let chunks = sse_chunks(&app.chat(&streamed).await.text().await.unwrap());
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(deltas[0]["id"], id.as_str());
    assert_eq!(deltas[0]["function"]["name"], "get_weather");
    let reassembled: String = deltas
        .iter()
        .filter_map(|d| d["function"]["arguments"].as_str())
        .collect();
    assert_eq!(reassembled, call["function"]["arguments"].as_str().unwrap());
    assert!(chunks.iter().any(|c| {
        c["choices"]
            .get(0)
            .is_some_and(|ch| ch["finish_reason"] == "tool_calls")
    }));

    let answer = json!({"model": MODEL, "tools": [weather_tool()], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": id, "content": "sunny"}
    ]});
    let body: Value = app.chat(&answer).await.json().await.unwrap();
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("sunny")
    );
    let sent = app.last_call("gemini").body;
    assert_eq!(
        sent["contents"][1]["parts"][0]["functionCall"]["name"],
        "get_weather"
    );
    // gemini-2.5 thinks: its signature came back in the id and went back with the call.
    assert!(id.contains("__thought__"), "{id}");
    assert!(sent["contents"][1]["parts"][0]["thoughtSignature"].is_string());
    assert_eq!(
        sent["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "get_weather", "response": {"content": "sunny"}})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn images_travel_inline_or_as_file_data() {
    let app = spawn_app().await;
    let response = app
        .chat(
            &json!({"model": MODEL, "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
            ]}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let parts = &app.last_call("gemini").body["contents"][0]["parts"];
    assert_eq!(
        parts[1],
        json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(
        parts[2],
        json!({"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn two_choices_come_from_two_candidates() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": MODEL, "messages": user("Twice"), "n": 2}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"].as_array().unwrap().len(), 2);
    assert_eq!(body["choices"][1]["index"], 1);
    assert_eq!(
        app.last_call("gemini").body["generationConfig"]["candidateCount"],
        2
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_cut_max_tokens_answer_finishes_with_length() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake words=50]]"), "max_tokens": 5}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    app.shutdown().await;
}

#[tokio::test]
async fn resource_exhausted_is_a_429_with_the_retry_delay() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=429 retry_after=3]]")}))
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=503]]")}))
        .await;
    assert_eq!(response.status(), 503);
    app.shutdown().await;
}

#[tokio::test]
async fn what_gemini_cannot_do_is_a_400_naming_the_parameter() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("hi"), "logit_bias": {"50256": -100}}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "logit_bias");
    assert!(
        app.fake("gemini").calls().is_empty(),
        "refused before calling Gemini"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake words=30 disconnect_after=3]]"), "stream": true}))
        .await;
    assert_eq!(response.status(), 200);
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert!(chunks.last().unwrap().get("error").is_some(), "{chunks:?}");
    app.shutdown().await;
}

#[tokio::test]
async fn embeddings_use_embed_content_and_batch_embed_contents() {
    let app = spawn_app().await;
    let body: Value = app
        .post(
            "/v1/embeddings",
            &json!({"model": "gemini/gemini-embedding-001", "input": "one", "dimensions": 8}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let call = app.last_call("gemini");
    assert!(call.path.ends_with(":embedContent"));
    assert_eq!(call.body["outputDimensionality"], 8);

    let body: Value = app
        .post(
            "/v1/embeddings",
            &json!({"model": "gemini/gemini-embedding-001", "input": ["a", "b", "c"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    assert_eq!(body["data"][2]["index"], 2);
    let call = app.last_call("gemini");
    assert!(call.path.ends_with(":batchEmbedContents"));
    assert_eq!(
        call.body["requests"][1]["model"],
        "models/gemini-embedding-001"
    );
    app.shutdown().await;
}
