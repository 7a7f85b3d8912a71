use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn models_lists_auto_and_every_routable_model_as_provider_slash_model() {
    let app = spawn_app().await;
    let response = app.get("/v1/models").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], "auto");
    for id in [
        "openai/gpt-4o",
        "groq/llama-3.1-8b-instant",
        "mistral/mistral-embed",
        "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "openai/text-embedding-3-small",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["object"] == "model")
    );
}

#[tokio::test]
async fn health_answers_without_a_key() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/health", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    app.shutdown().await;
}
