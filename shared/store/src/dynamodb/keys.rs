//! `KeyStore` on DynamoDB: the key item and its hash guard written together; lookups read the
//! guard, then the key.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use gateway_core::keys::GatewayKeyHash;

use crate::dynamodb::DynamoStore;
use crate::dynamodb::attrs::{
    GSI1, Item, condition_failed, get_n, get_n_opt, get_s, get_s_opt, invalid_request, n, s,
    sdk_error, sort_time, transaction_condition_failed,
};
use crate::error::{StoreError, StoreResult};
use crate::model::api_key::{
    ApiKey, KeySettings, allowlist_from_text, allowlist_to_text, environment_label,
    parse_environment,
};
use crate::ports::{KeyStore, LAST_USED_RESOLUTION_MS};
use crate::time::Timestamp;

fn key_pk(key_id: &str) -> String {
    format!("KEY#{key_id}")
}

const KEY_SK: &str = "#KEY";

fn hash_pk(hash: &GatewayKeyHash) -> String {
    format!("KEYHASH#{}", hash.to_hex())
}

const HASH_SK: &str = "#KEYHASH";

fn org_keys_pk(org_id: &str) -> String {
    format!("ORG#{org_id}#KEYS")
}

fn opt_n(item: &mut Item, name: &str, value: Option<i64>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), n(value));
    }
}

fn to_n(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn key_item(key: &ApiKey) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(key_pk(&key.id))),
        ("sk".to_owned(), s(KEY_SK)),
        ("kind".to_owned(), s("key")),
        ("gsi1pk".to_owned(), s(org_keys_pk(&key.org_id))),
        (
            "gsi1sk".to_owned(),
            s(format!("{}#{}", sort_time(key.created_at), key.id)),
        ),
        ("id".to_owned(), s(&key.id)),
        ("org_id".to_owned(), s(&key.org_id)),
        ("hash".to_owned(), s(key.hash.to_hex())),
        ("name".to_owned(), s(&key.name)),
        (
            "environment".to_owned(),
            s(environment_label(key.environment)),
        ),
        ("display_prefix".to_owned(), s(&key.display_prefix)),
        ("created_at".to_owned(), n(key.created_at.millis())),
        (
            "ip_allowlist".to_owned(),
            s(allowlist_to_text(&key.ip_allowlist)),
        ),
    ]);
    opt_n(
        &mut item,
        "expires_at",
        key.expires_at.map(Timestamp::millis),
    );
    opt_n(
        &mut item,
        "revoked_at",
        key.revoked_at.map(Timestamp::millis),
    );
    opt_n(
        &mut item,
        "last_used_at",
        key.last_used_at.map(Timestamp::millis),
    );
    opt_n(
        &mut item,
        "valid_until",
        key.valid_until.map(Timestamp::millis),
    );
    opt_n(&mut item, "rpm_limit", key.rpm_limit.map(to_n));
    opt_n(&mut item, "tpm_limit", key.tpm_limit.map(to_n));
    if let Some(replaced_by) = &key.replaced_by {
        item.insert("replaced_by".to_owned(), s(replaced_by));
    }
    item
}

fn hash_guard(key: &ApiKey) -> Item {
    Item::from([
        ("pk".to_owned(), s(hash_pk(&key.hash))),
        ("sk".to_owned(), s(HASH_SK)),
        ("kind".to_owned(), s("keyhash")),
        ("key_id".to_owned(), s(&key.id)),
    ])
}

