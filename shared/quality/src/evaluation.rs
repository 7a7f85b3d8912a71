//! The router evaluation: choose the predictor's settings by cross-validation over the train
//! and validation rows, refit on all of them, and report on the untouched test split how well
//! "call the strong model when its predicted advantage is large" recovers the quality gap,
//! next to the reference routers.
//!
//! Cross-validation, rather than one validation split, because the small datasets are where
//! routing data is scarce: the 267 validation prompts of GSM8K rank settings mostly by luck,
//! while five folds, cut again on further passes until [`HELD_OUT_WANTED`] predictions back
//! each setting, use every prompt both to train and to judge. A setting's score is its mean
//! APGR over the folds.
//!
//! The same procedure on a rotated split ([`crate::split`]) judges another fifth of the data,
//! so five runs test every prompt once, each by a predictor chosen and fitted without it.
//!
//! The learned router's value for a prompt is P(strong answers well) - P(weak answers well).
//! References on the same test rows: random routing (the expected curve, the diagonal),
//! always weak, always strong, and the oracle that knows the true scores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::dataset::LabelledSet;
use crate::metrics::{MetricsError, Routed, RouterMetrics, router_metrics};
use crate::predictor::{PredictorError, QualityPredictor, Settings, TrainingSet};
use crate::prompt_features::PromptFeatures;
use crate::split::{Part, fold_of, part_in_rotation};

/// L2 weights tried.
pub const L2_GRID: [f64; 7] = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0];
/// Features tried after the embedding, with the weight they get against it.
pub const FEATURE_GRID: [(PromptFeatures, f64); 4] = [
    (PromptFeatures::None, 1.0),
    (PromptFeatures::Arithmetic, 1.0),
    (PromptFeatures::Arithmetic, 3.0),
    (PromptFeatures::Arithmetic, 10.0),
];
/// Folds per cross-validation pass.
pub const FOLDS: usize = 5;
/// Held-out predictions wanted behind each setting's score: a dataset smaller than this is
/// cross-validated again with other folds (whole passes, up to [`MAX_PASSES`]); on a larger
/// one, the first folds of one pass that reach it are enough.
pub const HELD_OUT_WANTED: usize = 5_000;
pub const MAX_PASSES: usize = 10;

/// How many folds are fitted and judged for `rows` rows: see [`HELD_OUT_WANTED`].
pub fn folds_to_run(rows: usize) -> usize {
    if rows >= HELD_OUT_WANTED {
        HELD_OUT_WANTED.div_ceil((rows / FOLDS).max(1)).min(FOLDS)
    } else {
        HELD_OUT_WANTED.div_ceil(rows.max(1)).min(MAX_PASSES) * FOLDS
    }
}

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
    #[error("{0}: {1}")]
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

/// A setting's mean APGR over the cross-validation folds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tried {
    pub settings: Settings,
    pub apgr: f64,
}

/// Everything the evaluation measured.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub train_rows: usize,
    pub validation_rows: usize,
    pub test_rows: usize,
    /// Cross-validation folds fitted and judged ([`folds_to_run`]), pass after pass of
    /// [`FOLDS`] folds.
    pub folds_run: usize,
    /// Every setting tried, in grid order: features, then L2 weight.
    pub tried: Vec<Tried>,
    pub chosen: Settings,
    pub weak_mean: f64,
    pub strong_mean: f64,
    /// Learned, random, always weak, always strong, oracle.
    pub table: Vec<RouterRow>,
    /// The predictor refitted on train + validation with the chosen settings.
    pub predictor: QualityPredictor,
}

impl Evaluation {
    /// The learned router's test APGR.
    pub fn learned_apgr(&self) -> Option<f64> {
        self.table.first().and_then(|r| r.apgr)
    }
}

