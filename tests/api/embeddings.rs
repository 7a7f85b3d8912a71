use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn decode(b64: &str) -> Vec<f32> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[tokio::test]
async fn base64_embeddings_decode_to_the_float_ones() {
    let app = spawn_app().await;
    for model in ["openai/text-embedding-3-small", "mistral/mistral-embed"] {
        let input = json!(["The quick brown fox", "jumps over"]);
        let floats: Value = app
            .post("/v1/embeddings", &json!({"model": model, "input": input}))
            .await
            .json()
            .await
            .unwrap();
        let response = app
            .post(
                "/v1/embeddings",
                &json!({"model": model, "input": input, "encoding_format": "base64"}),
            )
            .await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-llm-gateway"));
        let b64: Value = response.json().await.unwrap();
        assert_eq!(b64["data"].as_array().unwrap().len(), 2);
        for i in 0..2 {
            let expected: Vec<f32> = floats["data"][i]["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert!(!expected.is_empty());
            assert_eq!(
                decode(b64["data"][i]["embedding"].as_str().unwrap()),
                expected,
                "{model}"
            );
        }
        assert_eq!(b64["x-llm-gateway"]["model"], model);
        // The provider is always asked for floats; the gateway encodes.
        let provider = model.split('/').next().unwrap();
        assert!(
            app.last_call(provider)
                .body
                .get("encoding_format")
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_chat_model_is_not_an_embedding_model() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/v1/embeddings",
            &json!({"model": "openai/gpt-4o", "input": "x"}),
        )
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
}
