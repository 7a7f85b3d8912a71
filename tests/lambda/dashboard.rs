//! `dashboard`: the Leptos status page behind a buffered Function URL.

use gateway_tests::runtime_api::Outcome;

use crate::harness;

#[tokio::test]
async fn the_status_page_is_rendered_html_with_the_configured_models() {
    let function = harness::start(
        "dashboard",
        &[
            ("OPENAI_API_KEY", "sk-test".to_owned()),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1".to_owned()),
        ],
    )
    .await;
    let outcome = function
        .invoke(harness::event("function-url-dashboard.json"))
        .await;
    let Outcome::Response(response) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(!response.streaming, "the dashboard's URL is buffered");
    let answer = response.json().unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        answer["headers"]["content-type"],
        "text/html; charset=utf-8"
    );
    let html = answer["body"].as_str().unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<li>openai</li>"), "{html}");
    assert!(html.contains("openai/gpt-4o-mini"), "{html}");
    assert!(html.contains("every breaker is closed"), "{html}");

    let mut missing = harness::event("function-url-dashboard.json");
    missing["rawPath"] = "/nothing-here".into();
    missing["requestContext"]["http"]["path"] = "/nothing-here".into();
    let Outcome::Response(response) = function.invoke(missing).await else {
        panic!("no response");
    };
    assert_eq!(response.json().unwrap()["statusCode"], 404);
}
