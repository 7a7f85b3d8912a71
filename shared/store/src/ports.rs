//! The ports: what the gateway asks of storage, whichever backend answers. Every backend passes
//! the same contract suite (`tests/contract/`), so code written against these traits behaves
//! the same on an SQLite file and on a DynamoDB table.

use std::sync::Arc;

use async_trait::async_trait;
use gateway_core::keys::GatewayKeyHash;

use crate::error::StoreResult;
use crate::model::admin_token::AdminToken;
use crate::model::api_key::{ApiKey, KeySettings};
use crate::model::audit::AuditEvent;
use crate::model::breaker::{BreakerRecord, SharedBreaker};
use crate::model::member::{Member, Role};
use crate::model::org::Organization;
use crate::model::query::{AuditQuery, Page, ReceiptQuery};
use crate::model::receipt::ReceiptRecord;
use crate::time::Timestamp;

/// Organisations and their members.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// `Conflict` when the id or the name is taken.
    async fn create_org(&self, org: &Organization) -> StoreResult<()>;
    async fn get_org(&self, org_id: &str) -> StoreResult<Organization>;
    async fn find_org_by_name(&self, name: &str) -> StoreResult<Organization>;
    /// Replaces the stored organisation (same id); `Conflict` when a new name is taken.
    async fn update_org(&self, org: &Organization) -> StoreResult<()>;
    /// Every organisation, in no particular order: for scheduled work over all of them (spend
    /// alerts). A full read of the organisations; not for the request path.
    async fn list_orgs(&self) -> StoreResult<Vec<Organization>>;

    /// `Conflict` when the user is already a member; `NotFound` when the organisation is not.
    async fn add_member(&self, member: &Member) -> StoreResult<()>;
    async fn get_member(&self, org_id: &str, user_id: &str) -> StoreResult<Member>;
    /// Ordered by user id.
    async fn list_members(&self, org_id: &str) -> StoreResult<Vec<Member>>;
    async fn set_member_role(&self, org_id: &str, user_id: &str, role: Role) -> StoreResult<()>;
    async fn remove_member(&self, org_id: &str, user_id: &str) -> StoreResult<()>;
}

/// API keys, found by the hash of the secret a client presents.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// `Conflict` when the id or the hash is already stored.
    async fn insert_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// The key whatever its status (revoked, expired, replaced), so the caller can say why it
    /// refuses it; `NotFound` only when no key has this hash.
    async fn find_key_by_hash(&self, hash: &GatewayKeyHash) -> StoreResult<ApiKey>;
    async fn get_key(&self, org_id: &str, key_id: &str) -> StoreResult<ApiKey>;
    /// Oldest first.
    async fn list_keys(&self, org_id: &str) -> StoreResult<Vec<ApiKey>>;
    /// Replaces the key's name, expiry, limits and allowlist; `NotFound` when `org_id` has no
    /// such key.
    async fn update_key_settings(
        &self,
        org_id: &str,
        key_id: &str,
        settings: &KeySettings,
    ) -> StoreResult<()>;
    /// Revoking a revoked key keeps the first revocation time.
    async fn revoke_key(&self, org_id: &str, key_id: &str, at: Timestamp) -> StoreResult<()>;
    /// In one atomic step: store `new_key` and mark `old_key_id` as replaced by it, usable until
    /// `old_valid_until` (the grace period). `Conflict` when the old key is revoked or already
    /// rotated, or the new key's hash is taken; then nothing is written.
    async fn rotate_key(
        &self,
        org_id: &str,
        old_key_id: &str,
        new_key: &ApiKey,
        old_valid_until: Timestamp,
    ) -> StoreResult<()>;
    /// Records a use. Cheap: a write happens only when the stored time is older than
    /// [`LAST_USED_RESOLUTION_MS`], so callers need not coalesce; unknown keys are ignored.
    async fn touch_key(&self, key_id: &str, at: Timestamp) -> StoreResult<()>;
}

