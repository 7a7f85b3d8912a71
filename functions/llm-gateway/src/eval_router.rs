//! `llm-gateway eval-router`: trains the quality predictor on a labelled dataset and reports
//! how well it routes between a strong and a weak model on the held-out test split.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use gateway_quality::embedding_cache::{self, Source};
use gateway_quality::evaluation;
use gateway_quality::prompt_features::PromptFeatures;
use gateway_quality::split::{DEFAULT_SEED, ROTATIONS};
use gateway_quality::{Embedder, dataset};

#[derive(clap::Args)]
#[command(
    about = "Train the quality predictor on labelled prompts and report APGR, CPT(50%) and CPT(80%) on a held-out split",
    long_about = "Train the quality predictor on labelled prompts and measure it as a router between two \
        models.\n\nThe rows are split by a seeded hash of each prompt into train (60%), validation (20%) \
        and test (20%). The predictor's settings (L2 weight; the embedding alone or followed by \
        arithmetic features of the prompt, and their weight) are chosen by cross-validation over \
        train + validation (5-fold passes until 5,000 held-out predictions back each setting), the \
        predictor is refitted on train + validation, and every figure printed is measured on test \
        only. The learned router calls the strong model when P(strong answers well) - P(weak answers \
        well) exceeds a threshold; sweeping the threshold gives the PGR curve, its area (APGR) and \
        the least share of strong calls that recovers 50% and 80% of the gap (CPT). Random, \
        always-weak, always-strong and oracle routing are shown on the same rows.\n\nA test fifth of a \
        small dataset is a noisy judge. --rotations 5 repeats the whole evaluation (settings chosen \
        again by cross-validation, predictor refitted) with the split turned a fifth at a time, so \
        every prompt is tested once, by a predictor that never saw it, and reports each rotation \
        and their mean. --out and --min-apgr always use the split as --seed cuts it (rotation 0).",
    after_help = "Dataset formats (README, \"Router evaluation\"):\n  \
        a .jsonl file of {\"prompt\": ..., \"scores\": {\"model\": 0..1, ...}}\n  \
        a .csv file with a `prompt` column and one column per model (0..1 or True/False)\n  \
        a directory of such .csv files (RouteLLM's mmlu/ folder)\n  \
        contaminated_prompts.jsonl beside the data: its `eval_prompt`s are dropped.\n\n\
        Example:\n  \
        llm-gateway eval-router --dataset ../shared/data/routellm/gsm8k/gsm8k_responses.csv \\\n      \
        --model-dir all-MiniLM-L6-v2/ --out gsm8k-predictor.json --min-apgr 0.622"
)]
pub struct EvalRouterArgs {
    /// Labelled dataset: a .jsonl or .csv file, or a directory of .csv files.
    #[arg(long)]
    dataset: PathBuf,
    /// Directory holding the embedding model: config.json, tokenizer.json, model.safetensors.
    #[arg(long)]
    model_dir: PathBuf,
    /// The strong (expensive) model: a model column of the dataset.
    #[arg(long, default_value = "gpt-4-1106-preview")]
    strong: String,
    /// The weak (cheap) model: a model column of the dataset.
    #[arg(long, default_value = "mistralai/Mixtral-8x7B-Instruct-v0.1")]
    weak: String,
    /// Seed of the train/validation/test split.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Keep the dataset's embeddings here (keyed by model and data) so reruns skip embedding.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Write the trained predictor (train + validation rows) to this JSON file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit with an error unless the learned router's test APGR on the split of --seed
    /// (rotation 0) is above this value.
    #[arg(long)]
    min_apgr: Option<f64>,
    /// Evaluate this many rotations of the split (1 to 5): each tests another fifth of the
    /// data; with 5, every prompt is tested once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=ROTATIONS as i64))]
    rotations: u8,
}

