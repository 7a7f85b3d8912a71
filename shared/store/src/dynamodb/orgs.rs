//! `OrgStore` on DynamoDB: the organisation item and its name guard written together; members
//! in the organisation's partition.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem};

use crate::dynamodb::DynamoStore;
use crate::dynamodb::attrs::{
    Item, condition_failed, get_n, get_s, invalid_request, n, query_partition, s, sdk_error,
    transaction_condition_failed,
};
use crate::error::{StoreError, StoreResult};
use crate::model::member::{Member, Role};
use crate::model::org::Organization;
use crate::ports::OrgStore;
use crate::time::Timestamp;

fn org_pk(org_id: &str) -> String {
    format!("ORG#{org_id}")
}

const ORG_SK: &str = "#ORG";

fn name_pk(name: &str) -> String {
    format!("ORGNAME#{name}")
}

const NAME_SK: &str = "#ORGNAME";

fn member_sk(user_id: &str) -> String {
    format!("MEMBER#{user_id}")
}

fn org_item(org: &Organization) -> StoreResult<Item> {
    Ok(Item::from([
        ("pk".to_owned(), s(org_pk(&org.id))),
        ("sk".to_owned(), s(ORG_SK)),
        ("kind".to_owned(), s("org")),
        ("name".to_owned(), s(&org.name)),
        ("body".to_owned(), s(serde_json::to_string(org)?)),
    ]))
}

fn name_guard(org: &Organization) -> Item {
    Item::from([
        ("pk".to_owned(), s(name_pk(&org.name))),
        ("sk".to_owned(), s(NAME_SK)),
        ("kind".to_owned(), s("orgname")),
        ("org_id".to_owned(), s(&org.id)),
    ])
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

fn member_from_item(item: &Item) -> StoreResult<Member> {
    let role = get_s(item, "role")?;
    Ok(Member {
        org_id: get_s(item, "org_id")?,
        user_id: get_s(item, "user_id")?,
        email: get_s(item, "email")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?,
        added_at: Timestamp(get_n(item, "added_at")?),
    })
}

impl DynamoStore {
    async fn get_item(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
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

    async fn org_exists(&self, org_id: &str) -> StoreResult<bool> {
        Ok(self.get_item(org_pk(org_id), ORG_SK).await?.is_some())
    }
}

#[async_trait]
impl OrgStore for DynamoStore {
    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        org.validate()?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(put_new(&self.table, org_item(org)?)?)
            .transact_items(put_new(&self.table, name_guard(org))?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if transaction_condition_failed(&err) => Err(StoreError::Conflict(format!(
                "organisation {} or name {:?} exists",
                org.id, org.name
            ))),
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn get_org(&self, org_id: &str) -> StoreResult<Organization> {
        let item = self
            .get_item(org_pk(org_id), ORG_SK)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {org_id}")))?;
        Ok(serde_json::from_str(&get_s(&item, "body")?)?)
    }

    async fn find_org_by_name(&self, name: &str) -> StoreResult<Organization> {
        let not_found = || StoreError::NotFound(format!("organisation named {name:?}"));
        let guard = self
            .get_item(name_pk(name), NAME_SK)
            .await?
            .ok_or_else(not_found)?;
        let org = self.get_org(&get_s(&guard, "org_id")?).await?;
        if org.name == name {
            Ok(org)
        } else {
            Err(not_found())
        }
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        let mut orgs = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#kind = :kind")
                .expression_attribute_names("#kind", "kind")
                .expression_attribute_values(":kind", s("org"))
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items() {
                orgs.push(serde_json::from_str(&get_s(item, "body")?)?);
            }
            match out.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => return Ok(orgs),
            }
        }
    }

    async fn update_org(&self, org: &Organization) -> StoreResult<()> {
        org.validate()?;
        let current = self.get_org(&org.id).await?;
        // The stored name must still be the one read, so a concurrent rename cannot leave two
        // guards or none.
        let put_org = Put::builder()
            .table_name(&self.table)
            .set_item(Some(org_item(org)?))
            .condition_expression("attribute_exists(pk) AND #name = :old_name")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":old_name", s(&current.name))
            .build()
            .map_err(invalid_request)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_org).build());
        if current.name != org.name {
            let delete_old = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(name_pk(&current.name)))
                .key("sk", s(NAME_SK))
                .build()
                .map_err(invalid_request)?;
            request = request
                .transact_items(TransactWriteItem::builder().delete(delete_old).build())
                .transact_items(put_new(&self.table, name_guard(org))?);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if transaction_condition_failed(&err) => Err(StoreError::Conflict(format!(
                "organisation name {:?} exists, or {} changed meanwhile",
                org.name, org.id
            ))),
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn add_member(&self, member: &Member) -> StoreResult<()> {
        let org_exists = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(org_pk(&member.org_id)))
            .key("sk", s(ORG_SK))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(invalid_request)?;
        let item = Item::from([
            ("pk".to_owned(), s(org_pk(&member.org_id))),
            ("sk".to_owned(), s(member_sk(&member.user_id))),
            ("kind".to_owned(), s("member")),
            ("org_id".to_owned(), s(&member.org_id)),
            ("user_id".to_owned(), s(&member.user_id)),
            ("email".to_owned(), s(&member.email)),
            ("role".to_owned(), s(member.role.as_str())),
            ("added_at".to_owned(), n(member.added_at.millis())),
        ]);
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(org_exists)
                    .build(),
            )
            .transact_items(put_new(&self.table, item)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if transaction_condition_failed(&err) => {
                if self.org_exists(&member.org_id).await? {
                    Err(StoreError::Conflict(format!(
                        "{} is already a member of {}",
                        member.user_id, member.org_id
                    )))
                } else {
                    Err(StoreError::NotFound(format!(
                        "organisation {}",
                        member.org_id
                    )))
                }
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn get_member(&self, org_id: &str, user_id: &str) -> StoreResult<Member> {
        let item = self
            .get_item(org_pk(org_id), &member_sk(user_id))
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("member {user_id} of {org_id}")))?;
        member_from_item(&item)
    }

    async fn list_members(&self, org_id: &str) -> StoreResult<Vec<Member>> {
        let items = query_partition(
            &self.client,
            &self.table,
            org_pk(org_id),
            Some("MEMBER#".to_owned()),
        )
        .await?;
        let mut members = items
            .iter()
            .map(member_from_item)
            .collect::<StoreResult<Vec<_>>>()?;
        members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        Ok(members)
    }

    async fn set_member_role(&self, org_id: &str, user_id: &str, role: Role) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(org_pk(org_id)))
            .key("sk", s(member_sk(user_id)))
            .update_expression("SET #role = :role")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", s(role.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Err(StoreError::NotFound(format!(
                "member {user_id} of {org_id}"
            ))),
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn remove_member(&self, org_id: &str, user_id: &str) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(org_pk(org_id)))
            .key("sk", s(member_sk(user_id)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Err(StoreError::NotFound(format!(
                "member {user_id} of {org_id}"
            ))),
            Err(err) => Err(sdk_error(err)),
        }
    }
}
