//! SageMaker InvokeEndpoint / InvokeEndpointWithResponseStream translation, case by case
//! from the documented LMI / vLLM / TGI examples (`tests/cases/sagemaker/*.json`; see
//! `common` for the case format).

#![expect(clippy::unwrap_used, reason = "a panic in a test is that test failing")]

mod common;

use gateway_core::providers::Dialect;

#[tokio::test]
async fn sagemaker_cases_translate_both_ways() {
    common::run_cases("tests/cases/sagemaker", Dialect::Sagemaker).await;
}
