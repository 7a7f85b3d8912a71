//! `ReceiptStore` and `AuditLog` on DynamoDB: newest-first queries over an organisation's log
//! partition (or `gsi1` for one key's receipts), cursors as sort-key bounds, filters as a
//! `FilterExpression`, and expired items filtered on read.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use crate::dynamodb::DynamoStore;
use crate::dynamodb::attrs::{
    GSI1, Item, batch_write, get_s, invalid_request, n, purge_expired, s, sdk_error, sort_time,
};
use crate::error::StoreResult;
use crate::model::audit::AuditEvent;
use crate::model::query::{AuditQuery, Cursor, Page, ReceiptQuery};
use crate::model::receipt::ReceiptRecord;
use crate::ports::{AuditLog, ReceiptStore};
use crate::time::Timestamp;

/// DynamoDB reads at most this many items per request.
const MAX_READ: i32 = 1000;
/// Below every sort key (they start with digits) and above every one.
const LOWEST: &str = "0";
const HIGHEST: &str = "~";

fn receipts_pk(org_id: &str) -> String {
    format!("ORG#{org_id}#RCPT")
}

fn key_receipts_pk(org_id: &str, key_id: &str) -> String {
    format!("ORG#{org_id}#KEY#{key_id}#RCPT")
}

fn audit_pk(org_id: &str) -> String {
    format!("ORG#{org_id}#AUDIT")
}

fn log_sk(at: Timestamp, id: &str) -> String {
    format!("{}#{id}", sort_time(at))
}

/// One newest-first read of a log partition.
struct LogSearch {
    index: Option<&'static str>,
    pk_attr: &'static str,
    sk_attr: &'static str,
    pk: String,
    /// Inclusive lower bound of the sort key.
    lowest: String,
    /// Exclusive upper bound of the sort key.
    below: String,
    /// Conditions joined by `AND`, over `#f<i>` names and `:f<i>` values.
    filters: Vec<(&'static str, AttributeValue)>,
    now: Timestamp,
    /// How many matches to collect (a page and one more).
    want: usize,
}

impl LogSearch {
    fn new(pk: String, now: Timestamp, want: usize) -> Self {
        LogSearch {
            index: None,
            pk_attr: "pk",
            sk_attr: "sk",
            pk,
            lowest: LOWEST.to_owned(),
            below: HIGHEST.to_owned(),
            filters: Vec::new(),
            now,
            want,
        }
    }

    fn on_gsi1(mut self, pk: String) -> Self {
        self.index = Some(GSI1);
        self.pk_attr = "gsi1pk";
        self.sk_attr = "gsi1sk";
        self.pk = pk;
        self
    }

    fn bounds(
        &mut self,
        from: Option<Timestamp>,
        until: Option<Timestamp>,
        cursor: Option<&Cursor>,
    ) -> StoreResult<()> {
        if let Some(from) = from {
            self.lowest = format!("{}#", sort_time(from));
        }
        if let Some(until) = until {
            self.below = format!("{}#", sort_time(until));
        }
        if let Some(cursor) = cursor {
            let (at, id) = cursor.position()?;
            self.below = self.below.clone().min(log_sk(at, &id));
        }
        Ok(())
    }

    fn filter(&mut self, attribute: &'static str, value: Option<AttributeValue>) {
        if let Some(value) = value {
            self.filters.push((attribute, value));
        }
    }
}

impl DynamoStore {
    async fn search_log(&self, search: LogSearch) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        if search.lowest >= search.below {
            return Ok(found);
        }
        let mut filter = vec!["expires_at > :now".to_owned()];
        for (i, _) in search.filters.iter().enumerate() {
            filter.push(format!("#f{i} = :f{i}"));
        }
        let filter = filter.join(" AND ");
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(search.index.map(str::to_owned))
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .filter_expression(&filter)
                .expression_attribute_names("#pk", search.pk_attr)
                .expression_attribute_names("#sk", search.sk_attr)
                .expression_attribute_values(":pk", s(&search.pk))
                .expression_attribute_values(":lo", s(&search.lowest))
                .expression_attribute_values(":hi", s(&search.below))
                .expression_attribute_values(":now", n(search.now.millis()))
                .scan_index_forward(false)
                .limit(i32::try_from(search.want).unwrap_or(MAX_READ).min(MAX_READ))
                .set_exclusive_start_key(start.take());
            if search.index.is_none() {
                request = request.consistent_read(true);
            }
            for (i, (attribute, value)) in search.filters.iter().enumerate() {
                request = request
                    .expression_attribute_names(format!("#f{i}"), *attribute)
                    .expression_attribute_values(format!(":f{i}"), value.clone());
            }
            let out = request.send().await.map_err(sdk_error)?;
            for item in out.items() {
                // BETWEEN includes its upper bound; the bound itself (the cursor's record) is
                // already on an earlier page.
                if get_s(item, search.sk_attr)? >= search.below {
                    continue;
                }
                found.push(item.clone());
                if found.len() >= search.want {
                    return Ok(found);
                }
            }
            match out.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => return Ok(found),
            }
        }
    }
}

