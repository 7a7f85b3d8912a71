//! Rate-limit counters: admission up to the limit, reconciliation, expiry, and the limit holding
//! under concurrent callers.

use gateway_store::model::id::new_id;
use gateway_store::{Adjustment, Admission, Ask, Store, Timestamp};

/// The current minute's window, alive for two minutes: counters read expiry against the clock.
fn window() -> (String, Timestamp, Timestamp) {
    let now = Timestamp::now();
    let start = Timestamp(now.millis() - now.millis().rem_euclid(60_000));
    (new_id("rpm"), start, start.plus_secs(120))
}

pub async fn counters_admit_up_to_the_limit_and_reconcile<S: Store>(store: S) {
    let (key, start, ttl) = window();
    assert_eq!(store.get(&key, start).await.unwrap(), 0);
    let admitted = |count| Admission {
        admitted: true,
        count,
    };
    let refused = |count| Admission {
        admitted: false,
        count,
    };
    assert_eq!(
        store.add(&key, start, 3, 5, ttl).await.unwrap(),
        admitted(3)
    );
    assert_eq!(
        store.add(&key, start, 2, 5, ttl).await.unwrap(),
        admitted(5)
    );
    assert_eq!(store.add(&key, start, 1, 5, ttl).await.unwrap(), refused(5));
    // An amount above the limit on its own is refused, not partly counted.
    assert_eq!(store.add(&key, start, 9, 5, ttl).await.unwrap(), refused(5));
    assert_eq!(store.get(&key, start).await.unwrap(), 5);

    // Another window, or another key, counts separately.
    let next = start.plus_secs(60);
    assert_eq!(
        store
            .add(&key, next, 5, 5, ttl.plus_secs(60))
            .await
            .unwrap(),
        admitted(5)
    );
    let (other, _, _) = window();
    assert_eq!(
        store.add(&other, start, 1, 5, ttl).await.unwrap(),
        admitted(1)
    );

    // Reconciliation: an estimate of 5 tokens that turned out to be 2 gives 3 back.
    assert_eq!(store.adjust(&key, start, -3, ttl).await.unwrap(), 2);
    assert_eq!(
        store.add(&key, start, 3, 5, ttl).await.unwrap(),
        admitted(5)
    );
    assert_eq!(store.adjust(&key, start, 4, ttl).await.unwrap(), 9);
    assert_eq!(store.adjust(&key, start, -100, ttl).await.unwrap(), 0);
    assert_eq!(store.get(&key, start).await.unwrap(), 0);
    let (fresh, _, _) = window();
    assert_eq!(store.adjust(&fresh, start, 7, ttl).await.unwrap(), 7);
}

