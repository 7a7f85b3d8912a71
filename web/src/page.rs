//! The status page as Leptos components, rendered to a complete HTML document on the server.

use leptos::prelude::*;

use crate::status::{BreakerRow, ModelRow, Status};

/// The whole document, doctype included.
pub fn render(status: &Status) -> String {
    let status = status.clone();
    let owner = Owner::new();
    let body = owner.with(|| view! { <StatusPage status=status/> }.to_html());
    format!("<!DOCTYPE html>{body}")
}

#[component]
fn StatusPage(status: Status) -> impl IntoView {
    let provider_count = status.providers.len();
    let model_count = status.models.len();
    view! {
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>"LLM Gateway status"</title>
                <style>{STYLE}</style>
            </head>
            <body>
                <h1>"LLM Gateway"</h1>
                <p class="summary">
                    "Version " {status.version} ": " {provider_count} " providers, "
                    {model_count} " routable models."
                </p>
                <h2>"Providers"</h2>
                <ul class="providers">
                    {status.providers.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
                </ul>
                <h2>"Models"</h2>
                <Models models=status.models/>
                <h2>"Circuit breakers"</h2>
                <Breakers breakers=status.breakers/>
            </body>
        </html>
    }
}

#[component]
fn Models(models: Vec<ModelRow>) -> impl IntoView {
    view! {
        <table class="models">
            <thead>
                <tr>
                    <th>"Model"</th>
                    <th>"Kind"</th>
                    <th>"Input $/Mtok"</th>
                    <th>"Output $/Mtok"</th>
                    <th>"Quality prior"</th>
                </tr>
            </thead>
            <tbody>
                {models
                    .into_iter()
                    .map(|m| {
                        view! {
                            <tr>
                                <td>{m.id}</td>
                                <td>{m.kind}</td>
                                <td>{format!("{:.2}", m.input_per_mtok)}</td>
                                <td>{format!("{:.2}", m.output_per_mtok)}</td>
                                <td>{m.quality.map_or_else(|| "unknown".to_owned(), |q| format!("{q:.2}"))}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Breakers(breakers: Vec<BreakerRow>) -> impl IntoView {
    if breakers.is_empty() {
        return view! { <p class="breakers">"No model has seen traffic in this instance yet: every breaker is closed."</p> }
            .into_any();
    }
    view! {
        <table class="breakers">
            <thead>
                <tr>
                    <th>"Model"</th>
                    <th>"Breaker"</th>
                    <th>"Requests"</th>
                    <th>"Error rate"</th>
                </tr>
            </thead>
            <tbody>
                {breakers
                    .into_iter()
                    .map(|b| {
                        view! {
                            <tr>
                                <td>{b.model}</td>
                                <td class=b.state>{b.state}</td>
                                <td>{b.requests}</td>
                                <td>{format!("{:.1}%", b.error_rate * 100.0)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;\
border-bottom:1px solid #ddd}td.open{color:#b00}td.half-open{color:#a60}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{BreakerRow, ModelRow, Status};

    fn status() -> Status {
        Status {
            version: "0.1.0",
            providers: vec!["openai".into(), "groq".into()],
            models: vec![ModelRow {
                id: "openai/gpt-4o-mini".into(),
                kind: "chat",
                input_per_mtok: 0.15,
                output_per_mtok: 0.6,
                quality: Some(0.82),
            }],
            breakers: vec![BreakerRow {
                model: "groq/llama-3.1-8b-instant".into(),
                state: "open",
                requests: 12,
                error_rate: 0.5,
            }],
        }
    }

    #[test]
    fn the_page_lists_providers_models_and_breakers() {
        let html = render(&status());
        assert!(html.starts_with("<!DOCTYPE html><html"), "{html}");
        assert!(html.contains("<li>openai</li>"), "{html}");
        assert!(html.contains("openai/gpt-4o-mini"), "{html}");
        assert!(html.contains("0.15") && html.contains("0.82"), "{html}");
        assert!(
            html.contains("groq/llama-3.1-8b-instant") && html.contains("50.0%"),
            "{html}"
        );
    }

    #[test]
    fn text_from_the_state_is_escaped() {
        let mut status = status();
        status.providers = vec!["<script>x</script>".into()];
        let html = render(&status);
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn without_traffic_the_page_says_every_breaker_is_closed() {
        let mut status = status();
        status.breakers.clear();
        assert!(render(&status).contains("every breaker is closed"));
    }
}