fn key_from_item(item: &Item) -> StoreResult<ApiKey> {
    let id = get_s(item, "id")?;
    let limit = |name: &str| -> StoreResult<Option<u64>> {
        Ok(get_n_opt(item, name)?.map(|v| u64::try_from(v).unwrap_or(0)))
    };
    Ok(ApiKey {
        hash: GatewayKeyHash::from_hex(&get_s(item, "hash")?)
            .ok_or_else(|| StoreError::Corrupt(format!("key {id} has a malformed hash")))?,
        environment: parse_environment(&get_s(item, "environment")?)?,
        ip_allowlist: allowlist_from_text(&get_s(item, "ip_allowlist")?)?,
        org_id: get_s(item, "org_id")?,
        name: get_s(item, "name")?,
        display_prefix: get_s(item, "display_prefix")?,
        created_at: Timestamp(get_n(item, "created_at")?),
        expires_at: get_n_opt(item, "expires_at")?.map(Timestamp),
        revoked_at: get_n_opt(item, "revoked_at")?.map(Timestamp),
        last_used_at: get_n_opt(item, "last_used_at")?.map(Timestamp),
        replaced_by: get_s_opt(item, "replaced_by")?,
        valid_until: get_n_opt(item, "valid_until")?.map(Timestamp),
        rpm_limit: limit("rpm_limit")?,
        tpm_limit: limit("tpm_limit")?,
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
    async fn key_by_id(&self, key_id: &str) -> StoreResult<Option<ApiKey>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key_pk(key_id)))
            .key("sk", s(KEY_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.as_ref().map(key_from_item).transpose()
    }
}

#[async_trait]
impl KeyStore for DynamoStore {
    async fn insert_key(&self, key: &ApiKey) -> StoreResult<()> {
        key.validate()?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(put_new(&self.table, key_item(key))?)
            .transact_items(put_new(&self.table, hash_guard(key))?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if transaction_condition_failed(&err) => Err(StoreError::Conflict(format!(
                "key {} or its hash is already stored",
                key.id
            ))),
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn find_key_by_hash(&self, hash: &GatewayKeyHash) -> StoreResult<ApiKey> {
        let not_found = || StoreError::NotFound("no key has this hash".to_owned());
        let guard = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(hash_pk(hash)))
            .key("sk", s(HASH_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?
            .item
            .ok_or_else(not_found)?;
        let key = self
            .key_by_id(&get_s(&guard, "key_id")?)
            .await?
            .ok_or_else(not_found)?;
        if key.hash.matches(hash) {
            Ok(key)
        } else {
            Err(not_found())
        }
    }

    async fn get_key(&self, org_id: &str, key_id: &str) -> StoreResult<ApiKey> {
        self.key_by_id(key_id)
            .await?
            .filter(|key| key.org_id == org_id)
            .ok_or_else(|| StoreError::NotFound(format!("key {key_id} of {org_id}")))
    }

    async fn list_keys(&self, org_id: &str) -> StoreResult<Vec<ApiKey>> {
        let mut keys = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(":pk", s(org_keys_pk(org_id)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items() {
                keys.push(key_from_item(item)?);
            }
            match out.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        Ok(keys)
    }

    async fn update_key_settings(
        &self,
        org_id: &str,
        key_id: &str,
        settings: &KeySettings,
    ) -> StoreResult<()> {
        let mut set = vec!["#name = :name", "ip_allowlist = :ip"];
        let mut remove = Vec::new();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key_pk(key_id)))
            .key("sk", s(KEY_SK))
            .condition_expression("attribute_exists(pk) AND org_id = :org")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":org", s(org_id))
            .expression_attribute_values(":name", s(&settings.name))
            .expression_attribute_values(":ip", s(allowlist_to_text(&settings.ip_allowlist)));
        let optional = [
            (
                "expires_at",
                ":exp",
                settings.expires_at.map(Timestamp::millis),
            ),
            ("rpm_limit", ":rpm", settings.rpm_limit.map(to_n)),
            ("tpm_limit", ":tpm", settings.tpm_limit.map(to_n)),
        ];
        let mut assignments = Vec::new();
        for (attribute, placeholder, value) in optional {
            match value {
                Some(value) => {
                    assignments.push(format!("{attribute} = {placeholder}"));
                    request = request.expression_attribute_values(placeholder, n(value));
                }
                None => remove.push(attribute),
            }
        }
        set.extend(assignments.iter().map(String::as_str));
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match request.update_expression(expression).send().await {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => {
                Err(StoreError::NotFound(format!("key {key_id} of {org_id}")))
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn revoke_key(&self, org_id: &str, key_id: &str, at: Timestamp) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key_pk(key_id)))
            .key("sk", s(KEY_SK))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at)")
            .condition_expression("attribute_exists(pk) AND org_id = :org")
            .expression_attribute_values(":at", n(at.millis()))
            .expression_attribute_values(":org", s(org_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => {
                Err(StoreError::NotFound(format!("key {key_id} of {org_id}")))
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn rotate_key(
        &self,
        org_id: &str,
        old_key_id: &str,
        new_key: &ApiKey,
        old_valid_until: Timestamp,
    ) -> StoreResult<()> {
        new_key.validate()?;
        if new_key.org_id != org_id {
            return Err(StoreError::Invalid(
                "the new key belongs to another organisation".to_owned(),
            ));
        }
        let mark_old = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key_pk(old_key_id)))
            .key("sk", s(KEY_SK))
            .update_expression("SET replaced_by = :new, valid_until = :until")
            .condition_expression(
                "attribute_exists(pk) AND org_id = :org \
                 AND attribute_not_exists(revoked_at) AND attribute_not_exists(replaced_by)",
            )
            .expression_attribute_values(":new", s(&new_key.id))
            .expression_attribute_values(":until", n(old_valid_until.millis()))
            .expression_attribute_values(":org", s(org_id))
            .build()
            .map_err(invalid_request)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(mark_old).build())
            .transact_items(put_new(&self.table, key_item(new_key))?)
            .transact_items(put_new(&self.table, hash_guard(new_key))?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if transaction_condition_failed(&err) => {
                match self.key_by_id(old_key_id).await? {
                    Some(old) if old.org_id == org_id => Err(StoreError::Conflict(format!(
                        "key {old_key_id} is revoked or already rotated, or the new key exists"
                    ))),
                    _ => Err(StoreError::NotFound(format!(
                        "key {old_key_id} of {org_id}"
                    ))),
                }
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn touch_key(&self, key_id: &str, at: Timestamp) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key_pk(key_id)))
            .key("sk", s(KEY_SK))
            .update_expression("SET last_used_at = :at")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at <= :stale)",
            )
            .expression_attribute_values(":at", n(at.millis()))
            .expression_attribute_values(":stale", n(at.millis().saturating_sub(LAST_USED_RESOLUTION_MS)))
            .send()
            .await;
        match result {
            // A recent enough time is already stored, or the key is gone: nothing to record.
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(sdk_error(err)),
        }
    }
}
