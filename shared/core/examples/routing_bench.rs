//! `routing_bench`: how long the routing decision takes, per request, on this machine.
//!
//! Builds a router over every built-in provider's catalog models, then times the whole
//! decision the request path makes before calling a provider: for `auto`, the request's
//! analysis (tokens counted with the real tokenizer, difficulty) plus filtering, scoring and
//! ranking every candidate and planning fallbacks; for a named model, the lookup and its
//! fallbacks. Prints percentiles per prompt size. No network and no embedding are involved.
//!
//! Given RouteLLM's data folder (`../shared/data/routellm`), it also times a realistic mix:
//! every labelled MMLU and GSM8K prompt once, as a one-message `auto` request, and chat
//! histories built from those prompts up to the large context windows (8k to 400k tokens).
//!
//! `cargo run --release -p gateway-core --example routing_bench [-- ITERATIONS [ROUTELLM_DIR]]`

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_core::catalog::Catalog;
use gateway_core::config::ResolvedProvider;
use gateway_core::health::{BreakerSettings, InMemoryHealth, SystemClock};
use gateway_core::providers::{BUILT_IN_PROVIDERS, Dialect};
use gateway_core::routing::{
    AutoInputs, ModelRouter, PriorQualityPredictor, RoutingHints, RoutingPreferences, analyse,
};
use gateway_core::wire::{ChatRequest, parse_json_body};

fn main() -> Result<(), Box<dyn Error>> {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20_000);
    let data_dir = std::env::args().nth(2).map(std::path::PathBuf::from);
    let mut providers: Vec<ResolvedProvider> = BUILT_IN_PROVIDERS
        .iter()
        .map(|p| provider(p.id, p.dialect))
        .collect();
    providers.push(provider("bedrock", Dialect::Bedrock));
    let catalog = Catalog::built_in()?;
    let router = ModelRouter::new(&catalog, &providers, Some("openai/gpt-4o"))?;
    let preferences = RoutingPreferences {
        fallback_chain: vec!["anthropic/claude-haiku-4-5".into()],
        ..RoutingPreferences::default()
    };
    let health = InMemoryHealth::new(BreakerSettings::default(), Arc::new(SystemClock::default()));
    let hints = RoutingHints {
        min_quality_score: Some(0.7),
        exclude_providers: vec!["cohere".into()],
        ..RoutingHints::default()
    };
    let chat_models = router
        .models()
        .iter()
        .filter(|m| m.kind == gateway_core::catalog::ModelKind::Chat)
        .count();
    println!("routing decision, {iterations} requests per case, {chat_models} chat models");
    println!(
        "{:<34} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "case", "tokens", "p50 µs", "p90 µs", "p99 µs", "max µs"
    );

    // The tokenizer's tables are built once per process, before the first request is timed.
    gateway_core::tokens::count_text("");

    let sentence = "Explain how a circuit breaker protects a service from a failing dependency. ";
    let cases = [
        ("auto, greeting", request("auto", "Hello, world!", "")),
        (
            "auto, 100-word question",
            request("auto", &sentence.repeat(8), ""),
        ),
        (
            "auto, 1,000-word document",
            request("auto", &sentence.repeat(80), ""),
        ),
        (
            "auto, streaming with tools",
            request(
                "auto",
                &sentence.repeat(8),
                r#","stream":true,"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]"#,
            ),
        ),
        (
            "auto, 5,000-word document",
            request("auto", &sentence.repeat(400), ""),
        ),
    ];
    for (name, request) in &cases {
        let request = request.as_ref().map_err(|e| e.to_string())?;
        let tokens = analyse(request).prompt_tokens;
        let timings = time(iterations, || {
            let analysis = analyse(request);
            let inputs = AutoInputs {
                analysis: &analysis,
                hints: &hints,
                preferences: &preferences,
                health: &health,
                predictor: &PriorQualityPredictor,
                affordable: None,
            };
            router.plan_auto(&inputs, None).map(|p| p.attempts.len())
        })?;
        report(name, tokens, &timings);
    }
    let direct = request("openai/gpt-4o", &sentence.repeat(8), "").map_err(|e| e.to_string())?;
    let timings = time(iterations, || {
        router
            .plan_direct(&direct, None, &preferences)
            .map(|p| p.attempts.len())
    })?;
    report(
        "named model (no analysis)",
        analyse(&direct).prompt_tokens,
        &timings,
    );

    let Some(dir) = data_dir else {
        return Ok(());
    };
    let prompts = labelled_prompts(&dir)?;
    let decide = |request: &ChatRequest| {
        let analysis = analyse(request);
        let inputs = AutoInputs {
            analysis: &analysis,
            hints: &hints,
            preferences: &preferences,
            health: &health,
            predictor: &PriorQualityPredictor,
            affordable: None,
        };
        router.plan_auto(&inputs, None).map(|p| p.attempts.len())
    };
    println!();
    println!(
        "realistic mix: {} labelled prompts (MMLU, GSM8K), once each",
        prompts.len()
    );
    let mut all = Vec::new();
    let mut timings = Vec::with_capacity(prompts.len());
    let mut tokens = 0;
    for prompt in &prompts {
        let request = request("auto", prompt, "").map_err(|e| e.to_string())?;
        tokens = tokens.max(analyse(&request).prompt_tokens);
        timings.extend(time(1, || decide(&request))?);
    }
    timings.sort_unstable();
    report("auto, labelled prompts", tokens, &timings);
    all.extend_from_slice(&timings);
    for target in [8_000, 32_000, 128_000, 400_000] {
        let history = history(&prompts, target).map_err(|e| e.to_string())?;
        let tokens = analyse(&history).prompt_tokens;
        let runs = (iterations / 100).max(20);
        let timings = time(runs, || decide(&history))?;
        report(
            &format!("auto, chat history ~{}k", target / 1000),
            tokens,
            &timings,
        );
        all.extend_from_slice(&timings);
    }
    all.sort_unstable();
    report("auto, whole mix", 0, &all);
    Ok(())
}

