//! The storage contract on SQLite (in memory), plus what only a file can show.

#![expect(clippy::unwrap_used, reason = "a panic in a test is that test failing")]

mod contract;

use std::time::Duration;

use gateway_store::model::org::Plan;
use gateway_store::sqlite::SqliteStore;
use gateway_store::{Ask, Counters, OrgStore, Timestamp};

async fn in_memory() -> SqliteStore {
    SqliteStore::in_memory().await.unwrap()
}

contract_tests!(in_memory);

#[tokio::test]
async fn a_database_file_keeps_its_records_across_reopening() {
    let dir = std::env::temp_dir().join(gateway_store::model::id::new_id("store-test"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gateway.db");
    let org = {
        let store = SqliteStore::open(&path).await.unwrap();
        contract::stored_org(&store, Plan::Free).await
    };
    // Reopening applies no migration twice and finds the organisation.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.get_org(&org.id).await.unwrap(), org);
    assert_eq!(org.created_at, Timestamp(contract::T0.millis()));
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Counters run on the async worker when they can; another process holding the database's
/// write lock sends them to the blocking pool to wait, so the worker keeps serving meanwhile.
#[tokio::test(flavor = "current_thread")]
async fn a_counter_waits_for_another_process_off_the_async_worker() {
    let dir = std::env::temp_dir().join(gateway_store::model::id::new_id("store-test"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gateway.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let now = Timestamp::now();
    let asks = [Ask {
        key: "org:o:requests".to_owned(),
        window_start: now,
        amount: 1,
        limit: 10,
        expires_at: now.plus_days(1),
    }];
    // Unlocked, on the worker.
    assert!(store.add_all(&asks).await.unwrap()[0].admitted);

    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let held = Duration::from_millis(300);
    let release = std::thread::spawn(move || {
        std::thread::sleep(held);
        other.execute_batch("COMMIT").unwrap();
    });
    let mut ticks = 0;
    let admissions = {
        let add = store.add_all(&asks);
        tokio::pin!(add);
        loop {
            tokio::select! {
                admissions = &mut add => break admissions.unwrap(),
                () = tokio::time::sleep(Duration::from_millis(5)) => ticks += 1,
            }
        }
    };
    release.join().unwrap();
    assert!(admissions[0].admitted);
    assert_eq!(admissions[0].count, 2);
    // Had the statement waited on the worker, this single-threaded runtime could not have
    // woken the other task while the lock was held.
    assert!(
        ticks >= 10,
        "the worker was blocked: {ticks} ticks in {held:?}"
    );
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
