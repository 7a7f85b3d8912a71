//! The storage contract on DynamoDB, against the moto server that `./tests/run.sh` starts. Each
//! test gets a table of its own.

#![expect(clippy::unwrap_used, reason = "a panic in a test is that test failing")]

mod contract;

use gateway_store::dynamodb::{DynamoConfig, DynamoStore, StaticCredentials, create_table};
use gateway_store::model::id::new_id;

/// Where `./tests/run.sh` puts the moto server's URL.
const URL_VAR: &str = "LLM_GATEWAY_TEST_DYNAMODB_URL";

async fn on_moto() -> DynamoStore {
    let url = std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: the DynamoDB contract tests need a moto server; \
             run them through ./tests/run.sh, which starts one"
        )
    });
    let config = DynamoConfig {
        table: new_id("gateway"),
        endpoint_url: Some(url),
        region: Some("us-east-1".to_owned()),
        credentials: Some(StaticCredentials {
            access_key_id: "testing".to_owned(),
            secret_access_key: "testing".to_owned(),
        }),
    };
    let store = DynamoStore::connect(&config).await.unwrap();
    create_table(store.client(), store.table()).await.unwrap();
    store
}

contract_tests!(on_moto);
