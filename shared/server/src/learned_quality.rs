//! The learned quality predictor behind `auto`: the prompt is embedded with the local
//! sentence model and each candidate's chance of answering well read from the trained
//! predictor (`[routing.predictor]`).
//!
//! Embedding is CPU work of tens of milliseconds, so it runs on the blocking pool, never on
//! the async runtime, at most one prompt per CPU at a time, and the request waits for it only
//! up to `timeout_ms`. When the embedder is busy, slow or fails, or a model is not one the
//! predictor was trained on, the catalog prior stands in, and the receipt's
//! `quality_predictor` says which it was.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gateway_core::catalog::ModelEntry;
use gateway_core::config::PredictorConfig;
use gateway_core::routing::{PRIOR, PriorQualityPredictor, QualityPredictor, RequestAnalysis};
use gateway_quality::Embedder;
use tokio::sync::Semaphore;

/// The loaded embedder and predictor, shared by every request.
pub struct LearnedQuality {
    embedder: Arc<Embedder>,
    predictor: Arc<gateway_quality::QualityPredictor>,
    /// Gateway model id to the predictor's model name, where they differ.
    names: HashMap<String, String>,
    timeout: Duration,
    /// One embedding per CPU at a time: past that, requests route on the priors rather than
    /// queue behind each other.
    permits: Arc<Semaphore>,
}

impl LearnedQuality {
    /// Loads the embedding model and the predictor, and checks that the predictor was trained
    /// on this model's embeddings.
    pub fn load(config: &PredictorConfig) -> anyhow::Result<Self> {
        let embedder = Embedder::load(&config.model_dir).with_context(|| {
            format!(
                "routing.predictor.model_dir: loading the embedding model from {}",
                config.model_dir.display()
            )
        })?;
        let predictor =
            gateway_quality::QualityPredictor::load(&config.file).with_context(|| {
                format!(
                    "routing.predictor.file: loading the predictor {}",
                    config.file.display()
                )
            })?;
        if predictor.embedder() != embedder.fingerprint() {
            anyhow::bail!(
                "routing.predictor: {} was trained on another embedding model than the one in {}",
                config.file.display(),
                config.model_dir.display()
            );
        }
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(LearnedQuality {
            embedder: Arc::new(embedder),
            predictor: Arc::new(predictor),
            names: config
                .models
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            timeout: Duration::from_millis(config.timeout_ms),
            permits: Arc::new(Semaphore::new(cpus)),
        })
    }

    /// The predictor for one request whose task is `prompt`.
    pub async fn for_prompt(self: &Arc<Self>, prompt: String) -> PromptQuality {
        let outcome = self.predict(prompt).await;
        PromptQuality {
            learned: self.clone(),
            outcome,
        }
    }

    async fn predict(&self, prompt: String) -> Result<HashMap<String, f64>, String> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| "the embedder is busy".to_owned())?;
        let embedder = self.embedder.clone();
        let predictor = self.predictor.clone();
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let embedding = embedder.embed(&prompt).map_err(|e| e.to_string())?;
            let predicted = predictor
                .predict_prompt(&prompt, &embedding)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(
                predicted
                    .into_iter()
                    .map(|(name, p)| (name.to_owned(), f64::from(p)))
                    .collect::<HashMap<_, _>>(),
            )
        });
        match tokio::time::timeout(self.timeout, job).await {
            Ok(Ok(result)) => result.map_err(|e| format!("embedding failed: {e}")),
            Ok(Err(_)) => Err("embedding failed: the embedding task ended".to_owned()),
            Err(_) => Err(format!(
                "embedding took longer than {} ms",
                self.timeout.as_millis()
            )),
        }
    }

    fn name_of<'a>(&'a self, model: &'a ModelEntry) -> &'a str {
        self.names.get(&model.id).map_or(&model.id, String::as_str)
    }
}

/// One request's predictions: learned where the predictor knows the model, the prior
/// elsewhere or when the prompt could not be embedded in time.
pub struct PromptQuality {
    learned: Arc<LearnedQuality>,
    /// Probability per predictor model name, or why there is none.
    outcome: Result<HashMap<String, f64>, String>,
}

impl PromptQuality {
    fn learned_for(&self, model: &ModelEntry) -> Option<f64> {
        self.outcome
            .as_ref()
            .ok()
            .and_then(|p| p.get(self.learned.name_of(model)).copied())
    }
}

impl QualityPredictor for PromptQuality {
    fn predict(&self, request: &RequestAnalysis, candidates: &[&ModelEntry]) -> Vec<f64> {
        let priors = PriorQualityPredictor.predict(request, candidates);
        candidates
            .iter()
            .zip(priors)
            .map(|(model, prior)| self.learned_for(model).unwrap_or(prior))
            .collect()
    }

    fn describe(&self, candidates: &[&ModelEntry]) -> String {
        match &self.outcome {
            Err(why) => format!("{PRIOR} ({why})"),
            Ok(_) => {
                let known = candidates
                    .iter()
                    .filter(|m| self.learned_for(m).is_some())
                    .count();
                if known == candidates.len() {
                    "learned".to_owned()
                } else if known == 0 {
                    format!("{PRIOR} (the predictor knows none of the candidates)")
                } else {
                    format!(
                        "learned for {known} of {} candidates, {PRIOR} for the others",
                        candidates.len()
                    )
                }
            }
        }
    }
}
