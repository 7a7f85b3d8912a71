use serde_json::{Value, json};

use crate::helpers::{spawn_app, user};

#[tokio::test]
async fn a_chat_completion_has_the_openai_shape_and_a_receipt() {
    let app = spawn_app().await;
    let response = app
        .chat(
            &json!({"model": "openai/gpt-4o", "messages": user("What is the capital of France?")}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let header = response.headers()["x-llm-gateway"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();

    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("capital of France")
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let receipt = &body["x-llm-gateway"];
    assert_eq!(receipt["request_id"], request_id.as_str());
    assert!(request_id.starts_with("req_"));
    assert_eq!(receipt["routing_decision"], "direct");
    assert_eq!(receipt["provider"], "openai");
    assert_eq!(receipt["model"], "openai/gpt-4o");
    assert_eq!(receipt["fallback_used"], false);
    assert!(receipt["latency_ms"].is_u64());
    assert!(receipt["routing_overhead_ms"].is_number());
    assert!(
        header.contains(&format!("request_id={request_id}")),
        "{header}"
    );
    assert!(header.contains("model=openai/gpt-4o"), "{header}");
}

#[tokio::test]
async fn the_cost_in_the_receipt_comes_from_catalog_prices() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("Price me.")}))
        .await
        .json()
        .await
        .unwrap();
    let prompt = body["usage"]["prompt_tokens"].as_f64().unwrap();
    let completion = body["usage"]["completion_tokens"].as_f64().unwrap();
    // gpt-4o: $2.50 in, $10.00 out per million tokens.
    let expected = (prompt * 2.5 + completion * 10.0) / 1e6;
    let cost = body["x-llm-gateway"]["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - expected).abs() < 1e-7,
        "cost {cost} expected {expected}"
    );
    assert!(cost > 0.0);
}

#[tokio::test]
async fn the_provider_gets_its_own_key_and_model_name_never_the_clients_key() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": "together/meta-llama/Llama-3.3-70B-Instruct-Turbo", "messages": user("hi")}))
        .await;
    assert_eq!(response.status(), 200);
    let call = app.last_call("together");
    assert_eq!(
        call.authorization.as_deref(),
        Some("Bearer fake-together-key")
    );
    assert_eq!(
        call.body["model"],
        "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    );
    assert!(call.body.get("x-routing-hints").is_none());
}

#[tokio::test]
async fn openai_parameters_pass_through_untouched() {
    let app = spawn_app().await;
    let request = json!({
        "model": "openai/gpt-4o-mini",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image? Answer in json."},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}
            ]}
        ],
        "temperature": 0.2, "top_p": 0.9, "n": 2, "stop": ["\n\n"], "seed": 42,
        "presence_penalty": 0.5, "frequency_penalty": 0.1, "logprobs": true, "top_logprobs": 2,
        "max_completion_tokens": 50, "user": "user-1", "store": false, "metadata": {"team": "a"},
        "response_format": {"type": "json_object"},
        "x-routing-hints": {"priority": "cost"}
    });
    let response = app.chat(&request).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"].as_array().unwrap().len(), 2, "{body}");
    let sent = app.last_call("openai").body;
    for field in [
        "temperature",
        "top_p",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
        "max_completion_tokens",
        "user",
        "store",
        "metadata",
        "response_format",
        "messages",
    ] {
        assert_eq!(sent[field], request[field], "{field}");
    }
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert!(sent.get("x-routing-hints").is_none());
}

