//! `routing_bench`: how long the routing decision takes, per request, on this machine.
//!
//! Builds a router over every built-in provider's catalog models, then times the whole
//! decision the request path makes before calling a provider: for `auto`, the request's
//! analysis (prompt tokens, estimated for long prompts and counted exactly near a context
//! window; difficulty) plus filtering, scoring and ranking every candidate and planning
//! fallbacks; for a named model, the lookup and its fallbacks. Prints percentiles per prompt
//! size and kind (prose, code, CJK; short, 8 KB, 100 KB, 1 MB, near gpt-4o's context window),
//! whether the tokens were counted exactly, and the estimate's error; wall-clock percentiles,
//! then CPU-time ones (the decision's own work, without waiting for a core on a busy machine).
//! The tokenizer's tables, built once per process, are timed apart. No network and no
//! embedding are involved.
//!
//! Given RouteLLM's data folder (`../shared/data/routellm`), it also times a realistic mix:
//! every labelled MMLU and GSM8K prompt once, as a one-message `auto` request, and chat
//! histories built from those prompts up to the large context windows (8k to 400k tokens).
//!
//! `cargo run --release -p gateway-core --example routing_bench [-- ITERATIONS [ROUTELLM_DIR]]`

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;

use gateway_core::catalog::Catalog;
use gateway_core::config::ResolvedProvider;
use gateway_core::health::{BreakerSettings, InMemoryHealth, SystemClock};
use gateway_core::providers::{BUILT_IN_PROVIDERS, Dialect};
use gateway_core::routing::{
    AutoInputs, ModelRouter, PriorQualityPredictor, RoutingHints, RoutingPreferences, analyse,
};
use gateway_core::wire::{ChatRequest, parse_json_body};

