//! `recommendations`: the weekly schedule's event, receipts from the store, reports in S3.

use gateway_blobs::BlobKey;
use gateway_blobs::BlobStore;
use gateway_blobs::s3::{S3Bucket, S3Config};
use gateway_store::model::org::{Organization, Plan};
use gateway_store::model::receipt::{ReceiptDetails, ReceiptRecord, TokenCounts};
use gateway_store::sqlite::SqliteStore;
use gateway_store::{OrgStore, ReceiptStore, Timestamp};
use gateway_tests::runtime_api::Outcome;
use serde_json::{Value, json};

use crate::harness::{self, TempPath};

fn receipt(org_id: &str, i: usize, at: Timestamp) -> ReceiptRecord {
    ReceiptRecord {
        request_id: format!("req_{i}"),
        org_id: org_id.to_owned(),
        key_id: None,
        at,
        routing_decision: "direct".to_owned(),
        provider: "openai".to_owned(),
        model: "openai/gpt-4o".to_owned(),
        status: 200,
        latency_ms: 800,
        tokens: TokenCounts {
            prompt: 2_000,
            completion: 400,
            total: 2_400,
        },
        cost_usd: 0.009,
        fallback_attempts: Vec::new(),
        details: ReceiptDetails::none(),
        expires_at: at.plus_days(30),
    }
}

#[tokio::test]
async fn the_schedule_writes_a_report_per_organisation_to_s3() {
    let moto = harness::moto_url("LLM_GATEWAY_TEST_S3_URL");
    let dir = TempPath(std::env::temp_dir().join(harness::unique("recommendations")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let db = dir.0.join("gateway.db");

    let store = SqliteStore::open(&db).await.unwrap();
    let now = Timestamp::now();
    let busy = Organization::new("busy", Plan::Pro, now);
    let idle = Organization::new("idle", Plan::Free, now);
    store.create_org(&busy).await.unwrap();
    store.create_org(&idle).await.unwrap();
    let mut receipts: Vec<_> = (0..20)
        .map(|i| receipt(&busy.id, i, now.plus_days(-1)))
        .collect();
    // Older than the week analysed: not counted.
    receipts.push(receipt(&busy.id, 99, now.plus_days(-9)));
    store.append_receipts(receipts.into()).await.unwrap();

    let bucket = harness::unique("reports");
    let s3 = S3Bucket::connect(&S3Config {
        bucket: bucket.clone(),
        prefix: String::new(),
        endpoint_url: Some(moto.clone()),
        region: Some("us-east-1".to_owned()),
        credentials: Some(("testing".to_owned(), "testing".to_owned())),
    })
    .await;
    s3.client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();

    let function = harness::start(
        "recommendations",
        &[
            ("LLM_GATEWAY__STORE__PATH", db.display().to_string()),
            ("LLM_GATEWAY_REPORTS_BUCKET", bucket.clone()),
            ("LLM_GATEWAY_REPORTS_S3_ENDPOINT", moto.clone()),
            ("OPENAI_API_KEY", "sk-test".to_owned()),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1".to_owned()),
        ],
    )
    .await;
    let outcome = function
        .invoke(harness::event("recommendations-schedule.json"))
        .await;
    let Outcome::Response(response) = outcome else {
        panic!("{outcome:?}\n{}", function.process.output());
    };
    let answer = response.json().unwrap();
    assert_eq!(answer["organisations"], 2, "{answer}");
    assert_eq!(answer["reports"].as_array().unwrap().len(), 2, "{answer}");

    let latest = |org: &str| BlobKey::parse(&format!("recommendations/{org}/latest.json")).unwrap();
    let report: Value = serde_json::from_slice(&s3.get(&latest(&busy.id)).await.unwrap()).unwrap();
    assert_eq!(report["org_id"], json!(busy.id));
    assert_eq!(report["summary"]["requests"], 20, "{report}");
    let saving = report["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "cost_savings")
        .unwrap_or_else(|| panic!("no cost saving: {report}"));
    assert_eq!(saving["from_model"], "openai/gpt-4o");
    assert!(
        saving["estimated_savings_usd"].as_f64().unwrap() > 0.0,
        "{saving}"
    );
    assert!(
        saving["to_quality"].as_f64().unwrap() >= saving["from_quality"].as_f64().unwrap(),
        "{saving}"
    );

    let quiet: Value = serde_json::from_slice(&s3.get(&latest(&idle.id)).await.unwrap()).unwrap();
    assert_eq!(quiet["summary"]["requests"], 0);
    assert_eq!(quiet["recommendations"], json!([]));
    let dated = s3
        .list(&format!("recommendations/{}", busy.id))
        .await
        .unwrap();
    assert_eq!(dated.len(), 2, "{dated:?}");

    // A malformed event is reported to the runtime as the invocation's error.
    match function.invoke(json!({ "days": 0 })).await {
        Outcome::Error { error_type, body } => {
            assert!(error_type.is_some(), "{body}");
            assert!(
                body["errorMessage"].as_str().unwrap().contains("days"),
                "{body}"
            );
        }
        Outcome::Response(response) => panic!("answered {:?}", response.json()),
    }
}