fn receipt_item(record: &ReceiptRecord) -> StoreResult<Item> {
    let sk = log_sk(record.at, &record.request_id);
    let mut item = Item::from([
        ("pk".to_owned(), s(receipts_pk(&record.org_id))),
        ("sk".to_owned(), s(&sk)),
        ("kind".to_owned(), s("receipt")),
        ("request_id".to_owned(), s(&record.request_id)),
        ("model".to_owned(), s(&record.model)),
        ("provider".to_owned(), s(&record.provider)),
        ("status".to_owned(), n(i64::from(record.status))),
        ("expires_at".to_owned(), n(record.expires_at.millis())),
        ("ttl".to_owned(), n(record.expires_at.secs_ceil())),
        ("body".to_owned(), s(serde_json::to_string(record)?)),
    ]);
    if let Some(key_id) = &record.key_id {
        item.insert("key_id".to_owned(), s(key_id));
        item.insert(
            "gsi1pk".to_owned(),
            s(key_receipts_pk(&record.org_id, key_id)),
        );
        item.insert("gsi1sk".to_owned(), s(sk));
    }
    Ok(item)
}

fn put_request(item: Item) -> StoreResult<WriteRequest> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(invalid_request)?;
    Ok(WriteRequest::builder().put_request(put).build())
}

#[async_trait]
impl ReceiptStore for DynamoStore {
    async fn append_receipts(&self, records: Arc<[ReceiptRecord]>) -> StoreResult<()> {
        let requests = records
            .iter()
            .map(|record| put_request(receipt_item(record)?))
            .collect::<StoreResult<Vec<_>>>()?;
        batch_write(&self.client, &self.table, requests).await
    }

    async fn query_receipts(
        &self,
        query: &ReceiptQuery,
        now: Timestamp,
    ) -> StoreResult<Page<ReceiptRecord>> {
        let limit = query.page_size();
        let mut search = LogSearch::new(receipts_pk(&query.org_id), now, limit + 1);
        if let Some(key_id) = &query.key_id {
            search = search.on_gsi1(key_receipts_pk(&query.org_id, key_id));
        }
        search.bounds(query.from, query.until, query.cursor.as_ref())?;
        search.filter("model", query.model.as_deref().map(s));
        search.filter("provider", query.provider.as_deref().map(s));
        search.filter("status", query.status.map(|v| n(i64::from(v))));
        search.filter("request_id", query.request_id.as_deref().map(s));
        let mut records = Vec::new();
        for item in self.search_log(search).await? {
            let record: ReceiptRecord = serde_json::from_str(&get_s(&item, "body")?)?;
            if query.matches(&record, now) {
                records.push(record);
            }
        }
        Ok(Page::from_overfetch(
            records,
            limit,
            ReceiptQuery::position_of,
        ))
    }

    async fn purge_expired_receipts(&self, now: Timestamp) -> StoreResult<u64> {
        purge_expired(&self.client, &self.table, "receipt", now).await
    }
}

#[async_trait]
impl AuditLog for DynamoStore {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        let item = Item::from([
            ("pk".to_owned(), s(audit_pk(&event.org_id))),
            ("sk".to_owned(), s(log_sk(event.at, &event.id))),
            ("kind".to_owned(), s("audit")),
            ("action".to_owned(), s(&event.action)),
            ("expires_at".to_owned(), n(event.expires_at.millis())),
            ("ttl".to_owned(), n(event.expires_at.secs_ceil())),
            ("body".to_owned(), s(serde_json::to_string(event)?)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn query_audit(
        &self,
        query: &AuditQuery,
        now: Timestamp,
    ) -> StoreResult<Page<AuditEvent>> {
        let limit = query.page_size();
        let mut search = LogSearch::new(audit_pk(&query.org_id), now, limit + 1);
        search.bounds(query.from, query.until, query.cursor.as_ref())?;
        search.filter("action", query.action.as_deref().map(s));
        let mut events = Vec::new();
        for item in self.search_log(search).await? {
            let event: AuditEvent = serde_json::from_str(&get_s(&item, "body")?)?;
            if query.matches(&event, now) {
                events.push(event);
            }
        }
        Ok(Page::from_overfetch(events, limit, AuditQuery::position_of))
    }

    async fn purge_expired_audit(&self, now: Timestamp) -> StoreResult<u64> {
        purge_expired(&self.client, &self.table, "audit", now).await
    }
}
