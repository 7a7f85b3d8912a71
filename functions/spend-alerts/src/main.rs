//! `spend-alerts`: the scheduled function that evaluates spend thresholds and anomalies and
//! sends their webhooks ([`gateway_server::spend::alerts::evaluate`]).
//!
//! Under the Lambda runtime (`AWS_LAMBDA_RUNTIME_API` set) it evaluates once per invocation,
//! typically an EventBridge Scheduler event, whose content it does not need. Otherwise it
//! evaluates once and exits: `spend-alerts --config gateway.toml [--once]`, for cron or a test.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use gateway_core::config::{Config, ProcessEnv};
use gateway_server::spend::alerts::{self, AlertContext, Evaluation};
use gateway_server::{store_setup, telemetry};
use gateway_store::Timestamp;
use lambda_runtime::{LambdaEvent, service_fn};

#[derive(Parser)]
#[command(
    name = "spend-alerts",
    version,
    about = "Evaluate spend thresholds and anomalies once and send their webhooks."
)]
struct Cli {
    /// Configuration file (TOML), the gateway's.
    #[arg(long, env = "LLM_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    /// Where the SQLite store lives (as for `llm-gateway`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Evaluate once and exit (the only mode outside Lambda; accepted for clarity in cron
    /// lines).
    #[arg(long)]
    once: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), &ProcessEnv)?;
    telemetry::init(&config.telemetry);
    let data_dir = cli
        .data_dir
        .unwrap_or_else(|| store_setup::default_data_dir(&ProcessEnv));
    let store = store_setup::open(&config.store, &data_dir, &ProcessEnv).await?;
    let context = AlertContext::new(store, &config)?;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let context = std::sync::Arc::new(context);
        return lambda_runtime::run(service_fn(move |event| {
            let context = context.clone();
            async move { handler(&context, event).await }
        }))
        .await
        .map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"));
    }
    let evaluation = alerts::evaluate(&context, Timestamp::now())
        .await
        .context("evaluating spend alerts")?;
    println!("{}", serde_json::to_string(&evaluation)?);
    Ok(())
}

/// One scheduled invocation: evaluate now, answer what was sent.
pub async fn handler(
    context: &AlertContext,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<Evaluation, lambda_runtime::Error> {
    Ok(alerts::evaluate(context, Timestamp::now()).await?)
}
