//! `QualityPredictor`: for a prompt's embedding, the probability that each model of the
//! training data answers it well.
//!
//! The learner is one L2-regularised logistic regression per model over the standardised
//! embedding, fitted by full-batch gradient descent (Adam). It was chosen for what the gateway
//! needs at start-up and per request: a file of a few kilobytes per model (no training
//! prompts kept), a prediction that is one dot product per model (microseconds), and
//! training that takes seconds on a CPU. Graded scores in [0, 1] are used as soft labels.
//! The one hyperparameter, the L2 weight, is chosen by the caller on held-out data (the
//! router evaluation tunes it on its validation split).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::prompt_features::prompt_features;

/// Version of the saved file; a file of another version is refused, not misread.
const FORMAT: u32 = 1;

/// Gradient steps: enough for the loss to settle on tens of thousands of prompts of
/// 384 dimensions (the fitted weights change by well under 1% after this).
const STEPS: usize = 300;
const LEARNING_RATE: f64 = 0.05;

/// Why a predictor could not be trained, loaded, saved or applied.
#[derive(Debug, thiserror::Error)]
pub enum PredictorError {
    #[error("no training rows")]
    NoRows,
    #[error("embedding has {got} dimensions, the predictor expects {expected}")]
    Dimensions { expected: usize, got: usize },
    #[error("row {row} has {got} scores for {expected} models")]
    Scores {
        row: usize,
        expected: usize,
        got: usize,
    },
    #[error("a training value is not a finite number")]
    NotFinite,
    #[error("predictor file format {0} is not {FORMAT}")]
    Format(u32),
    #[error("predictor file is inconsistent: {0}")]
    Inconsistent(&'static str),
    #[error("predictor file: {0}")]
    Json(#[from] serde_json::Error),
    #[error("predictor file: {0}")]
    Io(#[from] std::io::Error),
}

/// One model's fitted weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ModelWeights {
    name: String,
    weights: Vec<f32>,
    bias: f32,
}

/// A trained predictor, saveable as a small JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityPredictor {
    format: u32,
    /// Fingerprint of the embedder the training embeddings came from; predictions on
    /// another model's embeddings would be meaningless.
    embedder: String,
    /// Per-dimension mean and scale used to standardise an embedding.
    mean: Vec<f32>,
    scale: Vec<f32>,
    l2: f64,
    /// Whether the input is the embedding followed by [`prompt_features`] of the prompt
    /// (files written before the option read as embedding only).
    #[serde(default)]
    prompt_features: bool,
    models: Vec<ModelWeights>,
}

/// Training input: `scores[i][m]` in [0, 1] for `embeddings[i]` and `models[m]`.
pub struct TrainingSet<'a> {
    pub models: &'a [String],
    pub embeddings: &'a [&'a [f32]],
    pub scores: &'a [&'a [f32]],
}

