use serde_json::{Value, json};

use crate::helpers::{KEY, spawn_app, spawn_app_with, start_fake, user};

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json",
        "errors are JSON"
    );
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let receipt = response.headers()["x-llm-gateway"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        receipt.starts_with(&format!("request_id={request_id}")),
        "{receipt}"
    );
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert!(error["message"].is_string(), "{body}");
    assert!(error["type"].is_string(), "{body}");
    assert!(
        error.get("param").is_some() && error.get("code").is_some(),
        "{body}"
    );
    (status, body)
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/v1/chat/completions", app.url))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{\"model\": \"openai/gpt-4o\", \"messages\": [")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_json");
}

#[tokio::test]
async fn wrong_types_are_named_in_json_terms() {
    let app = spawn_app().await;
    for (path, body, message) in [
        (
            "chat/completions",
            json!(["not", "an", "object"]),
            "Invalid request body: expected an object, but got an array instead.",
        ),
        (
            "embeddings",
            json!("hello"),
            r#"Invalid request body: expected an object, but got a string ("hello") instead."#,
        ),
        (
            "chat/completions",
            json!({"model": "openai/gpt-4o", "messages": user("hi"), "temperature": "warm"}),
            r#"Invalid type for 'temperature': expected a number, but got a string ("warm") instead."#,
        ),
    ] {
        let (status, error) = error_of(app.post(&format!("/v1/{path}"), &body).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["error"]["message"], message);
        assert_eq!(error["error"]["code"], "invalid_type");
    }
}

#[tokio::test]
async fn a_malformed_inline_image_is_refused_for_every_model_before_any_call() {
    let app = spawn_app().await;
    let image = |url: &str| {
        json!([{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": url}}
        ]}])
    };
    for model in ["openai/gpt-4o", "anthropic/claude-sonnet-4", "auto"] {
        for url in [
            "data:image/png;base64iVBORw0KGgo=",
            "data:text/plain;base64,aGk=",
        ] {
            let request = json!({"model": model, "messages": image(url)});
            let (status, body) = error_of(app.chat(&request).await).await;
            assert_eq!(status, 400, "{model} {url}: {body}");
            assert_eq!(
                body["error"]["param"], "messages[0].content[1].image_url.url",
                "{model} {url}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Invalid image URL: "),
                "{body}"
            );
        }
    }
    for provider in ["openai", "anthropic", "gemini", "mistral", "groq"] {
        assert!(
            app.fake(provider).calls().is_empty(),
            "{provider} was called"
        );
    }
    let fine =
        json!({"model": "openai/gpt-4o", "messages": image("data:image/png;base64,iVBORw0KGgo=")});
    assert_eq!(app.chat(&fine).await.status(), 200);
}

#[tokio::test]
async fn invalid_requests_are_400s_naming_the_parameter() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"model": "openai/gpt-4o", "messages": user("hi"), "temperature": "warm"}),
            "temperature",
        ),
        (
            json!({"model": "openai/gpt-4o", "messages": user("hi"), "temperature": 7}),
            "temperature",
        ),
        (
            json!({"model": "openai/gpt-4o", "messages": user("hi"), "seed": 9223372036854775808u64}),
            "seed",
        ),
        (
            json!({"model": "openai/gpt-4o", "messages": user("hi"), "n": 0}),
            "n",
        ),
        (
            json!({"model": "openai/gpt-4o", "messages": []}),
            "messages",
        ),
        (json!({"model": "openai/gpt-4o"}), "messages"),
        (json!({"messages": user("hi")}), "model"),
        (
            json!({"model": "openai/gpt-4o", "messages": [{"role": "user"}]}),
            "messages[0]",
        ),
        (
            json!({"model": "openai/gpt-4o", "messages": [{"role": "robot", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "mistral/mistral-large-latest", "messages": user("hi"), "temperature": 1.8}),
            "temperature",
        ),
    ];
    for (request, param) in cases {
        let (status, body) = error_of(app.chat(&request).await).await;
        assert_eq!(status, 400, "{request}: {body}");
        let got = body["error"]["param"].as_str().unwrap_or_default();
        assert!(
            got.starts_with(param),
            "{request}: param {got}, expected {param}"
        );
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn an_unknown_model_is_a_404_model_not_found() {
    let app = spawn_app().await;
    for model in ["openai/gpt-99", "nobody/model", "gpt-99"] {
        let (status, body) = error_of(
            app.chat(&json!({"model": model, "messages": user("hi")}))
                .await,
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "model_not_found");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let app = spawn_app_with("[server]\nmax_body_bytes = 1024\n").await;
    let big = "x".repeat(4096);
    let (status, _) = error_of(
        app.chat(&json!({"model": "openai/gpt-4o", "messages": user(&big)}))
            .await,
    )
    .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn a_wrong_method_is_a_405_with_allow() {
    let app = spawn_app().await;
    let response = app.get("/v1/chat/completions").await;
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    let (status, _) = error_of(response).await;
    assert_eq!(status, 405);
    assert!(allow.contains("POST"), "{allow}");
}

#[tokio::test]
async fn an_unknown_path_is_a_404() {
    let app = spawn_app().await;
    let response = app.get("/v1/nothing").await;
    let (status, _) = error_of(response).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn missing_or_wrong_keys_are_401s() {
    let app = spawn_app().await;
    let url = format!("{}/v1/chat/completions", app.url);
    let body = json!({"model": "openai/gpt-4o", "messages": user("hi")});
    let none = app.client.post(&url).json(&body).send().await.unwrap();
    let (status, err) = error_of(none).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("missing_api_key"))
    );
    let wrong = app
        .client
        .post(&url)
        .bearer_auth("llm_gw_dev_wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, err) = error_of(wrong).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    assert!(
        app.fake("openai").calls().is_empty(),
        "nothing reached the provider"
    );
}

#[tokio::test]
async fn an_upstream_429_stays_a_429_with_retry_after() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("[[fake status=429 retry_after=7]]")}))
        .await;
    assert_eq!(response.headers()["retry-after"], "7");
    let (status, body) = error_of(response).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn upstream_5xx_become_502() {
    let app = spawn_app().await;
    for code in [500, 503] {
        let response = app
            .chat(&json!({"model": "groq/llama-3.1-8b-instant", "messages": user(&format!("[[fake status={code}]]"))}))
            .await;
        let (status, _) = error_of(response).await;
        assert_eq!(status, 502, "upstream {code}");
    }
}

