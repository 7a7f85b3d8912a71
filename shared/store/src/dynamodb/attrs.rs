//! Reading and writing DynamoDB attribute maps, the key layout, and SDK errors as
//! [`StoreError`]s.

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};

use crate::error::{StoreError, StoreResult};
use crate::time::Timestamp;

pub(super) type Item = HashMap<String, AttributeValue>;

/// The one secondary index.
pub(crate) const GSI1: &str = "gsi1";
/// `BatchWriteItem` takes at most this many requests.
const BATCH_LIMIT: usize = 25;
/// Rounds of resending what `BatchWriteItem` left unprocessed (throttling) before giving up.
const BATCH_RETRIES: u32 = 8;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A time as sort-key text: 20 digits offset from `i64::MIN`, so text order is time order
/// (negative times included).
pub(super) fn sort_time(at: Timestamp) -> String {
    format!("{:020}", i128::from(at.millis()) - i128::from(i64::MIN))
}

pub(super) fn get_s(item: &Item, name: &str) -> StoreResult<String> {
    get_s_opt(item, name)?.ok_or_else(|| missing(name))
}

pub(super) fn get_s_opt(item: &Item, name: &str) -> StoreResult<Option<String>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(text)) => Ok(Some(text.clone())),
        Some(_) => Err(wrong_type(name)),
    }
}

pub(super) fn get_n(item: &Item, name: &str) -> StoreResult<i64> {
    get_n_opt(item, name)?.ok_or_else(|| missing(name))
}

pub(super) fn get_n_opt(item: &Item, name: &str) -> StoreResult<Option<i64>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(text)) => text.parse().map(Some).map_err(|_| wrong_type(name)),
        Some(_) => Err(wrong_type(name)),
    }
}

fn missing(name: &str) -> StoreError {
    StoreError::Corrupt(format!("item without `{name}`"))
}

fn wrong_type(name: &str) -> StoreError {
    StoreError::Corrupt(format!("item attribute `{name}` has the wrong type"))
}

/// Any SDK failure, with the service's error code and message (never a credential).
pub(crate) fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Backend(format!("dynamodb: {}", DisplayErrorContext(&err)))
}

pub(crate) fn invalid_request(err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("dynamodb request: {err}"))
}

/// Whether a single-item write failed its `ConditionExpression`.
pub(super) fn condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// Whether a transaction was cancelled by one of its conditions (not by a conflicting
/// transaction or throttling, which are worth retrying and stay backend errors).
pub(super) fn transaction_condition_failed<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => {
            let reasons = cancel.cancellation_reasons();
            reasons.is_empty()
                || reasons
                    .iter()
                    .any(|r| r.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}

/// Writes every request, 25 at a time, resending what the service left unprocessed.
pub(super) async fn batch_write(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
) -> StoreResult<()> {
    let mut pending = requests;
    while !pending.is_empty() {
        let rest = pending.split_off(pending.len().min(BATCH_LIMIT));
        let mut chunk = pending;
        pending = rest;
        let mut attempt = 0;
        while !chunk.is_empty() {
            if attempt > BATCH_RETRIES {
                return Err(StoreError::Backend(format!(
                    "dynamodb: {} writes still unprocessed after {BATCH_RETRIES} retries",
                    chunk.len()
                )));
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt.min(6))).await;
            }
            let out = client
                .batch_write_item()
                .request_items(table, chunk)
                .send()
                .await
                .map_err(sdk_error)?;
            chunk = out
                .unprocessed_items()
                .and_then(|items| items.get(table))
                .cloned()
                .unwrap_or_default();
            attempt += 1;
        }
    }
    Ok(())
}

/// Deletes every item of `kind` whose `expires_at` is at or before `now`; returns how many.
pub(super) async fn purge_expired(
    client: &Client,
    table: &str,
    kind: &str,
    now: Timestamp,
) -> StoreResult<u64> {
    let mut deletes = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .filter_expression("#kind = :kind AND expires_at <= :now")
            .projection_expression("pk, sk")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":kind", s(kind))
            .expression_attribute_values(":now", n(now.millis()))
            .set_exclusive_start_key(start.take())
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        for item in out.items() {
            let key: Item = item
                .iter()
                .filter(|(name, _)| *name == "pk" || *name == "sk")
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            let delete = DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map_err(invalid_request)?;
            deletes.push(WriteRequest::builder().delete_request(delete).build());
        }
        match out.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    let count = deletes.len() as u64;
    batch_write(client, table, deletes).await?;
    Ok(count)
}

/// Every item of partition `pk` (whose sort key starts with `sk_prefix`, if given), read
/// consistently across all pages.
pub async fn query_partition(
    client: &Client,
    table: &str,
    pk: String,
    sk_prefix: Option<String>,
) -> StoreResult<Vec<Item>> {
    let condition = match sk_prefix {
        Some(_) => "pk = :pk AND begins_with(sk, :prefix)",
        None => "pk = :pk",
    };
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", s(pk.clone()))
            .set_exclusive_start_key(start.take())
            .consistent_read(true);
        let out = match &sk_prefix {
            Some(prefix) => out.expression_attribute_values(":prefix", s(prefix.clone())),
            None => out,
        }
        .send()
        .await
        .map_err(sdk_error)?;
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_time_orders_as_text_like_time() {
        let times = [i64::MIN, -5, -1, 0, 1, 999, 1_795_694_678_123, i64::MAX];
        let texts: Vec<String> = times.iter().map(|t| sort_time(Timestamp(*t))).collect();
        assert!(texts.windows(2).all(|w| w[0] < w[1]));
        assert!(texts.iter().all(|t| t.len() == 20));
    }
}
