//! `recommendations`: a scheduled function (EventBridge Scheduler → Lambda, weekly in the
//! template). For every organisation in the store it reads the last days of receipts, finds
//! cheaper models of sufficient quality and models that fail too often ([`analysis`]), and
//! writes a JSON report per organisation through the `BlobStore` port ([`reports`]): S3 in AWS,
//! a local folder elsewhere.
//!
//! Outside Lambda it runs once with the event in the file given as its argument (default `{}`)
//! and prints the outcome.

use std::sync::Arc;

use anyhow::Context;
use gateway_core::config::ProcessEnv;
use gateway_lambda::{settings, telemetry};
use gateway_server::{AppState, store_setup};
use lambda_runtime::{LambdaEvent, service_fn};

mod analysis;
mod event;
mod reports;

use reports::Job;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = settings::load()?;
    telemetry::init(&config.telemetry);
    let data_dir = store_setup::default_data_dir(&ProcessEnv);
    let store = store_setup::open(&config.store, &data_dir, &ProcessEnv).await?;
    // Only the routable models are needed; they come from the catalog and the providers.
    let state = AppState::from_config(&config, &ProcessEnv)?;
    let blobs = reports::blob_store(&ProcessEnv, &data_dir).await?;
    let job = Arc::new(Job {
        store,
        blobs,
        models: state.router.models().to_vec(),
    });

    if !gateway_lambda::in_lambda() {
        let text = match std::env::args_os().nth(1) {
            Some(path) => std::fs::read_to_string(&path)
                .with_context(|| format!("reading the event {}", path.to_string_lossy()))?,
            None => "{}".to_owned(),
        };
        let event = event::ScheduleEvent::parse(&text)?;
        let outcome = job.run(&event).await?;
        println!("{}", serde_json::to_string_pretty(&outcome)?);
        return Ok(());
    }
    lambda_runtime::run(service_fn(
        move |invocation: LambdaEvent<serde_json::Value>| {
            let job = job.clone();
            async move {
                let event = event::ScheduleEvent::from_value(invocation.payload)?;
                let outcome = job.run(&event).await?;
                Ok::<_, lambda_runtime::Error>(outcome)
            }
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"))
}
