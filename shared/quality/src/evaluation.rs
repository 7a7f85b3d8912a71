//! The router evaluation: train the predictor on the train split, choose its L2 weight and
//! whether it reads the prompt's features after the embedding on validation, refit on
//! train + validation, and report on the untouched test split how well
//! "call the strong model when its predicted advantage is large" recovers the quality gap,
//! next to the reference routers.
//!
//! The learned router's value for a prompt is P(strong answers well) - P(weak answers well).
//! References on the same test rows: random routing (the expected curve, the diagonal),
//! always weak, always strong, and the oracle that knows the true scores.

use crate::dataset::LabelledSet;
use crate::metrics::{MetricsError, Routed, RouterMetrics, router_metrics};
use crate::predictor::{PredictorError, QualityPredictor, TrainingSet, input_for};
use crate::split::{Part, part_of};

/// L2 weights tried on the validation split.
pub const L2_GRID: [f64; 7] = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0];

#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    #[error("model {0:?} is not in the dataset (it has {1:?})")]
    UnknownModel(String, Vec<String>),
    #[error("{0} embeddings for {1} prompts")]
    EmbeddingCount(usize, usize),
    #[error("the {0} split is empty")]
    EmptySplit(&'static str),
    #[error("predictor: {0}")]
    Predictor(#[from] PredictorError),
    #[error("{0} split: {1}")]
    Metrics(&'static str, MetricsError),
}

/// One line of the report table. Fixed routers have no curve: `apgr` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterRow {
    pub router: &'static str,
    pub apgr: Option<f64>,
    pub cpt50: Option<f64>,
    pub cpt80: Option<f64>,
}

/// Everything the evaluation measured.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub train_rows: usize,
    pub validation_rows: usize,
    pub test_rows: usize,
    /// Validation APGR for each choice tried: prompt features or not, L2 weight.
    pub validation_apgr: Vec<(bool, f64, f64)>,
    pub chosen_l2: f64,
    /// Whether the chosen predictor reads the prompt's features after the embedding.
    pub chosen_features: bool,
    pub weak_mean: f64,
    pub strong_mean: f64,
    /// Learned, random, always weak, always strong, oracle.
    pub table: Vec<RouterRow>,
    /// The predictor refitted on train + validation with the chosen L2 weight.
    pub predictor: QualityPredictor,
}

impl Evaluation {
    /// The learned router's test APGR.
    pub fn learned_apgr(&self) -> Option<f64> {
        self.table.first().and_then(|r| r.apgr)
    }
}