impl QualityPredictor {
    /// Fits one logistic regression per model with L2 weight `l2` (on the mean loss).
    pub fn train(set: &TrainingSet<'_>, embedder: &str, l2: f64) -> Result<Self, PredictorError> {
        let n = set.embeddings.len();
        let first = set.embeddings.first().ok_or(PredictorError::NoRows)?;
        let dims = first.len();
        for (row, e) in set.embeddings.iter().enumerate() {
            if e.len() != dims {
                return Err(PredictorError::Dimensions {
                    expected: dims,
                    got: e.len(),
                });
            }
            let scores = set.scores.get(row).map_or(0, |s| s.len());
            if scores != set.models.len() {
                return Err(PredictorError::Scores {
                    row,
                    expected: set.models.len(),
                    got: scores,
                });
            }
        }
        if set.scores.len() != n {
            return Err(PredictorError::Inconsistent(
                "embeddings and scores differ in count",
            ));
        }
        if set
            .embeddings
            .iter()
            .any(|e| e.iter().any(|v| !v.is_finite()))
            || set.scores.iter().any(|s| s.iter().any(|v| !v.is_finite()))
            || !l2.is_finite()
        {
            return Err(PredictorError::NotFinite);
        }

        let mut mean = vec![0.0f64; dims];
        for e in set.embeddings {
            for (m, v) in mean.iter_mut().zip(e.iter()) {
                *m += f64::from(*v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0f64; dims];
        for e in set.embeddings {
            for ((s, v), m) in var.iter_mut().zip(e.iter()).zip(&mean) {
                *s += (f64::from(*v) - m).powi(2);
            }
        }
        let scale: Vec<f64> = var
            .iter()
            .map(|s| {
                let sd = (s / n as f64).sqrt();
                if sd > 1e-8 { 1.0 / sd } else { 0.0 }
            })
            .collect();
        let x: Vec<Vec<f64>> = set
            .embeddings
            .iter()
            .map(|e| {
                e.iter()
                    .zip(&mean)
                    .zip(&scale)
                    .map(|((v, m), s)| (f64::from(*v) - m) * s)
                    .collect()
            })
            .collect();

        let models = set
            .models
            .iter()
            .enumerate()
            .map(|(m, name)| {
                let y: Vec<f64> = set.scores.iter().map(|s| f64::from(s[m])).collect();
                let (weights, bias) = fit_logistic(&x, &y, l2);
                ModelWeights {
                    name: name.clone(),
                    weights: weights.iter().map(|w| *w as f32).collect(),
                    bias: bias as f32,
                }
            })
            .collect();
        Ok(Self {
            format: FORMAT,
            embedder: embedder.to_string(),
            mean: mean.iter().map(|v| *v as f32).collect(),
            scale: scale.iter().map(|v| *v as f32).collect(),
            l2,
            prompt_features: false,
            models,
        })
    }

    /// Marks the predictor as trained on embeddings followed by the prompt's features (the
    /// training inputs were built with [`input_for`]).
    pub fn with_prompt_features(mut self) -> Self {
        self.prompt_features = true;
        self
    }

    /// Whether the predictor reads the prompt's features after its embedding.
    pub fn uses_prompt_features(&self) -> bool {
        self.prompt_features
    }

    /// For a prompt and its embedding, each model's probability of answering well.
    pub fn predict_prompt(
        &self,
        prompt: &str,
        embedding: &[f32],
    ) -> Result<Vec<(&str, f32)>, PredictorError> {
        if self.prompt_features {
            self.predict(&input_for(prompt, embedding))
        } else {
            self.predict(embedding)
        }
    }

    /// For an input (the embedding, or [`input_for`] when [`Self::uses_prompt_features`]),
    /// each model's probability of answering well, in training order.
    pub fn predict(&self, embedding: &[f32]) -> Result<Vec<(&str, f32)>, PredictorError> {
        if embedding.len() != self.mean.len() {
            return Err(PredictorError::Dimensions {
                expected: self.mean.len(),
                got: embedding.len(),
            });
        }
        let x: Vec<f32> = embedding
            .iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((v, m), s)| (v - m) * s)
            .collect();
        Ok(self
            .models
            .iter()
            .map(|model| {
                let z: f32 = model
                    .weights
                    .iter()
                    .zip(&x)
                    .map(|(w, v)| w * v)
                    .sum::<f32>()
                    + model.bias;
                (model.name.as_str(), sigmoid(f64::from(z)) as f32)
            })
            .collect())
    }

    /// The models this predictor knows, in training order.
    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.name.as_str())
    }

    /// Fingerprint of the embedder whose embeddings this predictor expects.
    pub fn embedder(&self) -> &str {
        &self.embedder
    }

    /// The L2 weight it was trained with.
    pub fn l2(&self) -> f64 {
        self.l2
    }

    pub fn to_json(&self) -> Result<String, PredictorError> {
        Ok(serde_json::to_string(self)?)
    }

    /// Parses and checks a saved predictor.
    pub fn from_json(text: &str) -> Result<Self, PredictorError> {
        let predictor: Self = serde_json::from_str(text)?;
        if predictor.format != FORMAT {
            return Err(PredictorError::Format(predictor.format));
        }
        let dims = predictor.mean.len();
        if predictor.scale.len() != dims {
            return Err(PredictorError::Inconsistent(
                "mean and scale differ in length",
            ));
        }
        if predictor.models.is_empty() {
            return Err(PredictorError::Inconsistent("no model"));
        }
        if predictor.models.iter().any(|m| m.weights.len() != dims) {
            return Err(PredictorError::Inconsistent(
                "a model's weights differ in length from the embedding",
            ));
        }
        Ok(predictor)
    }

    pub fn save(&self, path: &Path) -> Result<(), PredictorError> {
        Ok(std::fs::write(path, self.to_json()?)?)
    }

    pub fn load(path: &Path) -> Result<Self, PredictorError> {
        Self::from_json(&std::fs::read_to_string(path)?)
    }
}

