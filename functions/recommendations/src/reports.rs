//! One run of the schedule: the organisations, their receipts, one report each in the blob
//! store under `recommendations/<org>/<date>.json` and `recommendations/<org>/latest.json`.
//!
//! Where reports go: the S3 bucket `LLM_GATEWAY_REPORTS_BUCKET` when set (the template sets
//! it; `LLM_GATEWAY_REPORTS_S3_ENDPOINT` points at a local S3 such as moto), else the folder
//! `LLM_GATEWAY_REPORTS_DIR`, else `reports/` in the data directory.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use gateway_blobs::local::LocalFolder;
use gateway_blobs::s3::{S3Bucket, S3Config};
use gateway_blobs::{BlobKey, BlobStore};
use gateway_core::catalog::ModelEntry;
use gateway_core::config::EnvSource;
use gateway_store::model::query::{MAX_PAGE, ReceiptQuery};
use gateway_store::model::receipt::ReceiptRecord;
use gateway_store::{Store, Timestamp};
use serde::Serialize;

use crate::analysis;
use crate::event::ScheduleEvent;

/// Receipts read per organisation at most: a bound on memory for the busiest organisations
/// (a report then says it is based on the newest ones only).
pub const MAX_RECEIPTS: usize = 200_000;

pub async fn blob_store(
    env: &dyn EnvSource,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn BlobStore>> {
    if let Some(bucket) = env.var("LLM_GATEWAY_REPORTS_BUCKET") {
        let endpoint_url = env.var("LLM_GATEWAY_REPORTS_S3_ENDPOINT");
        let store = S3Bucket::connect(&S3Config {
            bucket,
            prefix: String::new(),
            region: None,
            credentials: None,
            endpoint_url,
        })
        .await;
        return Ok(Arc::new(store));
    }
    let folder = env
        .var("LLM_GATEWAY_REPORTS_DIR")
        .map_or_else(|| data_dir.join("reports"), Into::into);
    Ok(Arc::new(LocalFolder::new(folder)))
}

pub struct Job {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    /// The models this deployment can route to: the only ones worth recommending.
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub organisations: usize,
    pub reports: Vec<String>,
    pub recommendations: usize,
}

impl Job {
    /// Writes every organisation's report; an organisation that fails does not stop the others,
    /// and the run then fails naming it, so the schedule's retry and alarms see it.
    pub async fn run(&self, event: &ScheduleEvent) -> anyhow::Result<Outcome> {
        let until = Timestamp::now();
        let from = until.plus_days(-i64::from(event.days));
        let org_ids = match &event.org_ids {
            Some(ids) => ids.clone(),
            None => {
                let mut ids: Vec<String> = self
                    .store
                    .list_orgs()
                    .await
                    .context("listing the organisations")?
                    .into_iter()
                    .map(|org| org.id)
                    .collect();
                ids.sort();
                ids
            }
        };
        tracing::info!(
            source = event.source.as_deref().unwrap_or("manual"),
            scheduled_time = event.scheduled_time.as_deref().unwrap_or(""),
            organisations = org_ids.len(),
            days = event.days,
            "writing recommendations"
        );
        let mut outcome = Outcome {
            organisations: org_ids.len(),
            reports: Vec::new(),
            recommendations: 0,
        };
        let mut failed = Vec::new();
        for org_id in &org_ids {
            match self.report_for(org_id, from, until).await {
                Ok((key, count)) => {
                    outcome.reports.push(key.to_string());
                    outcome.recommendations += count;
                }
                Err(err) => {
                    tracing::error!(org_id, error = format!("{err:#}"), "no report");
                    failed.push(org_id.clone());
                }
            }
        }
        anyhow::ensure!(
            failed.is_empty(),
            "no report for {} of {} organisations: {}",
            failed.len(),
            org_ids.len(),
            failed.join(", ")
        );
        Ok(outcome)
    }

    async fn report_for(
        &self,
        org_id: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> anyhow::Result<(BlobKey, usize)> {
        let folder = format!("recommendations/{org_id}");
        let dated = BlobKey::parse(&format!("{folder}/{}.json", date_of(until)))?;
        let latest = BlobKey::parse(&format!("{folder}/latest.json"))?;
        let receipts = self.receipts(org_id, from, until).await?;
        let report = analysis::analyse(org_id, &receipts, &self.models, from, until);
        let count = report.recommendations.len();
        let body = serde_json::to_vec_pretty(&report).context("serialising the report")?;
        self.blobs
            .put(&dated, body.clone(), "application/json")
            .await
            .with_context(|| format!("writing {dated}"))?;
        self.blobs
            .put(&latest, body, "application/json")
            .await
            .with_context(|| format!("writing {latest}"))?;
        Ok((dated, count))
    }

    async fn receipts(
        &self,
        org_id: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> anyhow::Result<Vec<ReceiptRecord>> {
        let mut query = ReceiptQuery {
            from: Some(from),
            until: Some(until),
            limit: MAX_PAGE,
            ..ReceiptQuery::for_org(org_id)
        };
        let mut receipts = Vec::new();
        loop {
            let page = self
                .store
                .query_receipts(&query, until)
                .await
                .context("reading receipts")?;
            receipts.extend(page.items);
            match page.next {
                Some(cursor) if receipts.len() < MAX_RECEIPTS => query.cursor = Some(cursor),
                _ => return Ok(receipts),
            }
        }
    }
}

/// `YYYY-MM-DD` (UTC) of a timestamp.
fn date_of(at: Timestamp) -> String {
    at.to_rfc3339().chars().take(10).collect()
}