/// Members' admin API tokens, found by the hash of the secret presented.
#[async_trait]
pub trait AdminTokenStore: Send + Sync {
    /// `Conflict` when the id or the hash is already stored.
    async fn insert_admin_token(&self, token: &AdminToken) -> StoreResult<()>;
    /// The token whatever its status; `NotFound` only when no token has this hash.
    async fn find_admin_token_by_hash(&self, hash: &GatewayKeyHash) -> StoreResult<AdminToken>;
    /// The member's tokens, revoked ones included, oldest first.
    async fn list_admin_tokens(&self, org_id: &str, user_id: &str) -> StoreResult<Vec<AdminToken>>;
    /// Revoking a revoked token keeps the first revocation time; `NotFound` when the member
    /// has no such token.
    async fn revoke_admin_token(
        &self,
        org_id: &str,
        user_id: &str,
        token_id: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
}

/// How stale `last_used_at` may be: a key used every second is written once a minute.
pub const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// The outcome of [`Counters::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub admitted: bool,
    /// The window's count after the call (with the amount when admitted, without when not).
    pub count: u64,
}

/// One ask of [`Counters::add_all`]: `amount` added to the window `(key, window_start)` if the
/// result stays within `limit`; the window lives until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub key: String,
    pub window_start: Timestamp,
    pub amount: u64,
    pub limit: u64,
    pub expires_at: Timestamp,
}

/// One change of [`Counters::adjust_many`]: `delta` added to the window `(key, window_start)`,
/// which lives until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    pub key: String,
    pub window_start: Timestamp,
    pub delta: i64,
    pub expires_at: Timestamp,
}

/// Fixed-window counters for rate limits (requests and tokens per minute, requests per day),
/// shared by every gateway process that uses the same store.
#[async_trait]
pub trait Counters: Send + Sync {
    /// Atomically adds `amount` to the window `(key, window_start)` only if the result stays
    /// within `limit`; concurrent callers never admit more than `limit` in total. The window
    /// lives until `expires_at`.
    async fn add(
        &self,
        key: &str,
        window_start: Timestamp,
        amount: u64,
        limit: u64,
        expires_at: Timestamp,
    ) -> StoreResult<Admission>;
    /// Every ask at once, all or none: when each fits its limit, each is added
    /// ([`Admission::admitted`], with the new count); when any does not, none is counted, and
    /// each admission says whether that ask alone fitted, with the count as it stands. Backends
    /// that can check and write every window in one transaction do (SQLite); by default the
    /// asks go out side by side and, when one is refused, what the others added is given back.
    async fn add_all(&self, asks: &[Ask]) -> StoreResult<Vec<Admission>> {
        let adds = asks.iter().map(|ask| {
            self.add(
                &ask.key,
                ask.window_start,
                ask.amount,
                ask.limit,
                ask.expires_at,
            )
        });
        let mut admissions = futures::future::try_join_all(adds).await?;
        if admissions.iter().all(|a| a.admitted) {
            return Ok(admissions);
        }
        let give_back = asks
            .iter()
            .zip(admissions.iter_mut())
            .filter(|(ask, admission)| admission.admitted && ask.amount > 0)
            .map(|(ask, admission)| async move {
                let delta = -i64::try_from(ask.amount).unwrap_or(i64::MAX);
                admission.count = self
                    .adjust(&ask.key, ask.window_start, delta, ask.expires_at)
                    .await?;
                StoreResult::Ok(())
            });
        futures::future::try_join_all(give_back).await?;
        Ok(admissions)
    }
    /// Adds `delta` (negative to give back) without a limit: reconciles an estimate (tokens per
    /// minute) with the actual figure. Returns the new count (never below zero).
    async fn adjust(
        &self,
        key: &str,
        window_start: Timestamp,
        delta: i64,
        expires_at: Timestamp,
    ) -> StoreResult<u64>;
    /// Applies every adjustment as [`Counters::adjust`] would, one after another (each count
    /// floored at zero), in as few round trips as the backend allows: SQLite writes them in one
    /// transaction; by default the windows are updated side by side, the changes of one window
    /// in order. Counters change after a request this way, many requests' changes at once.
    async fn adjust_many(&self, adjustments: &[Adjustment]) -> StoreResult<()> {
        let mut windows: Vec<Vec<&Adjustment>> = Vec::new();
        for a in adjustments {
            match windows
                .iter_mut()
                .find(|w| w[0].key == a.key && w[0].window_start == a.window_start)
            {
                Some(window) => window.push(a),
                None => windows.push(vec![a]),
            }
        }
        let updates = windows.into_iter().map(|window| async move {
            for a in window {
                self.adjust(&a.key, a.window_start, a.delta, a.expires_at)
                    .await?;
            }
            StoreResult::Ok(())
        });
        futures::future::try_join_all(updates).await?;
        Ok(())
    }
    /// The window's count (0 when absent or expired).
    async fn get(&self, key: &str, window_start: Timestamp) -> StoreResult<u64>;
    /// Each window's count, in order, as [`Counters::get`] would read it: in one call where
    /// the backend allows (SQLite), side by side by default.
    async fn get_many(&self, windows: &[(String, Timestamp)]) -> StoreResult<Vec<u64>> {
        let reads = windows.iter().map(|(key, start)| self.get(key, *start));
        futures::future::try_join_all(reads).await
    }
    /// Deletes windows expired at `now`; returns how many.
    async fn purge_expired_counters(&self, now: Timestamp) -> StoreResult<u64>;
}

