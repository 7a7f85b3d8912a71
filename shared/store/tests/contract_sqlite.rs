//! The storage contract on SQLite (in memory), plus what only a file can show.

#![expect(clippy::unwrap_used, reason = "a panic in a test is that test failing")]

mod contract;

use gateway_store::model::org::Plan;
use gateway_store::sqlite::SqliteStore;
use gateway_store::{OrgStore, Timestamp};

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
