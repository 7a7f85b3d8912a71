//! The admin API's OpenAPI document: served without a token, and complete both ways. Every
//! route registered in `shared/server/src/admin/` (read from the source, so a route added
//! without documentation fails here) is in the document, and every documented operation is
//! served (probed over HTTP: never an unknown path or a wrong method).

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use super::{call, json, new_org};
use crate::helpers::spawn_app;

/// `(METHOD, path)` of every `.route("path", get(..).post(..))` in the admin module's source.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/server/src/admin");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut rest = source.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let open = rest.find('"').unwrap();
            let close = open + 1 + rest[open + 1..].find('"').unwrap();
            let path = &rest[open + 1..close];
            // The method router: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let mut end = close;
            for (i, c) in rest[close..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = close + i;
                    break;
                }
            }
            let methods = &rest[close + 1..end];
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = methods.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0
                        || !methods.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && methods.as_bytes()[i - 1] != b'_'
                });
                if called {
                    routes.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    routes
}

fn routes_in_document(document: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let relative = path
                .strip_prefix("/admin/v1")
                .unwrap_or_else(|| panic!("{path} is outside /admin/v1"));
            routes.insert((method.to_uppercase(), relative.to_owned()));
        }
    }
    routes
}

#[tokio::test]
async fn the_openapi_document_describes_every_admin_route_and_nothing_else() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let (status, document) = json(call(&app, None, Method::GET, "/openapi.json", None).await).await;
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        document["components"]["securitySchemes"]["admin_token"]["scheme"],
        "bearer"
    );

    let source = routes_in_source();
    assert!(source.len() >= 20, "{source:?}");
    let documented = routes_in_document(&document);
    let undocumented: Vec<_> = source.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );

    let mut operation_ids = BTreeSet::new();
    for (method, path) in &documented {
        let operation = &document["paths"][format!("/admin/v1{path}")][method.to_lowercase()];
        let id = operation["operationId"].as_str().unwrap().to_owned();
        assert!(
            operation_ids.insert(id.clone()),
            "operationId {id} is used twice"
        );
        if path != "/openapi.json" {
            assert_eq!(
                operation["security"][0]["admin_token"],
                serde_json::json!([]),
                "{method} {path}"
            );
        }
        let concrete = path
            .replace("{org_id}", &owner.org_id)
            .replace("{key_id}", "key_unknown")
            .replace("{user_id}", "usr_unknown")
            .replace("{request_id}", "req_unknown");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = [Method::POST, Method::PATCH]
            .contains(&method)
            .then(|| serde_json::json!({}));
        let (status, answer) =
            json(call(&app, Some(&owner.token), method.clone(), &concrete, body).await).await;
        assert_ne!(status, 405, "{method} {path}: {answer}");
        assert_ne!(
            answer["error"]["code"], "unknown_url",
            "{method} {path}: {answer}"
        );
    }
    app.shutdown().await;
}
