//! The request log (pagination newest first, every filter, TTL) and the audit log (search,
//! pages, JSON and CSV export, per-organisation retention).

use gateway_store::model::audit::{AuditEvent, AuditOutcome, CSV_HEADER, export_csv, export_json};
use gateway_store::model::org::{AuditRetentionDays, Organization, Plan};
use gateway_store::model::query::{AuditQuery, Cursor, ReceiptQuery};
use gateway_store::model::receipt::{FallbackAttempt, ReceiptDetails, ReceiptRecord, TokenCounts};
use gateway_store::ports::collect_audit;
use gateway_store::{Store, StoreError, Timestamp};

use super::{T0, stored_org};

const MODELS: [(&str, &str); 3] = [
    ("openai", "openai/gpt-4o"),
    ("groq", "groq/llama-3.1-8b-instant"),
    ("mistral", "mistral/mistral-small-latest"),
];

/// Receipt `i` of `org`, one second apart, cycling through models, statuses and two keys.
fn receipt(org: &Organization, i: i64) -> ReceiptRecord {
    let (provider, model) = MODELS[(i % 3) as usize];
    ReceiptRecord {
        request_id: format!("req_{}_{i:03}", org.id),
        org_id: org.id.clone(),
        key_id: Some(if i % 2 == 0 { "key_even" } else { "key_odd" }.to_owned()),
        at: T0.plus_secs(i),
        routing_decision: if i % 4 == 0 { "auto" } else { "direct" }.to_owned(),
        provider: provider.to_owned(),
        model: model.to_owned(),
        status: if i % 5 == 0 { 502 } else { 200 },
        latency_ms: 100 + i as u64,
        tokens: TokenCounts {
            prompt: 10,
            completion: i as u64,
            total: 10 + i as u64,
        },
        cost_usd: 0.0001 * i as f64,
        fallback_attempts: if i % 5 == 0 {
            vec![FallbackAttempt {
                provider: "openai".into(),
                model: "openai/gpt-4o".into(),
                error: "upstream_5xx".into(),
                latency_ms: 40,
            }]
        } else {
            Vec::new()
        },
        details: ReceiptDetails::of(
            &serde_json::json!({"request_id": format!("req_{i}"), "candidates": [model]}),
        ),
        expires_at: T0.plus_days(30),
    }
}

fn ids(records: &[ReceiptRecord]) -> Vec<i64> {
    records
        .iter()
        .map(|r| r.at.millis().wrapping_sub(T0.millis()) / 1000)
        .collect()
}

async fn all_pages<S: Store>(store: &S, mut query: ReceiptQuery, now: Timestamp) -> Vec<Vec<i64>> {
    let mut pages = Vec::new();
    loop {
        let page = store.query_receipts(&query, now).await.unwrap();
        pages.push(ids(&page.items));
        match page.next {
            Some(cursor) => query.cursor = Some(Cursor::from_token(cursor.as_str())),
            None => return pages,
        }
    }
}

pub async fn receipts_page_newest_first_with_an_opaque_cursor<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Pro).await;
    let other = stored_org(&store, Plan::Pro).await;
    let records: Vec<_> = (0..25).map(|i| receipt(&org, i)).collect();
    store.append_receipts(records[..13].into()).await.unwrap();
    store.append_receipts(records[13..].into()).await.unwrap();
    store
        .append_receipts(vec![receipt(&other, 3)].into())
        .await
        .unwrap();
    // A batch sent again replaces, never doubles.
    store.append_receipts(records[..2].into()).await.unwrap();

    let mut query = ReceiptQuery::for_org(&org.id);
    query.limit = 10;
    let pages = all_pages(&store, query.clone(), T0).await;
    assert_eq!(
        pages,
        [
            (15..25).rev().collect::<Vec<_>>(),
            (5..15).rev().collect(),
            (0..5).rev().collect()
        ]
    );
    let first = store.query_receipts(&query, T0).await.unwrap();
    assert_eq!(first.items[0], records[24]);

    // Exactly one page: no cursor.
    query.limit = 25;
    assert!(
        store
            .query_receipts(&query, T0)
            .await
            .unwrap()
            .next
            .is_none()
    );

    // Records written after a page was read do not shift the next page.
    query.limit = 10;
    let page = store.query_receipts(&query, T0).await.unwrap();
    store
        .append_receipts(vec![receipt(&org, 100)].into())
        .await
        .unwrap();
    query.cursor = page.next;
    assert_eq!(
        ids(&store.query_receipts(&query, T0).await.unwrap().items),
        (5..15).rev().collect::<Vec<_>>()
    );

    query.cursor = Some(Cursor::from_token("not-a-cursor"));
    assert!(matches!(
        store.query_receipts(&query, T0).await,
        Err(StoreError::Invalid(_))
    ));
}

