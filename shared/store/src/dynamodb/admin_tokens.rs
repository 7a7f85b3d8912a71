//! `AdminTokenStore` on DynamoDB: the token in its organisation's partition beside the member,
//! and a hash guard written in the same transaction; lookups read the guard, then the token.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use gateway_core::keys::GatewayKeyHash;

use crate::dynamodb::DynamoStore;
use crate::dynamodb::attrs::{
    Item, condition_failed, get_n, get_n_opt, get_s, invalid_request, n, query_partition, s,
    sdk_error, transaction_condition_failed,
};
use crate::error::{StoreError, StoreResult};
use crate::model::admin_token::AdminToken;
use crate::ports::AdminTokenStore;
use crate::time::Timestamp;

fn org_pk(org_id: &str) -> String {
    format!("ORG#{org_id}")
}

fn member_tokens_prefix(user_id: &str) -> String {
    format!("ADMINTOKEN#{user_id}#")
}

fn token_sk(user_id: &str, token_id: &str) -> String {
    format!("{}{token_id}", member_tokens_prefix(user_id))
}

fn hash_pk(hash: &GatewayKeyHash) -> String {
    format!("ADMINHASH#{}", hash.to_hex())
}

const HASH_SK: &str = "#ADMINHASH";

fn token_item(token: &AdminToken) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(org_pk(&token.org_id))),
        ("sk".to_owned(), s(token_sk(&token.user_id, &token.id))),
        ("kind".to_owned(), s("admin_token")),
        ("id".to_owned(), s(&token.id)),
        ("org_id".to_owned(), s(&token.org_id)),
        ("user_id".to_owned(), s(&token.user_id)),
        ("hash".to_owned(), s(token.hash.to_hex())),
        ("display_prefix".to_owned(), s(&token.display_prefix)),
        ("created_at".to_owned(), n(token.created_at.millis())),
    ]);
    if let Some(at) = token.revoked_at {
        item.insert("revoked_at".to_owned(), n(at.millis()));
    }
    item
}

fn token_from_item(item: &Item) -> StoreResult<AdminToken> {
    let id = get_s(item, "id")?;
    let hash = get_s(item, "hash")?;
    Ok(AdminToken {
        hash: GatewayKeyHash::from_hex(&hash)
            .ok_or_else(|| StoreError::Corrupt(format!("admin token {id} has a malformed hash")))?,
        org_id: get_s(item, "org_id")?,
        user_id: get_s(item, "user_id")?,
        display_prefix: get_s(item, "display_prefix")?,
        created_at: Timestamp(get_n(item, "created_at")?),
        revoked_at: get_n_opt(item, "revoked_at")?.map(Timestamp),
        id,
    })
}

fn put_new(table: &str, item: Item) -> StoreResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(invalid_request)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoStore {
    async fn consistent_get(&self, pk: String, sk: String) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }
}

#[async_trait]
impl AdminTokenStore for DynamoStore {
    async fn insert_admin_token(&self, token: &AdminToken) -> StoreResult<()> {
        let guard = Item::from([
            ("pk".to_owned(), s(hash_pk(&token.hash))),
            ("sk".to_owned(), s(HASH_SK)),
            ("kind".to_owned(), s("admin_token_hash")),
            ("org_id".to_owned(), s(&token.org_id)),
            ("user_id".to_owned(), s(&token.user_id)),
            ("token_id".to_owned(), s(&token.id)),
        ]);
        let put_token = Put::builder()
            .table_name(&self.table)
            .set_item(Some(token_item(token)))
            .condition_expression("attribute_not_exists(sk)")
            .build()
            .map_err(invalid_request)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_token).build())
            .transact_items(put_new(&self.table, guard)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if transaction_condition_failed(&err) => Err(StoreError::Conflict(format!(
                "admin token {} or its hash exists",
                token.id
            ))),
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn find_admin_token_by_hash(&self, hash: &GatewayKeyHash) -> StoreResult<AdminToken> {
        let not_found = || StoreError::NotFound("admin token".to_owned());
        let guard = self
            .consistent_get(hash_pk(hash), HASH_SK.to_owned())
            .await?
            .ok_or_else(not_found)?;
        let (org_id, user_id, token_id) = (
            get_s(&guard, "org_id")?,
            get_s(&guard, "user_id")?,
            get_s(&guard, "token_id")?,
        );
        let item = self
            .consistent_get(org_pk(&org_id), token_sk(&user_id, &token_id))
            .await?
            .ok_or_else(not_found)?;
        token_from_item(&item)
    }

    async fn list_admin_tokens(&self, org_id: &str, user_id: &str) -> StoreResult<Vec<AdminToken>> {
        let items = query_partition(
            &self.client,
            &self.table,
            org_pk(org_id),
            Some(member_tokens_prefix(user_id)),
        )
        .await?;
        let mut tokens = Vec::new();
        for item in &items {
            let token = token_from_item(item)?;
            // A prefix match may belong to a user id that extends this one with `#`.
            if token.user_id == user_id {
                tokens.push(token);
            }
        }
        tokens.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(tokens)
    }

    async fn revoke_admin_token(
        &self,
        org_id: &str,
        user_id: &str,
        token_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(org_pk(org_id)))
            .key("sk", s(token_sk(user_id, token_id)))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", n(at.millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Err(StoreError::NotFound(format!(
                "admin token {token_id} of {user_id}"
            ))),
            Err(err) => Err(sdk_error(err)),
        }
    }
}