async fn admitted_total<S: Store + Clone + 'static>(
    store: &S,
    key: &str,
    start: Timestamp,
    ttl: Timestamp,
    amounts: Vec<u64>,
    limit: u64,
) -> u64 {
    let tasks: Vec<_> = amounts
        .into_iter()
        .map(|amount| {
            let (store, key) = (store.clone(), key.to_owned());
            tokio::spawn(async move {
                let admission = store.add(&key, start, amount, limit, ttl).await.unwrap();
                assert!(
                    admission.count <= limit,
                    "count {} over {limit}",
                    admission.count
                );
                if admission.admitted { amount } else { 0 }
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total
}

pub async fn counters_never_admit_more_than_the_limit_under_50_concurrent_tasks<
    S: Store + Clone + 'static,
>(
    store: S,
) {
    let (key, start, ttl) = window();
    let total = admitted_total(&store, &key, start, ttl, vec![1; 50], 20).await;
    assert_eq!(total, 20);
    assert_eq!(store.get(&key, start).await.unwrap(), 20);
}

pub async fn token_counters_hold_their_limit_under_concurrent_uneven_amounts<
    S: Store + Clone + 'static,
>(
    store: S,
) {
    let (key, start, ttl) = window();
    let amounts: Vec<u64> = (0..50).map(|i| 100 + (i * 37) % 400).collect();
    let total = admitted_total(&store, &key, start, ttl, amounts, 5_000).await;
    assert!(
        total <= 5_000,
        "admitted {total} tokens over a limit of 5000"
    );
    assert_eq!(store.get(&key, start).await.unwrap(), total);
    // Nearly full: at least the smallest request no longer fits, or it is exactly full.
    assert!(total > 5_000 - 500, "admitted only {total}");
}

pub async fn expired_counter_windows_read_as_empty_and_are_purged<S: Store>(store: S) {
    let now = Timestamp::now();
    let key = new_id("day");
    let old_start = now.plus_secs(-600);
    store
        .add(&key, old_start, 4, 10, now.plus_secs(-1))
        .await
        .unwrap();
    assert_eq!(store.get(&key, old_start).await.unwrap(), 0);
    let live = now.plus_secs(-60);
    store
        .add(&key, live, 4, 10, now.plus_secs(600))
        .await
        .unwrap();
    let windows = [
        (key.clone(), old_start),
        (key.clone(), live),
        (new_id("never"), live),
    ];
    assert_eq!(store.get_many(&windows).await.unwrap(), [0, 4, 0]);
    assert!(store.purge_expired_counters(now).await.unwrap() >= 1);
    assert_eq!(store.get(&key, live).await.unwrap(), 4);
}

pub async fn adjustments_in_one_batch_apply_in_order_and_floor_at_zero<S: Store>(store: S) {
    let (key, start, ttl) = window();
    let (other, _, _) = window();
    store.add(&key, start, 5, 100, ttl).await.unwrap();
    let change = |key: &str, window_start: Timestamp, delta: i64| Adjustment {
        key: key.to_owned(),
        window_start,
        delta,
        expires_at: ttl,
    };
    store.adjust_many(&[]).await.unwrap();
    store
        .adjust_many(&[
            change(&key, start, 10),
            change(&other, start, 3),
            change(&key, start, -2),
            change(&key, start.plus_secs(60), 4),
        ])
        .await
        .unwrap();
    assert_eq!(store.get(&key, start).await.unwrap(), 13);
    assert_eq!(store.get(&other, start).await.unwrap(), 3);
    assert_eq!(store.get(&key, start.plus_secs(60)).await.unwrap(), 4);
    // Each change is floored on its own, as `adjust` would: -20 empties the window, +1 counts.
    store
        .adjust_many(&[change(&other, start, -20), change(&other, start, 1)])
        .await
        .unwrap();
    assert_eq!(store.get(&other, start).await.unwrap(), 1);
}

pub async fn asks_are_admitted_all_or_none<S: Store>(store: S) {
    let (requests, start, ttl) = window();
    let (tokens, _, _) = window();
    let ask = |key: &str, amount: u64, limit: u64| Ask {
        key: key.to_owned(),
        window_start: start,
        amount,
        limit,
        expires_at: ttl,
    };
    let admitted = |count| Admission {
        admitted: true,
        count,
    };
    assert_eq!(
        store
            .add_all(&[ask(&requests, 1, 2), ask(&tokens, 60, 100)])
            .await
            .unwrap(),
        vec![admitted(1), admitted(60)]
    );
    // The tokens do not fit: neither window counts, and each says whether it alone fitted.
    assert_eq!(
        store
            .add_all(&[ask(&requests, 1, 2), ask(&tokens, 60, 100)])
            .await
            .unwrap(),
        vec![
            admitted(1),
            Admission {
                admitted: false,
                count: 60
            }
        ]
    );
    assert_eq!(store.get(&requests, start).await.unwrap(), 1);
    assert_eq!(store.get(&tokens, start).await.unwrap(), 60);
    assert_eq!(
        store
            .add_all(&[ask(&requests, 1, 2), ask(&tokens, 40, 100)])
            .await
            .unwrap(),
        vec![admitted(2), admitted(100)]
    );
    assert_eq!(store.add_all(&[]).await.unwrap(), Vec::new());
}
