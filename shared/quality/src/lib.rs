//! Predicted answer quality for `auto` routing, learned from labelled data.
//!
//! The router needs to know, before calling anything, how likely each candidate model is to
//! answer a prompt well. This crate learns that from prompts labelled with per-model scores
//! and proves it with the RouteLLM metrics on a held-out split.
//!
//! - [`embedder`]: prompt embeddings with a local all-MiniLM-L6-v2 (candle, CPU).
//! - [`dataset`]: the labelled-data formats and the RouteLLM files as published.
//! - [`predictor`]: [`QualityPredictor`], trained from embeddings and scores, saved as JSON.
//! - [`prompt_features`]: counts and arithmetic features a predictor may add to the embedding.
//! - [`split`]: the fixed, seeded train/validation/test split.
//! - [`metrics`]: PGR curve, APGR, CPT for a strong/weak pair.
//! - [`evaluation`]: cross-validate the settings, report on test against reference routers.
//! - [`embedding_cache`]: a dataset's embeddings, computed in parallel and kept on disk.

pub mod dataset;
pub mod embedder;
pub mod embedding_cache;
pub mod evaluation;
pub mod metrics;
pub mod predictor;
pub mod prompt_features;
pub mod split;

pub use embedder::Embedder;
pub use predictor::QualityPredictor;
