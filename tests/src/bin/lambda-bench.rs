//! `lambda-bench`: what each Lambda function costs at cold start, measured on the packages
//! `cargo lambda build --release` makes.
//!
//! For every function: the size of its `bootstrap`; init time, from process start until the
//! function first asks the Runtime API for an event (the stand-in of `gateway_tests::runtime_api`
//! records the moment), over several cold starts; the first invocation's time with a small
//! event; and the process's peak resident memory (VmHWM) after it.
//!
//! Locally the functions use an SQLite store in a temporary folder: in AWS, init also creates
//! the DynamoDB client (no request is made before the first invocation, except the
//! configured-organisation check of the store-backed functions), which this does not measure.
//!
//! Run it with `tests/lambda-bench.sh`, which builds the packages first.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use gateway_tests::lambda_process::LambdaProcess;
use gateway_tests::runtime_api::{FakeRuntimeApi, Outcome};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Measures init time, binary size and peak memory of each Lambda function.")]
struct Args {
    /// Where `cargo lambda build` put the packages (`<dir>/<function>/bootstrap`).
    #[arg(long)]
    lambda_dir: PathBuf,
    /// The event fixtures.
    #[arg(long, default_value = "events")]
    events_dir: PathBuf,
    /// Cold starts per function.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Functions to measure (default: every package found).
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
}

/// Every function with the event its first invocation gets (a file of `events/` or inline).
/// Adding a function is one entry here.
const FUNCTIONS: &[(&str, &str)] = &[
    ("completions", "health"),
    ("admin", "health"),
    ("dashboard", "function-url-dashboard.json"),
    ("recommendations", "recommendations-schedule.json"),
    ("spend-alerts", "{}"),
];

struct Measurement {
    init: Duration,
    first_invocation: Duration,
    peak_rss_kib: Option<u64>,
}

fn event_for(args: &Args, spec: &str) -> anyhow::Result<Value> {
    if spec == "health" {
        // A Function URL GET /health, from the dashboard's request.
        let mut event = event_for(args, "function-url-dashboard.json")?;
        event["rawPath"] = json!("/health");
        event["requestContext"]["http"]["path"] = json!("/health");
        return Ok(event);
    }
    if spec.ends_with(".json") {
        let path = args.events_dir.join(spec);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Ok(serde_json::from_str(&text)?);
    }
    Ok(serde_json::from_str(spec)?)
}

async fn cold_start(
    binary: &std::path::Path,
    event: &Value,
    data_dir: &std::path::Path,
) -> anyhow::Result<Measurement> {
    let api = FakeRuntimeApi::start().await?;
    let env = vec![
        (
            "LLM_GATEWAY_DATA_DIR".to_owned(),
            data_dir.display().to_string(),
        ),
        (
            "LLM_GATEWAY_REPORTS_DIR".to_owned(),
            data_dir.join("reports").display().to_string(),
        ),
        ("OPENAI_API_KEY".to_owned(), "sk-bench".to_owned()),
        (
            "OPENAI_BASE_URL".to_owned(),
            "http://127.0.0.1:9/v1".to_owned(),
        ),
    ];
    let mut process = LambdaProcess::spawn(binary, &api.authority(), 512, &env)?;
    let Some(ready) = api.wait_ready(Duration::from_secs(30)).await else {
        let _ = process.child.kill().await;
        bail!(
            "{} never asked for an event:\n{}",
            binary.display(),
            process.output()
        );
    };
    let init = ready - process.started;
    let sent = Instant::now();
    let id = api.enqueue(event.clone());
    let outcome = api.outcome(&id, Duration::from_secs(30)).await;
    let first_invocation = sent.elapsed();
    let peak_rss_kib = process.peak_rss_kib();
    let _ = process.child.kill().await;
    match outcome {
        Some(Outcome::Response(_)) => {}
        Some(Outcome::Error { body, .. }) => {
            bail!("{} answered an error: {body}", binary.display())
        }
        None => bail!("{} did not answer:\n{}", binary.display(), process.output()),
    }
    if !api.violations().is_empty() {
        bail!("Runtime API violations: {:?}", api.violations());
    }
    Ok(Measurement {
        init,
        first_invocation,
        peak_rss_kib,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data_dir = std::env::temp_dir().join(format!("lambda-bench-{}", std::process::id()));
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>9} {:>11} {:>9}",
        "function", "size MB", "init p50", "init min", "init max", "1st call ms", "RSS MB"
    );
    for (name, event) in FUNCTIONS {
        if !args.functions.is_empty() && !args.functions.iter().any(|f| f == name) {
            continue;
        }
        let binary = args.lambda_dir.join(name).join("bootstrap");
        if !binary.is_file() {
            println!("{name:<16} (no package at {})", binary.display());
            continue;
        }
        let size = std::fs::metadata(&binary)?.len() as f64 / 1_048_576.0;
        let event = event_for(&args, event)?;
        let mut runs = Vec::new();
        for _ in 0..args.runs.max(1) {
            let _ = std::fs::remove_dir_all(&data_dir);
            std::fs::create_dir_all(&data_dir)?;
            runs.push(cold_start(&binary, &event, &data_dir).await?);
        }
        let mut inits: Vec<f64> = runs.iter().map(|r| ms(r.init)).collect();
        inits.sort_by(f64::total_cmp);
        let first = runs.iter().map(|r| ms(r.first_invocation)).sum::<f64>() / runs.len() as f64;
        let rss = runs
            .iter()
            .filter_map(|r| r.peak_rss_kib)
            .max()
            .unwrap_or(0) as f64
            / 1024.0;
        println!(
            "{name:<16} {size:>9.1} {:>9.1} {:>9.1} {:>9.1} {first:>11.1} {rss:>9.1}",
            inits[inits.len() / 2],
            inits[0],
            inits[inits.len() - 1],
        );
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    println!(
        "\ninit: process start to the first /next call (ms, {} cold starts each); 1st call: the \
         first invocation's round trip (ms, mean); RSS: peak resident memory after it.",
        args.runs
    );
    Ok(())
}