/// About how long each case may take, so that slow cases run fewer times.
const BUDGET_PER_CASE: Duration = Duration::from_secs(2);
/// Turns of the growing conversation, at most.
const TURNS: usize = 300;

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
    println!("routing decision, up to {iterations} requests per case, {chat_models} chat models");

    // The tokenizer's tables are built once per process, by the first `auto` request (off the
    // async runtime in the gateway); they are timed here, apart from the decisions.
    let started = Instant::now();
    gateway_core::tokens::count_text("");
    println!(
        "tokenizer tables built in {:.0} ms, once per process (not in the figures below)",
        started.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "{:<36} {:>8} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "case",
        "tokens",
        "exact",
        "error",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "max µs",
        "cpu p50",
        "cpu p99"
    );

    let windows = router.context_windows();
    let decide = |request: &ChatRequest| {
        let analysis = analyse(request, windows);
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
    let sentence = "Explain how a circuit breaker protects a service from a failing dependency. ";
    let prose = include_str!("../../../README.md");
    let code = [
        include_str!("../src/routing/auto.rs"),
        include_str!("../src/routing/mod.rs"),
        include_str!("../src/routing/preferences.rs"),
        include_str!("../src/wire/chat.rs"),
        include_str!("../src/catalog.rs"),
        include_str!("../src/config.rs"),
    ]
    .concat();
    let cjk = cjk_text();
    // gpt-4o's window (128,000 tokens) less room for the answer: within the estimate's margin,
    // so these are counted exactly.
    let under = sized(prose, 127_000);
    let over = sized(prose, 128_200);
    let cases = [
        ("auto, greeting", request("auto", "Hello, world!", "")),
        (
            "auto, 100-word question",
            request("auto", &sentence.repeat(8), ""),
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
            "auto, 8 KB prose",
            request("auto", cut(prose, 8 * 1024), ""),
        ),
        ("auto, 8 KB code", request("auto", cut(&code, 8 * 1024), "")),
        ("auto, 8 KB CJK", request("auto", cut(&cjk, 8 * 1024), "")),
        (
            "auto, 100 KB prose",
            request("auto", cut(&prose.repeat(2), 100 * 1024), ""),
        ),
        (
            "auto, 100 KB code",
            request("auto", cut(&code, 100 * 1024), ""),
        ),
        (
            "auto, 100 KB CJK",
            request("auto", cut(&cjk, 100 * 1024), ""),
        ),
        (
            "auto, 2 MB prose",
            request("auto", cut(&shuffled(prose, 28), 2 * 1024 * 1024), ""),
        ),
        (
            "auto, just under gpt-4o's window",
            request("auto", &under, ""),
        ),
        (
            "auto, just over gpt-4o's window",
            request("auto", &over, ""),
        ),
    ];
    for (name, request) in &cases {
        let request = request.as_ref().map_err(|e| e.to_string())?;
        let analysis = analyse(request, windows);
        let exact = gateway_core::tokens::count_prompt(&request.messages);
        let error = (analysis.prompt_tokens as f64 - exact as f64) / exact as f64 * 100.0;
        // Every decision here sees its prompt for the first time: no count is remembered.
        let timings = time(iterations, || {
            gateway_core::tokens::forget_remembered_counts();
            decide(request)
        })?;
        report(
            name,
            analysis.prompt_tokens,
            Some((analysis.prompt_tokens_exact, error)),
            &timings,
        );
    }
    let direct = request("openai/gpt-4o", &sentence.repeat(8), "").map_err(|e| e.to_string())?;
    let timings = time(iterations, || {
        router
            .plan_direct(&direct, None, &preferences)
            .map(|p| p.attempts.len())
    })?;
    report(
        "named model (no analysis)",
        analyse(&direct, windows).prompt_tokens,
        None,
        &timings,
    );

    let Some(dir) = data_dir else {
        return Ok(());
    };
    let prompts = labelled_prompts(&dir)?;
    println!();
    println!(
        "realistic mix: {} labelled prompts (MMLU, GSM8K), once each",
        prompts.len()
    );
    let mut all = Timings::default();
    let mut timings = Timings::default();
    let mut tokens = 0;
    for prompt in &prompts {
        let request = request("auto", prompt, "").map_err(|e| e.to_string())?;
        tokens = tokens.max(analyse(&request, windows).prompt_tokens);
        timings.record(|| decide(&request))?;
    }
    report("auto, labelled prompts", tokens, None, &timings);
    all.extend(&timings);
    for target in [8_000, 32_000, 128_000, 400_000] {
        let history = history(&prompts, target).map_err(|e| e.to_string())?;
        let analysis = analyse(&history, windows);
        let exact = gateway_core::tokens::count_prompt(&history.messages);
        let error = (analysis.prompt_tokens as f64 - exact as f64) / exact as f64 * 100.0;
        let timings = time(iterations, || decide(&history))?;
        report(
            &format!("auto, chat history ~{}k", target / 1000),
            analysis.prompt_tokens,
            Some((analysis.prompt_tokens_exact, error)),
            &timings,
        );
        all.extend(&timings);
    }
    // A chat client resending its conversation, at gpt-4o's window, with a new question each
    // time: the earlier turns' counts are remembered, the first decision counts them all.
    gateway_core::tokens::forget_remembered_counts();
    let turns = next_turns(&prompts, 126_000, iterations.min(TURNS))?;
    let mut turn = turns.iter();
    let mut timings = Timings::default();
    let analysis = analyse(&turns[0], windows);
    for _ in 0..turns.len() {
        let request = turn.next().ok_or("no turn left")?;
        timings.record(|| decide(request))?;
    }
    report(
        "auto, history at the window, new turn",
        analysis.prompt_tokens,
        Some((analysis.prompt_tokens_exact, 0.0)),
        &timings,
    );
    all.extend(&timings);
    report("auto, whole mix", 0, None, &all);
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

/// Turns of a conversation sent whole each time: one history of about `target_tokens`, then a
/// different last question in each of `count` requests.
fn next_turns(
    prompts: &[String],
    target_tokens: usize,
    count: usize,
) -> Result<Vec<ChatRequest>, Box<dyn Error>> {
    let base = history(prompts, target_tokens).map_err(|e| e.to_string())?;
    let base = serde_json::to_value(&base.messages)?;
    let base = base.as_array().ok_or("messages are not an array")?;
    (0..count)
        .map(|i| {
            let mut messages = base.clone();
            messages.push(serde_json::json!({
                "role": "user",
                "content": format!("Question {i}: which of the answers above is the weakest, and why?"),
            }));
            let body = serde_json::json!({"model": "auto", "messages": messages}).to_string();
            parse_json_body(body.as_bytes()).map_err(|e| e.to_string().into())
        })
        .collect()
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

/// Wall-clock and CPU times of decisions. On a machine shared with other work the wall-clock
/// time includes waiting for a core; the CPU time is the decision's own.
#[derive(Default)]
struct Timings {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Timings {
    fn record<T, E: std::fmt::Display>(
        &mut self,
        decide: impl FnOnce() -> Result<T, E>,
    ) -> Result<(), Box<dyn Error>> {
        let cpu = ThreadTime::try_now()?;
        let wall = Instant::now();
        let outcome = decide().map_err(|e| e.to_string())?;
        self.wall.push(wall.elapsed());
        self.cpu.push(cpu.try_elapsed()?);
        std::hint::black_box(outcome);
        Ok(())
    }

    fn extend(&mut self, other: &Timings) {
        self.wall.extend_from_slice(&other.wall);
        self.cpu.extend_from_slice(&other.cpu);
    }
}

/// Times `decide` up to `iterations` times after a warm-up, fewer when one decision is slow
/// (about two seconds a case).
fn time<T, E: std::fmt::Display>(
    iterations: usize,
    mut decide: impl FnMut() -> Result<T, E>,
) -> Result<Timings, Box<dyn Error>> {
    let started = Instant::now();
    std::hint::black_box(decide().map_err(|e| e.to_string())?);
    let one = started.elapsed().max(Duration::from_nanos(1));
    let iterations =
        iterations.min((BUDGET_PER_CASE.as_nanos() / one.as_nanos()).max(100) as usize);
    for _ in 0..iterations.div_ceil(10) {
        std::hint::black_box(decide().map_err(|e| e.to_string())?);
    }
    let mut timings = Timings::default();
    for _ in 0..iterations {
        timings.record(&mut decide)?;
    }
    Ok(timings)
}

/// One line of figures; `counted` is whether the tokens were counted exactly and the
/// estimate's error in percent.
fn report(name: &str, tokens: u64, counted: Option<(bool, f64)>, timings: &Timings) {
    let sorted = |times: &[Duration]| {
        let mut times = times.to_vec();
        times.sort_unstable();
        times
    };
    let (wall, cpu) = (sorted(&timings.wall), sorted(&timings.cpu));
    let at = |sorted: &[Duration], p: f64| {
        let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1e6
    };
    let (exact, error) = match counted {
        Some((true, _)) => ("yes".to_owned(), "0".to_owned()),
        Some((false, error)) => ("no".to_owned(), format!("{error:+.1}%")),
        None => (String::new(), String::new()),
    };
    println!(
        "{name:<36} {tokens:>8} {exact:>6} {error:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        at(&wall, 0.50),
        at(&wall, 0.90),
        at(&wall, 0.99),
        at(&wall, 1.0),
        at(&cpu, 0.50),
        at(&cpu, 0.99),
    );
}

/// The first `bytes` of `text` at most, cut at a character boundary.
fn cut(text: &str, bytes: usize) -> &str {
    let mut end = bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` repeated and cut to about `tokens` tokens of o200k_base.
fn sized(text: &str, tokens: u64) -> String {
    let per_copy = gateway_core::tokens::count_text(text);
    let mut out = text.repeat((tokens / per_copy + 1) as usize);
    let mut len = out.len();
    // Halve towards the size: counting is exact, the cut lands within a few tokens.
    let (mut low, mut high) = (0, len);
    while high - low > 64 {
        len = (low + high) / 2;
        if gateway_core::tokens::count_text(cut(&out, len)) < tokens {
            low = len;
        } else {
            high = len;
        }
    }
    out.truncate(cut(&out, low).len());
    out
}

/// `copies` of `text` with its paragraphs in a different order each time, so that a long
/// prompt made of it does not repeat with a period its sampling could fall in step with.
fn shuffled(text: &str, copies: usize) -> String {
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = String::new();
    for _ in 0..copies {
        let mut order: Vec<usize> = (0..paragraphs.len()).collect();
        for i in (1..order.len()).rev() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, (state >> 33) as usize % (i + 1));
        }
        for i in order {
            out.push_str(paragraphs[i]);
            out.push_str("\n\n");
        }
    }
    out
}

/// Chinese prose with punctuation, about 300 KB.
fn cjk_text() -> String {
    let sentences = [
        "网关在应用程序和多个大语言模型提供商之间转发请求，",
        "并根据成本、延迟和质量自动选择最合适的模型。",
        "当某个提供商连续失败时，断路器会暂时停止向它发送请求，",
        "直到探测请求成功为止。",
        "每个响应都附带一张收据，说明选择了哪个模型、为什么选择它以及花费了多少。",
        "组织可以设置预算上限，超出预算的请求会被拒绝并返回清晰的错误信息。",
        "长对话的上下文窗口有限，因此路由时必须准确判断提示是否放得下。",
    ];
    (0..4000)
        .map(|i| sentences[(i * 5 + i / 7) % sentences.len()])
        .collect()
}