/// Runs the evaluation on `set` (with `embeddings[i]` the embedding of `set.rows[i]`), on the
/// split of `seed` turned by `rotation` fifths (0: the documented split; see
/// [`crate::split`]).
pub fn evaluate(
    set: &LabelledSet,
    embeddings: &[Vec<f32>],
    embedder_fingerprint: &str,
    (strong, weak): (&str, &str),
    seed: u64,
    rotation: usize,
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
        let slot = match part_in_rotation(&row.prompt, seed, rotation) {
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

    let data = Data {
        set,
        embeddings,
        with_features: set
            .rows
            .iter()
            .zip(embeddings)
            .map(|(row, e)| PromptFeatures::Arithmetic.input(&row.prompt, e))
            .collect(),
        fingerprint: embedder_fingerprint,
        strong_i,
        weak_i,
    };
    let train_and_validation: Vec<usize> = train.iter().chain(&validation).copied().collect();
    let folds_run = folds_to_run(train_and_validation.len());
    let tried = cross_validate(&data, &train_and_validation, seed, folds_run)?;
    let chosen = best_of(&tried);

    let predictor = data.fit(&train_and_validation, chosen)?;
    let on_test = |values: Vec<Routed>| {
        router_metrics(&values).map_err(|e| EvaluationError::Metrics("test", e))
    };
    let curve_row = |router, m: RouterMetrics| RouterRow {
        router,
        apgr: Some(m.apgr),
        cpt50: m.cpt50,
        cpt80: m.cpt80,
    };
    let learned_metrics = on_test(data.routed_by(&predictor, &test)?)?;
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
        folds_run,
        tried,
        chosen,
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

/// The setting with the highest mean APGR (the last of equals, in grid order). The grids are
/// non-empty constants, so there always is one.
fn best_of(tried: &[Tried]) -> Settings {
    let first = Settings {
        l2: L2_GRID[0],
        features: FEATURE_GRID[0].0,
        feature_weight: FEATURE_GRID[0].1,
    };
    tried
        .iter()
        .max_by(|a, b| a.apgr.total_cmp(&b.apgr))
        .map_or(first, |best| best.settings)
}

/// The dataset with its inputs, as the fits and the routers read it.
struct Data<'a> {
    set: &'a LabelledSet,
    embeddings: &'a [Vec<f32>],
    /// Each embedding followed by [`PromptFeatures::Arithmetic`] of its prompt.
    with_features: Vec<Vec<f32>>,
    fingerprint: &'a str,
    strong_i: usize,
    weak_i: usize,
}

impl Data<'_> {
    fn inputs(&self, features: PromptFeatures, rows: &[usize]) -> Vec<&[f32]> {
        rows.iter()
            .map(|&i| match features {
                PromptFeatures::None => self.embeddings[i].as_slice(),
                _ => &self.with_features[i][..self.embeddings[i].len() + features.len()],
            })
            .collect()
    }

    fn scores(&self, rows: &[usize]) -> Vec<&[f32]> {
        rows.iter()
            .map(|&i| self.set.rows[i].scores.as_slice())
            .collect()
    }

    fn fit(&self, rows: &[usize], settings: Settings) -> Result<QualityPredictor, PredictorError> {
        let (inputs, scores) = (self.inputs(settings.features, rows), self.scores(rows));
        let training = TrainingSet {
            models: &self.set.models,
            inputs: &inputs,
            scores: &scores,
        };
        QualityPredictor::train(&training, self.fingerprint, settings)
    }

    /// One predictor per weight of [`L2_GRID`], the other settings shared.
    fn fit_each_l2(
        &self,
        rows: &[usize],
        (features, weight): (PromptFeatures, f64),
    ) -> Result<Vec<QualityPredictor>, PredictorError> {
        let (inputs, scores) = (self.inputs(features, rows), self.scores(rows));
        let training = TrainingSet {
            models: &self.set.models,
            inputs: &inputs,
            scores: &scores,
        };
        QualityPredictor::train_each_l2(&training, self.fingerprint, features, weight, &L2_GRID)
    }

    /// The learned router's value for each row.
    fn routed_by(
        &self,
        predictor: &QualityPredictor,
        rows: &[usize],
    ) -> Result<Vec<Routed>, PredictorError> {
        rows.iter()
            .map(|&i| {
                let p = predictor.predict_prompt(&self.set.rows[i].prompt, &self.embeddings[i])?;
                Ok(routed(
                    self.set,
                    i,
                    f64::from(p[self.strong_i].1) - f64::from(p[self.weak_i].1),
                    self.strong_i,
                    self.weak_i,
                ))
            })
            .collect()
    }
}