pub async fn receipts_are_searched_by_every_filter<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Pro).await;
    let records: Vec<_> = (0..30).map(|i| receipt(&org, i)).collect();
    store.append_receipts(records.clone().into()).await.unwrap();
    let base = ReceiptQuery {
        limit: 4,
        ..ReceiptQuery::for_org(&org.id)
    };
    let flat = |pages: Vec<Vec<i64>>| pages.into_iter().flatten().collect::<Vec<_>>();
    let expect =
        |pred: &dyn Fn(i64) -> bool| (0..30).rev().filter(|i| pred(*i)).collect::<Vec<_>>();

    let q = ReceiptQuery {
        from: Some(T0.plus_secs(10)),
        until: Some(T0.plus_secs(20)),
        ..base.clone()
    };
    assert_eq!(
        flat(all_pages(&store, q, T0).await),
        expect(&|i| (10..20).contains(&i))
    );

    let q = ReceiptQuery {
        model: Some("groq/llama-3.1-8b-instant".into()),
        ..base.clone()
    };
    assert_eq!(
        flat(all_pages(&store, q, T0).await),
        expect(&|i| i % 3 == 1)
    );

    let q = ReceiptQuery {
        provider: Some("mistral".into()),
        ..base.clone()
    };
    assert_eq!(
        flat(all_pages(&store, q, T0).await),
        expect(&|i| i % 3 == 2)
    );

    let q = ReceiptQuery {
        status: Some(502),
        ..base.clone()
    };
    assert_eq!(
        flat(all_pages(&store, q, T0).await),
        expect(&|i| i % 5 == 0)
    );

    let q = ReceiptQuery {
        key_id: Some("key_odd".into()),
        ..base.clone()
    };
    assert_eq!(
        flat(all_pages(&store, q, T0).await),
        expect(&|i| i % 2 == 1)
    );

    let q = ReceiptQuery {
        request_id: Some(records[17].request_id.clone()),
        ..base.clone()
    };
    let page = store.query_receipts(&q, T0).await.unwrap();
    assert_eq!((page.items, page.next), (vec![records[17].clone()], None));

    // Every filter at once.
    let q = ReceiptQuery {
        from: Some(T0.plus_secs(3)),
        until: Some(T0.plus_secs(29)),
        provider: Some("openai".into()),
        model: Some("openai/gpt-4o".into()),
        status: Some(200),
        key_id: Some("key_even".into()),
        ..base.clone()
    };
    assert_eq!(
        flat(all_pages(&store, q, T0).await),
        expect(&|i| (3..29).contains(&i) && i % 3 == 0 && i % 5 != 0 && i % 2 == 0)
    );

    let nobody = ReceiptQuery {
        model: Some("none/none".into()),
        ..base.clone()
    };
    let page = store.query_receipts(&nobody, T0).await.unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
    let other_org = ReceiptQuery::for_org("org_missing");
    assert!(
        store
            .query_receipts(&other_org, T0)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn expired_receipts_are_never_returned_and_are_purged<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Free).await;
    let mut records: Vec<_> = (0..6).map(|i| receipt(&org, i)).collect();
    for (i, r) in records.iter_mut().enumerate() {
        r.expires_at = if i % 2 == 0 {
            T0.plus_secs(60)
        } else {
            T0.plus_days(7)
        };
    }
    store.append_receipts(records.clone().into()).await.unwrap();
    let query = ReceiptQuery::for_org(&org.id);
    assert_eq!(
        store.query_receipts(&query, T0).await.unwrap().items.len(),
        6
    );

    let later = T0.plus_secs(60);
    let page = store.query_receipts(&query, later).await.unwrap();
    assert_eq!(ids(&page.items), [5, 3, 1]);

    assert_eq!(store.purge_expired_receipts(later).await.unwrap(), 3);
    assert_eq!(store.purge_expired_receipts(later).await.unwrap(), 0);
    // Purged for good: even a reader whose clock is behind no longer sees them.
    assert_eq!(
        ids(&store.query_receipts(&query, T0).await.unwrap().items),
        [5, 3, 1]
    );
}