#[tokio::test]
async fn tools_and_parallel_tool_calls_come_back() {
    let app = spawn_app().await;
    let tool = |name: &str| {
        json!({"type": "function", "function": {"name": name, "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
    };
    let body: Value = app
        .chat(
            &json!({"model": "openai/gpt-4o", "messages": user("Weather and time in Paris?"),
                       "tools": [tool("get_weather"), tool("get_time")], "tool_choice": "auto"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args["city"].is_string());
}

#[tokio::test]
async fn a_bare_model_name_routes_to_its_provider() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": "mistral-small-latest", "messages": user("hi")}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["x-llm-gateway"]["model"],
        "mistral/mistral-small-latest"
    );
}

#[tokio::test]
async fn auto_picks_the_cheapest_capable_model_and_says_so() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": "auto", "messages": user("Hello, world!")}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["x-llm-gateway"]["routing_decision"], "cost_optimized");
    // groq/llama-3.1-8b-instant is the cheapest chat model configured in the test app.
    assert_eq!(body["x-llm-gateway"]["model"], "groq/llama-3.1-8b-instant");

    let with_image = json!({"model": "auto", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]});
    let body: Value = app.chat(&with_image).await.json().await.unwrap();
    // The cheapest configured model that takes images.
    assert_eq!(
        body["x-llm-gateway"]["model"],
        "bedrock/amazon.nova-lite-v1:0"
    );
}

#[tokio::test]
async fn mistral_gets_its_own_parameter_names() {
    let app = spawn_app().await;
    let response = app
        .chat(
            &json!({"model": "mistral/mistral-large-latest", "messages": user("hi"), "seed": 7,
                       "max_completion_tokens": 20, "tool_choice": "none"}),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = app.last_call("mistral").body;
    assert_eq!(sent["random_seed"], 7);
    assert!(sent.get("seed").is_none());
    assert_eq!(sent["max_tokens"], 20);
}

#[tokio::test]
async fn usage_is_counted_by_the_gateway_when_the_provider_omits_it() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("Count me [[fake omit_usage]]")}))
        .await
        .json()
        .await
        .unwrap();
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 5);
    assert!(body["usage"]["completion_tokens"].as_u64().unwrap() > 5);
    assert_eq!(body["x-llm-gateway"]["tokens"]["counted_by"], "gateway");
}

#[tokio::test]
async fn an_openai_answer_passes_through_and_every_answer_has_the_fields_openai_requires() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("hi")}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["system_fingerprint"], "fp_fake", "{body}");
    for model in [
        "mistral/mistral-small-latest",
        "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "groq/llama-3.1-8b-instant",
    ] {
        let body: Value = app
            .chat(&json!({"model": model, "messages": user("hi")}))
            .await
            .json()
            .await
            .unwrap();
        let choice = &body["choices"][0];
        for field in ["logprobs", "finish_reason"] {
            assert!(choice.get(field).is_some(), "{model}: {field} in {body}");
        }
        for field in ["content", "refusal", "role"] {
            assert!(
                choice["message"].get(field).is_some(),
                "{model}: message.{field} in {body}"
            );
        }
        assert!(body.get("x-llm-gateway").is_some());
    }
}

#[tokio::test]
async fn openai_reasoning_models_get_max_completion_tokens_and_other_models_no_reasoning_effort() {
    let app = spawn_app().await;
    // What LangChain and older code send: `max_tokens`, which o-series models refuse.
    let response = app
        .chat(&json!({"model": "openai/o4-mini", "max_tokens": 50, "messages": user("Hi")}))
        .await;
    assert_eq!(response.status(), 200);
    let sent = app.last_call("openai").body;
    assert_eq!(sent["max_completion_tokens"], 50, "{sent}");
    assert!(sent.get("max_tokens").is_none(), "{sent}");

    for (request, param) in [
        (
            json!({"model": "openai/o4-mini", "temperature": 0.2, "messages": user("Hi")}),
            "temperature",
        ),
        (
            json!({"model": "openai/gpt-4o", "reasoning_effort": "high", "messages": user("Hi")}),
            "reasoning_effort",
        ),
        (
            json!({"model": "groq/llama-3.1-8b-instant", "reasoning_effort": "low", "messages": user("Hi")}),
            "reasoning_effort",
        ),
    ] {
        let response = app.chat(&request).await;
        assert_eq!(response.status(), 400, "{request}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unsupported_parameter", "{error}");
        assert_eq!(error["error"]["param"], param);
    }
    assert_eq!(
        app.fake("openai").calls().len(),
        1,
        "refused before any call"
    );

    // `auto` passes over the models that refuse the request and finds one that takes it.
    let response = app
        .chat(&json!({
            "model": "auto",
            "reasoning_effort": "low",
            "x-routing-hints": {"priority": "quality"},
            "messages": user("Prove that there are infinitely many primes."),
        }))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let receipt = &body["x-llm-gateway"];
    let passed_over = receipt["fallback"]["attempts"].as_array().unwrap();
    assert!(!passed_over.is_empty(), "{receipt}");
    for attempt in passed_over {
        assert_eq!(attempt["error"], "unsupported_parameter", "{attempt}");
    }
    assert_ne!(receipt["model"], receipt["routing"]["winner"]);
    assert_eq!(body["choices"][0]["finish_reason"], "stop", "{body}");
}