#[tokio::test]
async fn an_upstream_that_does_not_answer_in_time_is_a_504() {
    let app = spawn_app_with("[upstream]\nrequest_timeout_ms = 300\n").await;
    let response = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("[[fake hang]]")}))
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, 504);
    assert_eq!(body["error"]["code"], "upstream_timeout");
    assert_eq!(
        app.last_outcome("openai").await,
        gateway_fakes::CallOutcome::ClientDisconnected
    );
}

#[tokio::test]
async fn a_provider_rejecting_the_gateways_key_never_leaks_it() {
    let wrong_key = "sk-gateway-secret-that-must-not-leak";
    let upstream = start_fake("local", &["llama3"], &[]).await;
    let app = spawn_app_with(&format!(
        "[providers.local]\nkind = \"openai_compatible\"\nbase_url = \"{}\"\napi_key = \"{wrong_key}\"\nmodels = [\"llama3\"]\n",
        upstream.base_url()
    ))
    .await;
    let response = app
        .chat(&json!({"model": "local/llama3", "messages": user("hi")}))
        .await;
    let text = response.text().await.unwrap();
    assert!(!text.contains(wrong_key), "{text}");
    assert!(text.contains("credentials"), "{text}");
    assert_eq!(upstream.calls().len(), 1);
}

#[tokio::test]
async fn a_client_that_gives_up_cancels_the_provider_call() {
    let app = spawn_app().await;
    let result = app
        .client
        .post(format!("{}/v1/chat/completions", app.url))
        .bearer_auth(KEY)
        .timeout(std::time::Duration::from_millis(300))
        .json(&json!({"model": "openai/gpt-4o", "messages": user("[[fake latency_ms=10000]]")}))
        .send()
        .await;
    assert!(result.is_err(), "the client timed out");
    assert_eq!(
        app.last_outcome("openai").await,
        gateway_fakes::CallOutcome::ClientDisconnected
    );
}

#[tokio::test]
async fn an_error_after_routing_names_the_provider_in_the_receipt_header() {
    let app = spawn_app().await;
    let response = app
        .chat(
            &json!({"model": "groq/llama-3.1-8b-instant", "messages": user("[[fake status=503]]")}),
        )
        .await;
    let header = response.headers()["x-llm-gateway"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        header.contains("provider=groq") && header.contains("model=groq/llama-3.1-8b-instant"),
        "{header}"
    );
}

#[tokio::test]
async fn embeddings_refuse_unknown_parameters_and_null_user_before_the_provider() {
    let app = spawn_app().await;
    for (body, param) in [
        (
            json!({"model": "openai/text-embedding-3-small", "input": "x", "colour": "red"}),
            "colour",
        ),
        (
            json!({"model": "openai/text-embedding-3-small", "input": "x", "user": null}),
            "user",
        ),
        (
            json!({"model": "openai/text-embedding-3-small", "input": "x", "dimensions": null}),
            "dimensions",
        ),
    ] {
        let (status, error) = error_of(app.post("/v1/embeddings", &body).await).await;
        assert_eq!(status, 400);
        assert_eq!(error["error"]["param"], param);
    }
    let calls = app.fake("openai").calls();
    assert!(
        calls.is_empty(),
        "{:?}",
        calls.iter().map(|c| &c.body).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn browsers_get_cors_preflight_answers() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/chat/completions", app.url),
        )
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let methods = response.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
}

#[tokio::test]
async fn a_plain_options_request_gets_no_allow_header_that_omits_methods() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/chat/completions", app.url),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("allow").is_none());
}