fn event(org: &Organization, i: i64, action: &str) -> AuditEvent {
    let mut e = AuditEvent::new(
        org,
        "user_1",
        action,
        &format!("key_{i}"),
        AuditOutcome::Success,
        T0.plus_secs(i),
    );
    if i % 3 == 0 {
        e.outcome = AuditOutcome::Denied;
        e.ip = Some("2001:db8::7".parse().unwrap());
        e.details = serde_json::json!({"reason": "ip not allowed, \"quoted\""});
    }
    e
}

pub async fn audit_events_are_searched_paged_and_exported<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Starter).await;
    let other = stored_org(&store, Plan::Starter).await;
    let actions = ["key.create", "key.revoke", "member.add"];
    let events: Vec<_> = (0..12)
        .map(|i| event(&org, i, actions[(i % 3) as usize]))
        .collect();
    for e in &events {
        store.append_audit(e).await.unwrap();
    }
    store
        .append_audit(&event(&other, 1, "key.create"))
        .await
        .unwrap();

    let mut query = AuditQuery {
        limit: 5,
        ..AuditQuery::for_org(&org.id)
    };
    let page = store.query_audit(&query, T0).await.unwrap();
    assert_eq!(
        page.items,
        events[7..].iter().rev().cloned().collect::<Vec<_>>()
    );
    query.cursor = page.next;
    let page = store.query_audit(&query, T0).await.unwrap();
    assert_eq!(
        page.items,
        events[2..7].iter().rev().cloned().collect::<Vec<_>>()
    );

    let by_action = AuditQuery {
        action: Some("key.revoke".into()),
        limit: 2,
        ..AuditQuery::for_org(&org.id)
    };
    let all = collect_audit(&store, &by_action, T0).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.at).collect::<Vec<_>>(),
        [10, 7, 4, 1].map(|i| T0.plus_secs(i))
    );

    let window = AuditQuery {
        from: Some(T0.plus_secs(3)),
        until: Some(T0.plus_secs(6)),
        ..AuditQuery::for_org(&org.id)
    };
    let all = collect_audit(&store, &window, T0).await.unwrap();
    assert_eq!(all, events[3..6].iter().rev().cloned().collect::<Vec<_>>());

    let everything = collect_audit(&store, &AuditQuery::for_org(&org.id), T0)
        .await
        .unwrap();
    assert_eq!(everything.len(), 12);
    let json: serde_json::Value = serde_json::from_str(&export_json(&everything)).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[0]["action"], "member.add");
    assert_eq!(rows[0]["at"], T0.plus_secs(11).to_rfc3339());
    assert_eq!(rows[2]["ip"], "2001:db8::7");
    assert_eq!(rows[2]["outcome"], "denied");
    let csv = export_csv(&everything);
    let lines: Vec<_> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[0], CSV_HEADER);
    assert!(lines[3].contains(",denied,2001:db8::7,"), "{}", lines[3]);
    assert!(
        lines[3].ends_with(r#""{""reason"":""ip not allowed, \""quoted\""""}""#),
        "{}",
        lines[3]
    );
}

pub async fn audit_events_expire_after_the_organisations_retention<S: Store>(store: S) {
    let mut org = stored_org(&store, Plan::Free).await;
    org.audit_retention = AuditRetentionDays::new(7).unwrap();
    store.update_org(&org).await.unwrap();
    let org = store.get_org(&org.id).await.unwrap();
    let old = event(&org, 0, "key.create");
    let recent = AuditEvent::new(
        &org,
        "user_2",
        "member.add",
        "user_3",
        AuditOutcome::Success,
        T0.plus_days(5),
    );
    store.append_audit(&old).await.unwrap();
    store.append_audit(&recent).await.unwrap();
    assert_eq!(old.expires_at, T0.plus_days(7));

    let query = AuditQuery::for_org(&org.id);
    assert_eq!(
        store
            .query_audit(&query, T0.plus_days(6))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let day8 = T0.plus_days(8);
    assert_eq!(
        store.query_audit(&query, day8).await.unwrap().items,
        std::slice::from_ref(&recent)
    );
    assert_eq!(store.purge_expired_audit(day8).await.unwrap(), 1);
    assert_eq!(store.query_audit(&query, T0).await.unwrap().items, [recent]);
}
