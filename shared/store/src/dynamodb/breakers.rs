//! `BreakerStore` on DynamoDB: every breaker in one small partition (`BREAKERS`, one item per
//! model), so a process reads them all with one strongly consistent `Query`. A replacement is a
//! `PutItem` conditioned on the version read (`attribute_not_exists(pk)` for the first write):
//! of two processes that read the same version, DynamoDB lets exactly one write.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamodb::DynamoStore;
use crate::dynamodb::attrs::{
    Item, condition_failed, get_n, get_n_opt, get_s, n, query_partition, s, sdk_error,
};
use crate::error::{StoreError, StoreResult};
use crate::model::breaker::{BreakerRecord, SharedBreaker};
use crate::ports::BreakerStore;
use crate::time::Timestamp;

const PK: &str = "BREAKERS";

fn to_n(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn breaker_item(record: &BreakerRecord) -> Item {
    let b = &record.breaker;
    let mut item = Item::from([
        ("pk".to_owned(), s(PK)),
        ("sk".to_owned(), s(&record.model)),
        ("kind".to_owned(), s("breaker")),
        ("version".to_owned(), n(to_n(record.version))),
        ("half_open".to_owned(), AttributeValue::Bool(b.half_open)),
        ("probes".to_owned(), n(i64::from(b.probes))),
    ]);
    if let Some(at) = b.opened_at {
        item.insert("opened_at".to_owned(), n(at.millis()));
    }
    if let Some(at) = b.probed_at {
        item.insert("probed_at".to_owned(), n(at.millis()));
    }
    item
}

fn breaker_from_item(item: &Item) -> StoreResult<BreakerRecord> {
    let half_open = match item.get("half_open") {
        Some(AttributeValue::Bool(value)) => *value,
        _ => {
            return Err(StoreError::Corrupt(
                "breaker item without a boolean `half_open`".to_owned(),
            ));
        }
    };
    Ok(BreakerRecord {
        model: get_s(item, "sk")?,
        version: u64::try_from(get_n(item, "version")?).unwrap_or(0),
        breaker: SharedBreaker {
            opened_at: get_n_opt(item, "opened_at")?.map(Timestamp),
            half_open,
            probes: u32::try_from(get_n(item, "probes")?).unwrap_or(0),
            probed_at: get_n_opt(item, "probed_at")?.map(Timestamp),
        },
    })
}

#[async_trait]
impl BreakerStore for DynamoStore {
    async fn list_breakers(&self) -> StoreResult<Vec<BreakerRecord>> {
        query_partition(&self.client, &self.table, PK.to_owned(), None)
            .await?
            .iter()
            .map(breaker_from_item)
            .collect()
    }

    async fn get_breaker(&self, model: &str) -> StoreResult<BreakerRecord> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(PK))
            .key("sk", s(model))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        match out.item {
            Some(item) => breaker_from_item(&item),
            None => Err(StoreError::NotFound(format!("breaker {model}"))),
        }
    }

    async fn replace_breaker(
        &self,
        model: &str,
        expected_version: u64,
        breaker: &SharedBreaker,
    ) -> StoreResult<BreakerRecord> {
        let record = BreakerRecord {
            model: model.to_owned(),
            version: expected_version.saturating_add(1),
            breaker: *breaker,
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(breaker_item(&record)));
        let put = if expected_version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(to_n(expected_version)))
        };
        match put.send().await {
            Ok(_) => Ok(record),
            Err(err) if condition_failed(&err) => Err(StoreError::Conflict(format!(
                "breaker {model} is no longer at version {expected_version}"
            ))),
            Err(err) => Err(sdk_error(err)),
        }
    }
}