/// Mean held-out APGR of every setting of [`FEATURE_GRID`] × [`L2_GRID`] over the first
/// `folds_run` folds of `rows`, pass after pass of [`FOLDS`]. Each fold and feature setting is
/// one job (all L2 weights fitted together); jobs run on every core.
fn cross_validate(
    data: &Data<'_>,
    rows: &[usize],
    seed: u64,
    folds_run: usize,
) -> Result<Vec<Tried>, EvaluationError> {
    let jobs: Vec<(usize, usize, usize)> = (0..folds_run)
        .flat_map(|k| (0..FEATURE_GRID.len()).map(move |f| (k / FOLDS, k % FOLDS, f)))
        .collect();
    let run = |&(pass, fold, f): &(usize, usize, usize)| -> Result<Vec<f64>, EvaluationError> {
        let (held_out, fitting): (Vec<usize>, Vec<usize>) = rows
            .iter()
            .partition(|&&i| fold_of(&data.set.rows[i].prompt, seed, pass as u64, FOLDS) == fold);
        data.fit_each_l2(&fitting, FEATURE_GRID[f])?
            .iter()
            .map(|predictor| {
                let metrics = router_metrics(&data.routed_by(predictor, &held_out)?)
                    .map_err(|e| EvaluationError::Metrics("a cross-validation fold", e))?;
                Ok(metrics.apgr)
            })
            .collect()
    };
    let next = AtomicUsize::new(0);
    let results = Mutex::new((0..jobs.len()).map(|_| None).collect::<Vec<_>>());
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(jobs.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(j) else { break };
                    let result = run(job);
                    let failed = result.is_err();
                    // A worker that panics takes the evaluation down with it (the scope
                    // re-raises the panic), so a poisoned lock never hides a missing fold.
                    results.lock().unwrap_or_else(PoisonError::into_inner)[j] = Some(result);
                    if failed {
                        // Stop handing out work; the error is reported below.
                        next.store(jobs.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut sums = vec![0.0; FEATURE_GRID.len() * L2_GRID.len()];
    for (job, result) in jobs.iter().zip(results) {
        let Some(result) = result else { continue };
        for (l, apgr) in result?.into_iter().enumerate() {
            sums[job.2 * L2_GRID.len() + l] += apgr;
        }
    }
    let per_setting = folds_run as f64;
    Ok(FEATURE_GRID
        .iter()
        .flat_map(|&(features, feature_weight)| {
            L2_GRID.iter().map(move |&l2| Settings {
                l2,
                features,
                feature_weight,
            })
        })
        .zip(sums)
        .map(|(settings, sum)| Tried {
            settings,
            apgr: sum / per_setting,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::LabelledPrompt;

    /// The weak model fails the prompts whose first embedding value is high; the strong one
    /// answers nearly all.
    fn synthetic() -> (LabelledSet, Vec<Vec<f32>>) {
        let mut rows = Vec::new();
        let mut embeddings = Vec::new();
        for i in 0..400u32 {
            let hard = (i * 7919 % 400) as f32 / 400.0;
            let noise = (i * 104_729 % 97) as f32 / 97.0;
            embeddings.push(vec![hard, noise, 0.5 - noise, (i % 3) as f32]);
            rows.push(LabelledPrompt {
                prompt: format!("question {i}"),
                scores: vec![f32::from(hard < 0.6), f32::from(i % 10 != 0)],
            });
        }
        let set = LabelledSet {
            models: vec!["weak".into(), "strong".into()],
            rows,
            contaminated_dropped: 0,
        };
        (set, embeddings)
    }

    #[test]
    fn settings_are_cross_validated_and_the_learned_router_beats_random_on_test() {
        let (set, embeddings) = synthetic();
        let result = evaluate(&set, &embeddings, "toy", ("strong", "weak"), 1, 0).unwrap();
        let rows = result.train_rows + result.validation_rows;
        assert_eq!(result.folds_run, folds_to_run(rows));
        assert_eq!(
            result.folds_run,
            MAX_PASSES * FOLDS,
            "{rows} rows: every pass"
        );
        assert_eq!(result.tried.len(), FEATURE_GRID.len() * L2_GRID.len());
        let best = result.tried.iter().map(|t| t.apgr).fold(f64::MIN, f64::max);
        assert!(
            result
                .tried
                .iter()
                .any(|t| t.settings == result.chosen && t.apgr == best)
        );
        assert!(best > 0.6, "cross-validated APGR {best}");
        let learned = result.learned_apgr().unwrap();
        assert!(learned > 0.6, "test APGR {learned}");
        assert_eq!(result.table[1].apgr, Some(0.5));
        assert_eq!(result.predictor.prompt_features(), result.chosen.features);
        assert_eq!(result.predictor.l2(), result.chosen.l2);
    }

    #[test]
    fn the_rotations_test_each_prompt_once() {
        let (set, embeddings) = synthetic();
        let mut tested = 0;
        let mut apgrs = Vec::new();
        for rotation in 0..crate::split::ROTATIONS {
            let result =
                evaluate(&set, &embeddings, "toy", ("strong", "weak"), 1, rotation).unwrap();
            assert_eq!(
                result.train_rows + result.validation_rows + result.test_rows,
                set.rows.len()
            );
            tested += result.test_rows;
            apgrs.push(result.learned_apgr().unwrap());
        }
        assert_eq!(tested, set.rows.len());
        assert!(apgrs.iter().all(|&a| a > 0.6), "{apgrs:?}");
        assert!(
            apgrs.windows(2).any(|w| w[0] != w[1]),
            "each rotation judges other rows: {apgrs:?}"
        );
    }

    #[test]
    fn small_datasets_get_more_passes_and_large_ones_fewer_folds() {
        assert_eq!(folds_to_run(1_058), 5 * FOLDS);
        assert_eq!(folds_to_run(300), MAX_PASSES * FOLDS);
        assert_eq!(folds_to_run(4_999), 2 * FOLDS);
        assert_eq!(folds_to_run(11_157), 3, "2,231 per fold: three reach 5,000");
        assert_eq!(folds_to_run(100_000), 1);
    }

    #[test]
    fn an_unknown_model_is_named() {
        let (set, embeddings) = synthetic();
        let error = evaluate(&set, &embeddings, "toy", ("gpt-9", "weak"), 1, 0).unwrap_err();
        assert!(error.to_string().contains("gpt-9"), "{error}");
    }
}