/// The request log: one receipt per request.
#[async_trait]
pub trait ReceiptStore: Send + Sync {
    /// Stores every record; a record whose request id is already stored replaces it. The
    /// records are shared, not borrowed, so a backend can serialise them off the async runtime
    /// and a caller can send the same batch again.
    async fn append_receipts(&self, records: Arc<[ReceiptRecord]>) -> StoreResult<()>;
    /// Newest first; records expired at `now` are never returned.
    async fn query_receipts(
        &self,
        query: &ReceiptQuery,
        now: Timestamp,
    ) -> StoreResult<Page<ReceiptRecord>>;
    /// Deletes records expired at `now`; returns how many.
    async fn purge_expired_receipts(&self, now: Timestamp) -> StoreResult<u64>;
}

/// The audit log: admin actions and security events.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Newest first; events past their retention at `now` are never returned.
    async fn query_audit(
        &self,
        query: &AuditQuery,
        now: Timestamp,
    ) -> StoreResult<Page<AuditEvent>>;
    /// Deletes events past their retention at `now`; returns how many.
    async fn purge_expired_audit(&self, now: Timestamp) -> StoreResult<u64>;
}

/// Circuit breakers shared by every gateway process on the store: one record per model, replaced
/// only by a write that names the version it read (optimistic concurrency), so two processes
/// racing to open, probe or close the same breaker never overwrite each other blindly.
#[async_trait]
pub trait BreakerStore: Send + Sync {
    /// Every stored breaker, ordered by model. Read every few hundred milliseconds by each
    /// process, so it reads only breaker records.
    async fn list_breakers(&self) -> StoreResult<Vec<BreakerRecord>>;
    /// `NotFound` when no process has written this model's breaker.
    async fn get_breaker(&self, model: &str) -> StoreResult<BreakerRecord>;
    /// Stores `breaker` as version `expected_version + 1` if the stored version is still
    /// `expected_version` (0: no record yet); otherwise `Conflict`, and nothing is written.
    async fn replace_breaker(
        &self,
        model: &str,
        expected_version: u64,
        breaker: &SharedBreaker,
    ) -> StoreResult<BreakerRecord>;
}

/// Every port at once, for code that takes one store handle.
pub trait Store:
    OrgStore + KeyStore + AdminTokenStore + Counters + ReceiptStore + AuditLog + BreakerStore
{
}

impl<T: OrgStore + KeyStore + AdminTokenStore + Counters + ReceiptStore + AuditLog + BreakerStore>
    Store for T
{
}

/// Every audit event matching `query` (all pages), for export.
pub async fn collect_audit(
    log: &dyn AuditLog,
    query: &AuditQuery,
    now: Timestamp,
) -> StoreResult<Vec<AuditEvent>> {
    let mut query = query.clone();
    let mut events = Vec::new();
    loop {
        let page = log.query_audit(&query, now).await?;
        events.extend(page.items);
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(events),
        }
    }
}