/// The `prompt` column of every CSV under `dir` (MMLU's subject files, GSM8K's answers).
fn labelled_prompts(dir: &std::path::Path) -> Result<Vec<String>, Box<dyn Error>> {
    let mut files = Vec::new();
    for sub in ["mmlu", "gsm8k"] {
        for entry in std::fs::read_dir(dir.join(sub))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "csv") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut prompts = Vec::new();
    for file in files {
        let mut reader = csv::Reader::from_path(&file)?;
        let column = reader
            .headers()?
            .iter()
            .position(|h| h == "prompt")
            .ok_or_else(|| format!("{} has no prompt column", file.display()))?;
        for record in reader.records() {
            if let Some(prompt) = record?.get(column) {
                prompts.push(prompt.to_owned());
            }
        }
    }
    Ok(prompts)
}

/// A conversation of alternating user and assistant turns taken from `prompts`, about
/// `target_tokens` long (four characters a token), ending with a user turn.
fn history(
    prompts: &[String],
    target_tokens: usize,
) -> Result<ChatRequest, gateway_core::ApiError> {
    let mut messages = Vec::new();
    let mut chars = 0;
    for (i, prompt) in prompts.iter().cycle().enumerate() {
        if chars >= target_tokens * 4 && i % 2 == 0 {
            break;
        }
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        messages.push(serde_json::json!({"role": role, "content": prompt}));
        chars += prompt.len();
    }
    let body = serde_json::json!({"model": "auto", "messages": messages}).to_string();
    parse_json_body(body.as_bytes())
}

fn provider(id: &str, dialect: Dialect) -> ResolvedProvider {
    ResolvedProvider {
        id: id.to_owned(),
        dialect,
        base_url: "http://127.0.0.1:1".to_owned(),
        api_key: None,
        models: Vec::new(),
        embedding_models: Vec::new(),
        aws: None,
    }
}

fn request(model: &str, text: &str, extra: &str) -> Result<ChatRequest, gateway_core::ApiError> {
    let body = serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
        .to_string();
    let body = format!("{}{extra}}}", &body[..body.len() - 1]);
    parse_json_body(body.as_bytes())
}

fn time<T, E: std::fmt::Display>(
    iterations: usize,
    mut decide: impl FnMut() -> Result<T, E>,
) -> Result<Vec<Duration>, Box<dyn Error>> {
    let mut timings = Vec::with_capacity(iterations);
    for _ in 0..iterations.div_ceil(10) {
        std::hint::black_box(decide().map_err(|e| e.to_string())?);
    }
    for _ in 0..iterations {
        let started = Instant::now();
        let outcome = decide().map_err(|e| e.to_string())?;
        timings.push(started.elapsed());
        std::hint::black_box(outcome);
    }
    timings.sort_unstable();
    Ok(timings)
}

fn report(name: &str, tokens: u64, sorted: &[Duration]) {
    let at = |p: f64| {
        let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1e6
    };
    println!(
        "{name:<34} {tokens:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        at(0.50),
        at(0.90),
        at(0.99),
        at(1.0)
    );
}
