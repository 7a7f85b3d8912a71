//! Predicted answer quality of each candidate model on one request.
//!
//! The router asks a [`QualityPredictor`]; the default one reads the catalog's quality priors
//! and lowers them with the request's difficulty, weaker models more. A learned predictor
//! (embeddings of the prompt) plugs in through the same trait.

use crate::catalog::ModelEntry;

use super::analysis::RequestAnalysis;

/// Prior assumed for a model the catalog has no quality for (a declared self-hosted model).
pub const UNKNOWN_QUALITY: f64 = 0.5;

pub trait QualityPredictor: Send + Sync {
    /// One prediction (0-1) per candidate, in the candidates' order.
    fn predict(&self, request: &RequestAnalysis, candidates: &[&ModelEntry]) -> Vec<f64>;

    /// What produced the predictions for `candidates`, for the receipt (`prior`, `learned`,
    /// and why a learned predictor fell back to the prior).
    fn describe(&self, candidates: &[&ModelEntry]) -> String;
}

/// Catalog priors adjusted by difficulty: `prior × (1 − difficulty × (1 − prior))`. An easy
/// request keeps every prior; a hard one costs a 0.9 model 10% and a 0.5 model half.
#[derive(Debug, Clone, Copy, Default)]
pub struct PriorQualityPredictor;

impl QualityPredictor for PriorQualityPredictor {
    fn predict(&self, request: &RequestAnalysis, candidates: &[&ModelEntry]) -> Vec<f64> {
        let difficulty = request.difficulty.clamp(0.0, 1.0);
        candidates
            .iter()
            .map(|m| {
                let prior = m.quality.unwrap_or(UNKNOWN_QUALITY);
                prior * (1.0 - difficulty * (1.0 - prior))
            })
            .collect()
    }

    fn describe(&self, _candidates: &[&ModelEntry]) -> String {
        PRIOR.to_owned()
    }
}

/// How the receipt names the catalog-prior predictor.
pub const PRIOR: &str = "prior";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn difficulty_lowers_weak_models_more_than_strong_ones() {
        let catalog = Catalog::built_in().unwrap();
        let strong = catalog.get("anthropic/claude-sonnet-4-6").unwrap();
        let weak = catalog.get("groq/llama-3.1-8b-instant").unwrap();
        let mut analysis = RequestAnalysis {
            prompt_tokens: 10,
            prompt_tokens_exact: true,
            expected_output_tokens: 10,
            requested_max_output: None,
            needs: vec![],
            difficulty: 0.0,
        };
        let easy = PriorQualityPredictor.predict(&analysis, &[strong, weak]);
        assert_eq!(easy, vec![0.873, 0.483]);
        analysis.difficulty = 1.0;
        let hard = PriorQualityPredictor.predict(&analysis, &[strong, weak]);
        assert!((easy[0] - hard[0]) < (easy[1] - hard[1]));
        assert!((hard[1] - 0.483 * 0.483).abs() < 1e-9);
    }
}
