//! Bedrock Converse / ConverseStream translation, case by case from AWS's documented
//! examples (`tests/cases/bedrock/*.json`; see `common` for the case format).

#![expect(clippy::unwrap_used, reason = "a panic in a test is that test failing")]

mod common;

use gateway_core::providers::Dialect;

#[tokio::test]
async fn bedrock_cases_translate_both_ways() {
    common::run_cases("tests/cases/bedrock", Dialect::Bedrock).await;
}
