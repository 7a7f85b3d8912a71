//! `QualityPredictor`: for a prompt's embedding, the probability that each model of the
//! training data answers it well.
//!
//! The learner is one L2-regularised logistic regression per model over the standardised
//! embedding, optionally followed by [`PromptFeatures`] of the prompt, fitted by full-batch
//! gradient descent (Adam). It was chosen for what the gateway needs at start-up and per
//! request: a file of a few kilobytes per model (no training prompts kept), a prediction that
//! is one dot product per model (microseconds), and training that takes seconds on a CPU.
//! Graded scores in [0, 1] are used as soft labels.
//!
//! The hyperparameters ([`Settings`]: the L2 weight, the features, how strongly the features
//! count against the embedding) are chosen by the caller on held-out data; the router
//! evaluation cross-validates them. [`QualityPredictor::train_each_l2`] fits every model for
//! several L2 weights in one pass over the data, which is what makes that search affordable.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::prompt_features::PromptFeatures;

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
    /// Per-dimension mean and scale used to standardise an input. The features' scales
    /// also carry their weight against the embedding.
    mean: Vec<f32>,
    scale: Vec<f32>,
    l2: f64,
    /// The features read after the embedding (files written before the option read as none).
    #[serde(default = "no_features")]
    prompt_features: PromptFeatures,
    models: Vec<ModelWeights>,
}

fn no_features() -> PromptFeatures {
    PromptFeatures::None
}

/// Training input: `scores[i][m]` in [0, 1] for `inputs[i]` and `models[m]`. Each input is
/// the prompt's embedding followed by the features the settings name
/// ([`PromptFeatures::input`]).
pub struct TrainingSet<'a> {
    pub models: &'a [String],
    pub inputs: &'a [&'a [f32]],
    pub scores: &'a [&'a [f32]],
}

/// The choices a predictor is trained with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// L2 weight on the mean loss.
    pub l2: f64,
    pub features: PromptFeatures,
    /// Each standardised feature is multiplied by this before fitting, so its weight is
    /// penalised `feature_weight²` times less than an embedding dimension's: a handful of
    /// features would otherwise be drowned by hundreds of embedding dimensions.
    pub feature_weight: f64,
}

impl QualityPredictor {
    /// Fits one logistic regression per model with the given settings.
    pub fn train(
        set: &TrainingSet<'_>,
        embedder: &str,
        settings: Settings,
    ) -> Result<Self, PredictorError> {
        let mut fitted = Self::train_each_l2(
            set,
            embedder,
            settings.features,
            settings.feature_weight,
            &[settings.l2],
        )?;
        fitted.pop().ok_or(PredictorError::NoRows)
    }