pub fn run(args: EvalRouterArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let set = dataset::load(&args.dataset)
        .with_context(|| format!("reading {}", args.dataset.display()))?;
    println!(
        "dataset {}: {} prompts, models {:?} ({} contaminated prompts dropped)",
        args.dataset.display(),
        set.rows.len(),
        set.models,
        set.contaminated_dropped
    );
    let embedder = Embedder::load(&args.model_dir)
        .with_context(|| format!("loading the model in {}", args.model_dir.display()))?;
    let prompts: Vec<&str> = set.rows.iter().map(|r| r.prompt.as_str()).collect();
    let t = Instant::now();
    let (embeddings, source) =
        embedding_cache::embed_all(&embedder, &prompts, args.cache_dir.as_deref())?;
    let embed_secs = t.elapsed().as_secs_f64();
    match source {
        Source::Computed => println!(
            "embedded {} prompts in {embed_secs:.1} s ({:.1} ms per prompt)",
            prompts.len(),
            embed_secs * 1000.0 / prompts.len() as f64
        ),
        Source::Cache => println!(
            "read {} embeddings from the cache in {embed_secs:.2} s",
            prompts.len()
        ),
    }

    let t = Instant::now();
    let result = evaluation::evaluate(
        &set,
        &embeddings,
        embedder.fingerprint(),
        (&args.strong, &args.weak),
        args.seed,
        0,
    )?;
    println!(
        "trained and evaluated in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    println!(
        "split (seed {}): train {}, validation {}, test {}",
        args.seed, result.train_rows, result.validation_rows, result.test_rows
    );
    println!(
        "cross-validation over train + validation: {} folds ({}-fold passes); mean held-out APGR by L2 weight:",
        result.folds_run,
        evaluation::FOLDS
    );
    for (features, weight) in evaluation::FEATURE_GRID {
        let tried: Vec<String> = result
            .tried
            .iter()
            .filter(|t| t.settings.features == features && t.settings.feature_weight == weight)
            .map(|t| format!("{}: {:.3}", t.settings.l2, t.apgr))
            .collect();
        println!("  {}: {{{}}}", describe(features, weight), tried.join(", "));
    }
    println!(
        "chosen: L2 {}, {}",
        result.chosen.l2,
        describe(result.chosen.features, result.chosen.feature_weight)
    );
    println!(
        "test: weak {} scores {:.3}, strong {} scores {:.3}",
        args.weak, result.weak_mean, args.strong, result.strong_mean
    );
    println!();
    println!("| router | APGR | CPT(50%) | CPT(80%) |");
    println!("|---|---|---|---|");
    for row in &result.table {
        println!(
            "| {} | {} | {} | {} |",
            row.router,
            area(row.apgr),
            percent(row.cpt50),
            percent(row.cpt80)
        );
    }
    println!();

    if args.rotations > 1 {
        report_rotations(&args, &set, &embeddings, embedder.fingerprint(), &result)?;
    }

    let sample = &prompts[..prompts.len().min(200)];
    let t = Instant::now();
    for (prompt, embedding) in sample.iter().zip(&embeddings) {
        result.predictor.predict_prompt(prompt, embedding)?;
    }
    let predict_us = t.elapsed().as_secs_f64() * 1e6 / sample.len() as f64;
    let sample = &sample[..sample.len().min(50)];
    let t = Instant::now();
    for prompt in sample {
        result
            .predictor
            .predict_prompt(prompt, &embedder.embed(prompt)?)?;
    }
    let with_embedding_ms = t.elapsed().as_secs_f64() * 1e3 / sample.len() as f64;
    println!(
        "prediction per prompt: {predict_us:.1} µs from an embedding, {with_embedding_ms:.1} ms with embedding (one thread)"
    );

    if let Some(out) = &args.out {
        result
            .predictor
            .save(out)
            .with_context(|| format!("writing {}", out.display()))?;
        let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or_default();
        println!("predictor written to {} ({bytes} bytes)", out.display());
    }
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    if let Some(min) = args.min_apgr {
        let apgr = result.learned_apgr().unwrap_or(f64::NAN);
        if apgr.is_nan() || apgr <= min {
            bail!("learned router APGR {apgr:.3} is not above {min}");
        }
        println!("learned router APGR {apgr:.3} is above {min}");
    }
    Ok(())
}

/// Evaluates rotations 1.. of the split and prints each beside rotation 0 (`first`),
/// then their mean.
fn report_rotations(
    args: &EvalRouterArgs,
    set: &dataset::LabelledSet,
    embeddings: &[Vec<f32>],
    fingerprint: &str,
    first: &evaluation::Evaluation,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut rotated = Vec::with_capacity(usize::from(args.rotations) - 1);
    for rotation in 1..usize::from(args.rotations) {
        rotated.push(evaluation::evaluate(
            set,
            embeddings,
            fingerprint,
            (&args.strong, &args.weak),
            args.seed,
            rotation,
        )?);
    }
    println!(
        "rotations of the split (each tests another fifth; settings chosen and the predictor fitted \
         again each time), {:.1} s:",
        t.elapsed().as_secs_f64()
    );
    println!(
        "| rotation | test rows | chosen | weak / strong scores | APGR | CPT(50%) | CPT(80%) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let all: Vec<&evaluation::Evaluation> = std::iter::once(first).chain(&rotated).collect();
    let learned: Vec<&evaluation::RouterRow> = all.iter().map(|e| &e.table[0]).collect();
    for (rotation, (e, row)) in all.iter().zip(&learned).enumerate() {
        println!(
            "| {}{} | {} | L2 {}, {} | {:.3} / {:.3} | {} | {} | {} |",
            rotation,
            if rotation == 0 && args.seed == DEFAULT_SEED {
                " (documented)"
            } else {
                ""
            },
            e.test_rows,
            e.chosen.l2,
            describe(e.chosen.features, e.chosen.feature_weight),
            e.weak_mean,
            e.strong_mean,
            area(row.apgr),
            percent(row.cpt50),
            percent(row.cpt80)
        );
    }
    // A mean only when every rotation has the value.
    let mean = |value: fn(&evaluation::RouterRow) -> Option<f64>| {
        let values: Option<Vec<f64>> = learned.iter().map(|row| value(row)).collect();
        values.map(|v| v.iter().sum::<f64>() / v.len() as f64)
    };
    let (low, high) = learned
        .iter()
        .filter_map(|row| row.apgr)
        .fold((f64::MAX, f64::MIN), |(l, h), a| (l.min(a), h.max(a)));
    println!(
        "mean over {} rotations ({} test rows): APGR {} (lowest {low:.3}, highest {high:.3}), CPT(50%) {}, CPT(80%) {}",
        all.len(),
        all.iter().map(|e| e.test_rows).sum::<usize>(),
        area(mean(|row| row.apgr)),
        percent(mean(|row| row.cpt50)),
        percent(mean(|row| row.cpt80))
    );
    println!();
    Ok(())
}

/// An APGR to three places; `None` (a router with no curve) is a dash.
fn area(apgr: Option<f64>) -> String {
    apgr.map_or_else(|| "-".to_string(), |a| format!("{a:.3}"))
}

/// A share as a percentage; `None` is a level never reached.
fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "never".to_string(), |v| format!("{:.1}%", v * 100.0))
}

fn describe(features: PromptFeatures, weight: f64) -> String {
    match features {
        PromptFeatures::None => "embedding only".to_string(),
        PromptFeatures::Counts => {
            format!("embedding + length and count features (weight {weight})")
        }
        PromptFeatures::Arithmetic => {
            format!("embedding + arithmetic features (weight {weight})")
        }
    }
}