/// Runs the evaluation on `set` (with `embeddings[i]` the embedding of `set.rows[i]`).
pub fn evaluate(
    set: &LabelledSet,
    embeddings: &[Vec<f32>],
    embedder_fingerprint: &str,
    strong: &str,
    weak: &str,
    seed: u64,
) -> Result<Evaluation, EvaluationError> {
    let index = |model: &str| {
        set.model_index(model)
            .ok_or_else(|| EvaluationError::UnknownModel(model.to_string(), set.models.clone()))
    };
    let (strong_i, weak_i) = (index(strong)?, index(weak)?);
    if embeddings.len() != set.rows.len() {
        return Err(EvaluationError::EmbeddingCount(
            embeddings.len(),
            set.rows.len(),
        ));
    }
    let mut parts: [Vec<usize>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for (i, row) in set.rows.iter().enumerate() {
        let slot = match part_of(&row.prompt, seed) {
            Part::Train => 0,
            Part::Validation => 1,
            Part::Test => 2,
        };
        parts[slot].push(i);
    }
    let [train, validation, test] = parts;
    for (name, rows) in [
        ("train", &train),
        ("validation", &validation),
        ("test", &test),
    ] {
        if rows.is_empty() {
            return Err(EvaluationError::EmptySplit(name));
        }
    }

    let with_features: Vec<Vec<f32>> = set
        .rows
        .iter()
        .zip(embeddings)
        .map(|(row, e)| input_for(&row.prompt, e))
        .collect();
    let inputs = |features: bool| {
        if features {
            with_features.as_slice()
        } else {
            embeddings
        }
    };
    let fit = |rows: &[usize], l2: f64, features: bool| {
        let e: Vec<&[f32]> = rows
            .iter()
            .map(|&i| inputs(features)[i].as_slice())
            .collect();
        let s: Vec<&[f32]> = rows
            .iter()
            .map(|&i| set.rows[i].scores.as_slice())
            .collect();
        let training = TrainingSet {
            models: &set.models,
            embeddings: &e,
            scores: &s,
        };
        let predictor = QualityPredictor::train(&training, embedder_fingerprint, l2)?;
        Ok::<_, PredictorError>(if features {
            predictor.with_prompt_features()
        } else {
            predictor
        })
    };
    let learned =
        |predictor: &QualityPredictor, rows: &[usize]| -> Result<Vec<Routed>, PredictorError> {
            rows.iter()
                .map(|&i| {
                    let p = predictor.predict_prompt(&set.rows[i].prompt, &embeddings[i])?;
                    Ok(routed(
                        set,
                        i,
                        f64::from(p[strong_i].1) - f64::from(p[weak_i].1),
                        strong_i,
                        weak_i,
                    ))
                })
                .collect()
        };

    let mut validation_apgr = Vec::new();
    for features in [false, true] {
        for l2 in L2_GRID {
            let predictor = fit(&train, l2, features)?;
            let metrics = router_metrics(&learned(&predictor, &validation)?)
                .map_err(|e| EvaluationError::Metrics("validation", e))?;
            validation_apgr.push((features, l2, metrics.apgr));
        }
    }
    let (chosen_features, chosen_l2) = validation_apgr
        .iter()
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .map_or((false, L2_GRID[0]), |best| (best.0, best.1));

    let train_and_validation: Vec<usize> = train.iter().chain(&validation).copied().collect();
    let predictor = fit(&train_and_validation, chosen_l2, chosen_features)?;
    let on_test = |values: Vec<Routed>| {
        router_metrics(&values).map_err(|e| EvaluationError::Metrics("test", e))
    };
    let curve_row = |router, m: RouterMetrics| RouterRow {
        router,
        apgr: Some(m.apgr),
        cpt50: m.cpt50,
        cpt80: m.cpt80,
    };
    let learned_metrics = on_test(learned(&predictor, &test)?)?;
    let random_metrics = on_test(
        test.iter()
            .map(|&i| routed(set, i, 0.0, strong_i, weak_i))
            .collect(),
    )?;
    let oracle_metrics = on_test(
        test.iter()
            .map(|&i| {
                let s = &set.rows[i].scores;
                routed(
                    set,
                    i,
                    f64::from(s[strong_i]) - f64::from(s[weak_i]),
                    strong_i,
                    weak_i,
                )
            })
            .collect(),
    )?;
    let mean = |m: usize| {
        test.iter()
            .map(|&i| f64::from(set.rows[i].scores[m]))
            .sum::<f64>()
            / test.len() as f64
    };
    Ok(Evaluation {
        train_rows: train.len(),
        validation_rows: validation.len(),
        test_rows: test.len(),
        validation_apgr,
        chosen_l2,
        chosen_features,
        weak_mean: mean(weak_i),
        strong_mean: mean(strong_i),
        table: vec![
            curve_row("learned (this predictor)", learned_metrics),
            curve_row("random", random_metrics),
            RouterRow {
                router: "always weak",
                apgr: None,
                cpt50: None,
                cpt80: None,
            },
            RouterRow {
                router: "always strong",
                apgr: None,
                cpt50: Some(1.0),
                cpt80: Some(1.0),
            },
            curve_row("oracle", oracle_metrics),
        ],
        predictor,
    })
}

fn routed(set: &LabelledSet, i: usize, value: f64, strong_i: usize, weak_i: usize) -> Routed {
    let scores = &set.rows[i].scores;
    Routed {
        router_value: value,
        weak_score: f64::from(scores[weak_i]),
        strong_score: f64::from(scores[strong_i]),
    }
}