    /// One predictor per L2 weight in `l2s`, in that order, the others settings shared: every
    /// model and weight is fitted in the same pass over the data.
    pub fn train_each_l2(
        set: &TrainingSet<'_>,
        embedder: &str,
        features: PromptFeatures,
        feature_weight: f64,
        l2s: &[f64],
    ) -> Result<Vec<Self>, PredictorError> {
        let n = set.inputs.len();
        let first = set.inputs.first().ok_or(PredictorError::NoRows)?;
        let dims = first.len();
        check(set, dims)?;
        if !(feature_weight.is_finite() && l2s.iter().all(|l| l.is_finite())) {
            return Err(PredictorError::NotFinite);
        }
        if features.len() > dims {
            return Err(PredictorError::Inconsistent(
                "more features than input dimensions",
            ));
        }

        let mut mean = vec![0.0f64; dims];
        for e in set.inputs {
            for (m, v) in mean.iter_mut().zip(e.iter()) {
                *m += f64::from(*v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0f64; dims];
        for e in set.inputs {
            for ((s, v), m) in var.iter_mut().zip(e.iter()).zip(&mean) {
                *s += (f64::from(*v) - m).powi(2);
            }
        }
        let mut scale: Vec<f64> = var
            .iter()
            .map(|s| {
                let sd = (s / n as f64).sqrt();
                if sd > 1e-8 { 1.0 / sd } else { 0.0 }
            })
            .collect();
        for s in &mut scale[dims - features.len()..] {
            *s *= feature_weight;
        }
        let mut x = Vec::with_capacity(n * dims);
        for e in set.inputs {
            x.extend(
                e.iter()
                    .zip(&mean)
                    .zip(&scale)
                    .map(|((v, m), s)| ((f64::from(*v) - m) * s) as f32),
            );
        }
        let targets: Vec<Vec<f32>> = (0..set.models.len())
            .map(|m| set.scores.iter().map(|s| s[m]).collect())
            .collect();
        let fits = fit_logistic_many(&x, dims, &targets, l2s);

        let mean: Vec<f32> = mean.iter().map(|v| *v as f32).collect();
        let scale: Vec<f32> = scale.iter().map(|v| *v as f32).collect();
        Ok(l2s
            .iter()
            .zip(fits)
            .map(|(&l2, per_model)| Self {
                format: FORMAT,
                embedder: embedder.to_string(),
                mean: mean.clone(),
                scale: scale.clone(),
                l2,
                prompt_features: features,
                models: set
                    .models
                    .iter()
                    .zip(per_model)
                    .map(|(name, (weights, bias))| ModelWeights {
                        name: name.clone(),
                        weights,
                        bias,
                    })
                    .collect(),
            })
            .collect())
    }

    /// The features this predictor reads after the embedding.
    pub fn prompt_features(&self) -> PromptFeatures {
        self.prompt_features
    }

    /// For a prompt and its embedding, each model's probability of answering well.
    pub fn predict_prompt(
        &self,
        prompt: &str,
        embedding: &[f32],
    ) -> Result<Vec<(&str, f32)>, PredictorError> {
        if self.prompt_features.is_empty() {
            self.predict(embedding)
        } else {
            self.predict(&self.prompt_features.input(prompt, embedding))
        }
    }

    /// For an input (the embedding followed by [`Self::prompt_features`]), each model's
    /// probability of answering well, in training order.
    pub fn predict(&self, input: &[f32]) -> Result<Vec<(&str, f32)>, PredictorError> {
        if input.len() != self.mean.len() {
            return Err(PredictorError::Dimensions {
                expected: self.mean.len(),
                got: input.len(),
            });
        }
        let x: Vec<f32> = input
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
        if predictor.prompt_features.len() > dims {
            return Err(PredictorError::Inconsistent(
                "more features than input dimensions",
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

/// Every input has `dims` values and a score per model, all finite.
fn check(set: &TrainingSet<'_>, dims: usize) -> Result<(), PredictorError> {
    if set.scores.len() != set.inputs.len() {
        return Err(PredictorError::Inconsistent(
            "inputs and scores differ in count",
        ));
    }
    for (row, (input, scores)) in set.inputs.iter().zip(set.scores).enumerate() {
        if input.len() != dims {
            return Err(PredictorError::Dimensions {
                expected: dims,
                got: input.len(),
            });
        }
        if scores.len() != set.models.len() {
            return Err(PredictorError::Scores {
                row,
                expected: set.models.len(),
                got: scores.len(),
            });
        }
        if input.iter().chain(scores.iter()).any(|v| !v.is_finite()) {
            return Err(PredictorError::NotFinite);
        }
    }
    Ok(())
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Minimises mean cross-entropy + `l2`/2 * |w|^2 (bias not penalised) with Adam, for every
/// target and every L2 weight at once: `x` is `n` rows of `dims` values, `targets[t]` the
/// labels of target `t`. Returns `(weights, bias)` per L2 weight, then per target.
///
/// The columns (one per weight and target) share each pass over the data: a row is read once
/// per step for all of them. Single precision, with the dot products split over eight
/// accumulators, so the compiler vectorises them; a column's arithmetic does not depend on
/// which other columns are fitted beside it.
fn fit_logistic_many(
    x: &[f32],
    dims: usize,
    targets: &[Vec<f32>],
    l2s: &[f64],
) -> Vec<Vec<(Vec<f32>, f32)>> {
    let n = targets.first().map_or(0, Vec::len);
    let columns = l2s.len() * targets.len();
    let target_of = |column: usize| column % targets.len();
    let dims = dims.max(1);
    // Column c's weights are w[c * dims..(c + 1) * dims]; the biases are kept apart.
    let mut w = vec![0.0f32; columns * dims];
    let mut bias: Vec<f32> = (0..columns)
        .map(|c| {
            let y = &targets[target_of(c)];
            let mean_y =
                (y.iter().map(|v| f64::from(*v)).sum::<f64>() / n as f64).clamp(1e-3, 1.0 - 1e-3);
            (mean_y / (1.0 - mean_y)).ln() as f32
        })
        .collect();
    let mut adam_w = Adam::new(w.len());
    let mut adam_bias = Adam::new(columns);
    let mut grad = vec![0.0f32; w.len()];
    let mut grad_bias = vec![0.0f32; columns];
    for step in 1..=STEPS {
        grad.iter_mut().for_each(|g| *g = 0.0);
        grad_bias.iter_mut().for_each(|g| *g = 0.0);
        for (i, row) in x.chunks_exact(dims).enumerate() {
            for (c, (weights, g)) in w
                .chunks_exact(dims)
                .zip(grad.chunks_exact_mut(dims))
                .enumerate()
            {
                let err = sigmoid(f64::from(dot(row, weights) + bias[c])) as f32
                    - targets[target_of(c)][i];
                for (gd, v) in g.iter_mut().zip(row) {
                    *gd += err * v;
                }
                grad_bias[c] += err;
            }
        }
        let scale = 1.0 / n as f32;
        for (c, (g, weights)) in grad
            .chunks_exact_mut(dims)
            .zip(w.chunks_exact(dims))
            .enumerate()
        {
            let l2 = l2s[c / targets.len()] as f32;
            for (gd, wd) in g.iter_mut().zip(weights) {
                *gd = *gd * scale + l2 * wd;
            }
        }
        grad_bias.iter_mut().for_each(|g| *g *= scale);
        adam_w.step(step, &mut w, &grad);
        adam_bias.step(step, &mut bias, &grad_bias);
    }
    (0..l2s.len())
        .map(|l| {
            (0..targets.len())
                .map(|t| {
                    let c = l * targets.len() + t;
                    (w[c * dims..(c + 1) * dims].to_vec(), bias[c])
                })
                .collect()
        })
        .collect()
}

/// The dot product of two equally long slices, over eight running sums.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for k in 0..8 {
            sums[k] += x[k] * y[k];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// Adam's moment estimates for a vector of parameters.
struct Adam {
    m1: Vec<f32>,
    m2: Vec<f32>,
}

impl Adam {
    const BETA1: f32 = 0.9;
    const BETA2: f32 = 0.999;
    const EPS: f32 = 1e-8;

    fn new(len: usize) -> Self {
        Self {
            m1: vec![0.0; len],
            m2: vec![0.0; len],
        }
    }

    fn step(&mut self, step: usize, params: &mut [f32], grad: &[f32]) {
        let c1 = 1.0 - Self::BETA1.powi(step as i32);
        let c2 = 1.0 - Self::BETA2.powi(step as i32);
        let rate = LEARNING_RATE as f32;
        for (((p, g), m1), m2) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m1)
            .zip(&mut self.m2)
        {
            *m1 = Self::BETA1 * *m1 + (1.0 - Self::BETA1) * g;
            *m2 = Self::BETA2 * *m2 + (1.0 - Self::BETA2) * g * g;
            *p -= rate * (*m1 / c1) / ((*m2 / c2).sqrt() + Self::EPS);
        }
    }
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

    /// Calls `f` with the rows as a training set.
    fn as_set<R>(
        models: &[String],
        inputs: &[Vec<f32>],
        scores: &[Vec<f32>],
        f: impl FnOnce(&TrainingSet<'_>) -> R,
    ) -> R {
        let e: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        let s: Vec<&[f32]> = scores.iter().map(Vec::as_slice).collect();
        f(&TrainingSet {
            models,
            inputs: &e,
            scores: &s,
        })
    }

    fn train_toy(l2: f64) -> QualityPredictor {
        let (models, embeddings, scores) = toy();
        as_set(&models, &embeddings, &scores, |set| {
            QualityPredictor::train(set, "toy", plain(l2)).unwrap()
        })
    }

    fn plain(l2: f64) -> Settings {
        Settings {
            l2,
            features: PromptFeatures::None,
            feature_weight: 1.0,
        }
    }

    #[test]
    fn several_l2_weights_fitted_together_equal_each_fitted_alone() {
        let (models, embeddings, scores) = toy();
        let e: Vec<&[f32]> = embeddings.iter().map(Vec::as_slice).collect();
        let s: Vec<&[f32]> = scores.iter().map(Vec::as_slice).collect();
        let set = TrainingSet {
            models: &models,
            inputs: &e,
            scores: &s,
        };
        let l2s = [1e-3, 0.1, 1.0];
        let together =
            QualityPredictor::train_each_l2(&set, "toy", PromptFeatures::None, 1.0, &l2s).unwrap();
        assert_eq!(together.len(), 3);
        for (l2, fitted) in l2s.iter().zip(&together) {
            assert_eq!(
                fitted,
                &QualityPredictor::train(&set, "toy", plain(*l2)).unwrap()
            );
        }
        let probe = [0.4, 0.3, 0.0];
        let weak = together[2].predict(&probe).unwrap()[0].1;
        let strong = together[0].predict(&probe).unwrap()[0].1;
        assert!(
            strong > weak,
            "less regularisation, surer: {strong} vs {weak}"
        );
    }

    #[test]
    fn a_predictor_with_features_reads_them_from_the_prompt() {
        // Model "a" answers the short prompts; the embedding says nothing.
        let models = vec!["a".to_string()];
        let prompts: Vec<String> = (0..40)
            .map(|i| "word ".repeat(if i % 2 == 0 { 3 } else { 60 }))
            .collect();
        let inputs: Vec<Vec<f32>> = prompts
            .iter()
            .map(|p| PromptFeatures::Counts.input(p, &[0.5, 0.5]))
            .collect();
        let scores: Vec<Vec<f32>> = (0..40).map(|i| vec![f32::from(i % 2 == 0)]).collect();
        let settings = Settings {
            l2: 0.01,
            features: PromptFeatures::Counts,
            feature_weight: 3.0,
        };
        let predictor = as_set(&models, &inputs, &scores, |set| {
            QualityPredictor::train(set, "toy", settings).unwrap()
        });
        assert_eq!(predictor.prompt_features(), PromptFeatures::Counts);
        let loaded = QualityPredictor::from_json(&predictor.to_json().unwrap()).unwrap();
        let short = loaded.predict_prompt("word word", &[0.5, 0.5]).unwrap()[0].1;
        let long = loaded
            .predict_prompt(&"word ".repeat(70), &[0.5, 0.5])
            .unwrap()[0]
            .1;
        assert!(short > 0.8 && long < 0.2, "short {short}, long {long}");
    }

    #[test]
    fn a_file_saved_before_feature_sets_had_names_still_loads() {
        let predictor = train_toy(1e-2);
        let mut value: serde_json::Value =
            serde_json::from_str(&predictor.to_json().unwrap()).unwrap();
        value["prompt_features"] = serde_json::json!(false);
        let loaded = QualityPredictor::from_json(&value.to_string()).unwrap();
        assert_eq!(loaded, predictor);
        value.as_object_mut().unwrap().remove("prompt_features");
        let loaded = QualityPredictor::from_json(&value.to_string()).unwrap();
        assert_eq!(loaded.prompt_features(), PromptFeatures::None);
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