/// The embedding followed by the prompt's features: the input of a predictor trained with
/// them.
pub fn input_for(prompt: &str, embedding: &[f32]) -> Vec<f32> {
    let mut input = Vec::with_capacity(embedding.len() + crate::prompt_features::COUNT);
    input.extend_from_slice(embedding);
    input.extend_from_slice(&prompt_features(prompt));
    input
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Minimises mean cross-entropy + `l2`/2 * |w|^2 (bias not penalised) with Adam.
fn fit_logistic(x: &[Vec<f64>], y: &[f64], l2: f64) -> (Vec<f64>, f64) {
    let n = x.len() as f64;
    let dims = x.first().map_or(0, Vec::len);
    let mut w = vec![0.0; dims + 1];
    let mean_y = y.iter().sum::<f64>() / n;
    let clamped = mean_y.clamp(1e-3, 1.0 - 1e-3);
    w[dims] = (clamped / (1.0 - clamped)).ln();
    let (mut m1, mut m2) = (vec![0.0; dims + 1], vec![0.0; dims + 1]);
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut grad = vec![0.0; dims + 1];
    for step in 1..=STEPS {
        grad.iter_mut().for_each(|g| *g = 0.0);
        for (row, target) in x.iter().zip(y) {
            let z = row.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + w[dims];
            let err = sigmoid(z) - target;
            for (g, v) in grad.iter_mut().zip(row) {
                *g += err * v;
            }
            grad[dims] += err;
        }
        for (i, g) in grad.iter_mut().enumerate() {
            *g /= n;
            if i < dims {
                *g += l2 * w[i];
            }
        }
        let (c1, c2) = (1.0 - beta1.powi(step as i32), 1.0 - beta2.powi(step as i32));
        for i in 0..=dims {
            m1[i] = beta1 * m1[i] + (1.0 - beta1) * grad[i];
            m2[i] = beta2 * m2[i] + (1.0 - beta2) * grad[i] * grad[i];
            w[i] -= LEARNING_RATE * (m1[i] / c1) / ((m2[i] / c2).sqrt() + eps);
        }
    }
    let bias = w[dims];
    w.truncate(dims);
    (w, bias)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<String>, Vec<Vec<f32>>, Vec<Vec<f32>>) {
        // Model "a" answers prompts whose first coordinate is positive; "b" answers all.
        let models = vec!["a".to_string(), "b".to_string()];
        let mut embeddings = Vec::new();
        let mut scores = Vec::new();
        for i in 0..40 {
            let x = (i as f32 - 19.5) / 20.0;
            embeddings.push(vec![x, 0.3, (i % 3) as f32 * 0.01]);
            scores.push(vec![if x > 0.0 { 1.0 } else { 0.0 }, 1.0]);
        }
        (models, embeddings, scores)
    }

    fn train_toy(l2: f64) -> QualityPredictor {
        let (models, embeddings, scores) = toy();
        let e: Vec<&[f32]> = embeddings.iter().map(Vec::as_slice).collect();
        let s: Vec<&[f32]> = scores.iter().map(Vec::as_slice).collect();
        let set = TrainingSet {
            models: &models,
            embeddings: &e,
            scores: &s,
        };
        QualityPredictor::train(&set, "toy", l2).unwrap()
    }

    #[test]
    fn it_learns_which_prompts_a_model_answers() {
        let predictor = train_toy(1e-3);
        let hard = predictor.predict(&[-0.9, 0.3, 0.0]).unwrap();
        let easy = predictor.predict(&[0.9, 0.3, 0.0]).unwrap();
        assert_eq!(hard[0].0, "a");
        assert!(hard[0].1 < 0.2, "{hard:?}");
        assert!(easy[0].1 > 0.8, "{easy:?}");
        assert!(hard[1].1 > 0.9 && easy[1].1 > 0.9, "{hard:?} {easy:?}");
    }

    #[test]
    fn a_saved_predictor_loads_back_and_predicts_the_same() {
        let predictor = train_toy(1e-2);
        let loaded = QualityPredictor::from_json(&predictor.to_json().unwrap()).unwrap();
        assert_eq!(loaded, predictor);
        let e = [0.2, 0.3, 0.01];
        assert_eq!(loaded.predict(&e).unwrap(), predictor.predict(&e).unwrap());
    }

    #[test]
    fn a_wrong_embedding_length_is_an_error() {
        let predictor = train_toy(1e-2);
        assert!(matches!(
            predictor.predict(&[0.0; 4]),
            Err(PredictorError::Dimensions {
                expected: 3,
                got: 4
            })
        ));
    }

    #[test]
    fn a_damaged_file_is_refused() {
        let predictor = train_toy(1e-2);
        let mut value: serde_json::Value =
            serde_json::from_str(&predictor.to_json().unwrap()).unwrap();
        value["models"][0]["weights"] = serde_json::json!([1.0]);
        assert!(QualityPredictor::from_json(&value.to_string()).is_err());
        value["format"] = serde_json::json!(99);
        assert!(matches!(
            QualityPredictor::from_json(&value.to_string()),
            Err(PredictorError::Format(99))
        ));
    }
}
