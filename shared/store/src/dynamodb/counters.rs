//! `Counters` on DynamoDB: one conditional `UpdateItem` per admission, so the limit holds across
//! every process sharing the table.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use crate::dynamodb::DynamoStore;
use crate::dynamodb::attrs::{
    Item, condition_failed, get_n, get_n_opt, n, purge_expired, s, sdk_error,
};
use crate::error::StoreResult;
use crate::ports::{Admission, Counters};
use crate::time::Timestamp;

fn to_n(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl DynamoStore {
    fn counter_key(
        &self,
        builder: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        key: &str,
        window_start: Timestamp,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        builder
            .table_name(&self.table)
            .key("pk", s(format!("CTR#{key}")))
            .key("sk", s(window_start.millis().to_string()))
    }

    async fn count_of(&self, key: &str, window_start: Timestamp) -> StoreResult<i64> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("CTR#{key}")))
            .key("sk", s(window_start.millis().to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let Some(item) = out.item else {
            return Ok(0);
        };
        // DynamoDB deletes expired items late: an expired window counts as empty.
        if get_n_opt(&item, "expires_at")?.is_some_and(|at| at <= Timestamp::now().millis()) {
            return Ok(0);
        }
        get_n(&item, "count")
    }
}

fn count_in(attributes: Option<&Item>) -> StoreResult<i64> {
    match attributes {
        Some(item) => get_n(item, "count"),
        None => Ok(0),
    }
}

#[async_trait]
impl Counters for DynamoStore {
    async fn add(
        &self,
        key: &str,
        window_start: Timestamp,
        amount: u64,
        limit: u64,
        expires_at: Timestamp,
    ) -> StoreResult<Admission> {
        if amount > limit {
            let count = self.count_of(key, window_start).await?;
            return Ok(Admission {
                admitted: false,
                count: to_count(count),
            });
        }
        let result = self
            .counter_key(self.client.update_item(), key, window_start)
            .update_expression(
                "ADD #count :amount SET expires_at = :exp, #ttl = :ttl, #kind = :kind",
            )
            .condition_expression("attribute_not_exists(#count) OR #count <= :max")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":amount", n(to_n(amount)))
            .expression_attribute_values(":max", n(to_n(limit - amount)))
            .expression_attribute_values(":exp", n(expires_at.millis()))
            .expression_attribute_values(":ttl", n(expires_at.secs_ceil()))
            .expression_attribute_values(":kind", s("counter"))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Admission {
                admitted: true,
                count: to_count(count_in(out.attributes.as_ref())?),
            }),
            Err(err) if condition_failed(&err) => Ok(Admission {
                admitted: false,
                count: to_count(self.count_of(key, window_start).await?),
            }),
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn adjust(
        &self,
        key: &str,
        window_start: Timestamp,
        delta: i64,
        expires_at: Timestamp,
    ) -> StoreResult<u64> {
        let out = self
            .counter_key(self.client.update_item(), key, window_start)
            .update_expression(
                "ADD #count :delta SET expires_at = :exp, #ttl = :ttl, #kind = :kind",
            )
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":delta", n(delta))
            .expression_attribute_values(":exp", n(expires_at.millis()))
            .expression_attribute_values(":ttl", n(expires_at.secs_ceil()))
            .expression_attribute_values(":kind", s("counter"))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let count = count_in(out.attributes.as_ref())?;
        if count >= 0 {
            return Ok(to_count(count));
        }
        // Gave back more than was counted: floor at zero, unless another call moved it since.
        let floored = self
            .counter_key(self.client.update_item(), key, window_start)
            .update_expression("SET #count = :zero")
            .condition_expression("#count < :zero")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match floored {
            Ok(_) => Ok(0),
            Err(err) if condition_failed(&err) => {
                Ok(to_count(self.count_of(key, window_start).await?))
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn get(&self, key: &str, window_start: Timestamp) -> StoreResult<u64> {
        Ok(to_count(self.count_of(key, window_start).await?))
    }

    async fn purge_expired_counters(&self, now: Timestamp) -> StoreResult<u64> {
        purge_expired(&self.client, &self.table, "counter", now).await
    }
}
