//! Shared circuit breakers: records replaced only by a write naming the version read, so racing
//! processes neither lose each other's transitions nor claim more probe slots than the limit.

use gateway_store::model::breaker::SharedBreaker;
use gateway_store::model::id::new_id;
use gateway_store::{Store, StoreError, Timestamp};

use crate::contract::T0;

fn open_at(at: Timestamp) -> SharedBreaker {
    SharedBreaker {
        opened_at: Some(at),
        ..SharedBreaker::default()
    }
}

fn model() -> String {
    format!("provider/{}", new_id("model"))
}

pub async fn breakers_are_replaced_only_over_the_version_read<S: Store>(store: S) {
    let m = model();
    assert!(store.get_breaker(&m).await.unwrap_err().is_not_found());

    let first = store.replace_breaker(&m, 0, &open_at(T0)).await.unwrap();
    assert_eq!((first.model.as_str(), first.version), (m.as_str(), 1));
    // A second first write, and a write over a version that is not the stored one, change
    // nothing.
    let stale = store
        .replace_breaker(&m, 0, &SharedBreaker::default())
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let ahead = store
        .replace_breaker(&m, 5, &SharedBreaker::default())
        .await;
    assert!(matches!(ahead, Err(StoreError::Conflict(_))), "{ahead:?}");
    assert_eq!(store.get_breaker(&m).await.unwrap(), first);

    let probing = SharedBreaker {
        opened_at: Some(T0),
        half_open: true,
        probes: 2,
        probed_at: Some(T0.plus_secs(30)),
    };
    let second = store.replace_breaker(&m, 1, &probing).await.unwrap();
    assert_eq!((second.version, second.breaker), (2, probing));
    assert_eq!(store.get_breaker(&m).await.unwrap(), second);
    let lost = store
        .replace_breaker(&m, 1, &SharedBreaker::default())
        .await;
    assert!(lost.unwrap_err().is_conflict());

    // Closing keeps the record (and its version), with every optional field cleared.
    let closed = store
        .replace_breaker(&m, 2, &SharedBreaker::default())
        .await
        .unwrap();
    assert_eq!(closed.version, 3);
    assert_eq!(
        store.get_breaker(&m).await.unwrap().breaker,
        SharedBreaker::default()
    );
}

pub async fn every_breaker_is_listed_by_model<S: Store>(store: S) {
    let mut models: Vec<String> = (0..3).map(|_| model()).collect();
    models.push(format!("{}-with/slashes:and-colons", model()));
    for (i, m) in models.iter().enumerate() {
        let mut version = 0;
        for _ in 0..=i {
            version = store
                .replace_breaker(m, version, &open_at(T0))
                .await
                .unwrap()
                .version;
        }
    }
    let listed = store.list_breakers().await.unwrap();
    let mine: Vec<(String, u64)> = listed
        .iter()
        .filter(|r| models.contains(&r.model))
        .map(|r| (r.model.clone(), r.version))
        .collect();
    let mut expected: Vec<(String, u64)> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.clone(), i as u64 + 1))
        .collect();
    expected.sort();
    assert_eq!(mine, expected);
    assert!(listed.windows(2).all(|w| w[0].model < w[1].model));
}

/// One process's claim of a probe slot: read, and write one more probe over the version read
/// while slots are free; on a conflict, read again.
async fn claim<S: Store>(store: &S, model: &str, limit: u32) -> bool {
    loop {
        let record = store.get_breaker(model).await.unwrap();
        if record.breaker.probes >= limit {
            return false;
        }
        let claimed = SharedBreaker {
            half_open: true,
            probes: record.breaker.probes + 1,
            ..record.breaker
        };
        match store.replace_breaker(model, record.version, &claimed).await {
            Ok(_) => return true,
            Err(StoreError::Conflict(_)) => continue,
            Err(err) => panic!("{err}"),
        }
    }
}

pub async fn probe_slots_hold_their_limit_under_30_concurrent_claims<S: Store + Clone + 'static>(
    store: S,
) {
    const LIMIT: u32 = 3;
    let m = model();
    store.replace_breaker(&m, 0, &open_at(T0)).await.unwrap();
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (store, m) = (store.clone(), m.clone());
            tokio::spawn(async move { claim(&store, &m, LIMIT).await })
        })
        .collect();
    let mut claimed = 0;
    for task in tasks {
        claimed += u32::from(task.await.unwrap());
    }
    assert_eq!(claimed, LIMIT);
    let record = store.get_breaker(&m).await.unwrap();
    assert_eq!(record.breaker.probes, LIMIT);
    // The first write, then one per claim: no write was lost or doubled.
    assert_eq!(record.version, 1 + u64::from(LIMIT));
}
