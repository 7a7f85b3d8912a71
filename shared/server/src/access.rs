//! Who is calling and what they may spend: keys from the store (found by hash, cached briefly)
//! and from `[[auth.keys]]`, key checks (revocation, expiry, rotation grace, IP allowlist),
//! brute-force lockout, rate limits, and what happens after the answer (the receipt written in
//! the background, the token estimate reconciled).
//!
//! Keys of `[[auth.keys]]` belong to the configured organisation (id [`CONFIGURED_ORG_ID`]),
//! whose limits come from `[limits]` (none by default). It is also where security events go
//! that no organisation can be named for (an unknown key, a lockout).
//!
//! A key found in the store is trusted for `[auth] key_cache_secs` (5 s by default) before it
//! is read again, so a revocation takes effect within that bound; lookups that fail are never
//! cached, so a new key works at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gateway_core::config::{Config, LimitsConfig};
use gateway_core::keys::{self, GatewayKeyHash};
use gateway_core::receipt::Receipt;
use gateway_core::{ApiError, ErrorKind};
use gateway_store::model::api_key::{ApiKey, KeyStatus};
use gateway_store::model::audit::{AuditEvent, AuditOutcome};
use gateway_store::model::org::{Organization, Plan, PlanLimits};
use gateway_store::model::receipt::{ReceiptDetails, ReceiptRecord, TokenCounts};
use gateway_store::{Store, StoreError, Timestamp};

use crate::counter_writer::CounterWriter;
use crate::limits::{Admitted, LimitSet, Limiter, Measure, Refused, TokenReservation, Window};
use crate::lockout::{FailureOutcome, Lockout};
use crate::receipt_writer::ReceiptWriter;
use crate::spend::budget::{Budget, Reservation, usd_to_micros};

pub const CONFIGURED_ORG_ID: &str = "org_configured";
pub const CONFIGURED_ORG_NAME: &str = "configured";
/// Keys cached at most; past this, stale entries are pruned.
const CACHE_MAX: usize = 10_000;

#[derive(Clone)]
struct CachedKey {
    key: ApiKey,
    org: Arc<Organization>,
    fetched: Instant,
}

pub struct Access {
    pub store: Arc<dyn Store>,
    config_keys: Vec<(String, GatewayKeyHash)>,
    limits: LimitsConfig,
    cache_ttl: Duration,
    cache: Mutex<HashMap<GatewayKeyHash, CachedKey>>,
    lockout: Lockout,
    limiter: Limiter,
    pub writer: ReceiptWriter,
    counter_writer: Arc<CounterWriter>,
    receipt_retention_days: i64,
    /// The configured organisation, re-read from the store like a key (its spend settings
    /// can change while the gateway runs).
    configured_org: Mutex<(Arc<Organization>, Instant)>,
    pub budget: Budget,
}

/// An authenticated caller, carried by the request to the route that answers it.
pub struct Caller {
    pub org_id: String,
    /// The caller's organisation as read with its key (at most `key_cache_secs` old); the
    /// configured organisation for keys of `[[auth.keys]]`.
    pub org: Arc<Organization>,
    /// The store key's id, or `config:<name>` for a key of `[[auth.keys]]`.
    pub key_id: String,
    pub ip: IpAddr,
    request_id: String,
    tokens: Option<TokenReservation>,
    /// The worst case held against the organisation's spend limits, once routed.
    spend: Mutex<Option<Reservation>>,
    /// The response status, once known.
    status: AtomicU16,
    recorded: AtomicBool,
    access: Arc<Access>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("org_id", &self.org_id)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Why authentication refused a request.
pub struct Denied {
    pub error: ApiError,
    /// Rate-limit headers to send with a 429 from the limiter.
    pub standing: Option<crate::limits::Standing>,
}

impl From<ApiError> for Denied {
    fn from(error: ApiError) -> Self {
        Denied {
            error,
            standing: None,
        }
    }
}

impl Access {
    /// Ready to serve: the configured organisation exists in the store, the background writers run.
    pub async fn start(
        config: &Config,
        config_keys: Vec<(String, GatewayKeyHash)>,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Access> {
        let configured_org = Arc::new(ensure_configured_org(store.as_ref(), &config.limits).await?);
        let counter_writer = Arc::new(
            CounterWriter::start(store.clone())
                .map_err(|e| anyhow::anyhow!("starting the counters' writer thread: {e}"))?,
        );
        Ok(Access {
            budget: Budget::new(
                store.clone(),
                counter_writer.clone(),
                config.spend.platform_fee_percent,
                config.limits.default_max_output_tokens,
            ),
            writer: ReceiptWriter::start(store.clone())
                .map_err(|e| anyhow::anyhow!("starting the request log's writer thread: {e}"))?,
            limiter: Limiter::new(store.clone(), counter_writer.clone()),
            counter_writer,
            store,
            config_keys,
            limits: config.limits.clone(),
            cache_ttl: Duration::from_secs(config.auth.key_cache_secs),
            cache: Mutex::new(HashMap::new()),
            lockout: Lockout::new(config.auth.lockout.clone()),
            receipt_retention_days: i64::from(config.store.receipt_retention_days.max(1)),
            configured_org: Mutex::new((configured_org, Instant::now())),
        })
    }

    /// The configured organisation, read again from the store once `key_cache_secs` old; the
    /// last one read while the store cannot answer.
    async fn configured_org(&self) -> Arc<Organization> {
        let (org, fetched) = self
            .configured_org
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if fetched.elapsed() < self.cache_ttl {
            return org;
        }
        match self.store.get_org(CONFIGURED_ORG_ID).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                *self
                    .configured_org
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = (fresh.clone(), Instant::now());
                fresh
            }
            Err(error) => {
                tracing::warn!(%error, "re-reading the configured organisation failed");
                org
            }
        }
    }

    /// Authenticates `presented` from `ip` and counts the request against its limits.
    pub async fn admit(
        self: &Arc<Self>,
        presented: &str,
        ip: IpAddr,
        request_id: &str,
        body: Option<(&[u8], bool)>,
    ) -> Result<(Arc<Caller>, Option<crate::limits::Standing>), Denied> {
        let started = Instant::now();
        if let Some(left) = self.lockout.locked_for(ip, started) {
            return Err(locked_out(left).into());
        }
        let now = Timestamp::now();
        let hash = GatewayKeyHash::of(presented);
        let (org, key_id, mut set) = match self.config_keys.iter().find(|(_, h)| h.matches(&hash)) {
            Some((name, _)) => {
                let mut set = LimitSet::default();
                let subject = format!("org:{CONFIGURED_ORG_ID}");
                set.push(
                    &subject,
                    Measure::Requests,
                    Window::Minute,
                    self.limits.requests_per_minute,
                );
                set.push(
                    &subject,
                    Measure::Tokens,
                    Window::Minute,
                    self.limits.tokens_per_minute,
                );
                set.push(
                    &subject,
                    Measure::Requests,
                    Window::Day,
                    self.limits.requests_per_day,
                );
                (self.configured_org().await, format!("config:{name}"), set)
            }
            None => {
                let cached = self.find_key(presented, &hash, ip).await?;
                self.check_key(&cached.key, ip, now)?;
                let mut set = LimitSet::default();
                if let Ok(org) = cached.org.limits() {
                    let subject = format!("org:{}", cached.key.org_id);
                    set.push(
                        &subject,
                        Measure::Requests,
                        Window::Minute,
                        Some(org.requests_per_minute),
                    );
                    set.push(
                        &subject,
                        Measure::Tokens,
                        Window::Minute,
                        Some(org.tokens_per_minute),
                    );
                    set.push(
                        &subject,
                        Measure::Requests,
                        Window::Day,
                        Some(org.requests_per_day),
                    );
                }
                let subject = format!("key:{}", cached.key.id);
                set.push(
                    &subject,
                    Measure::Requests,
                    Window::Minute,
                    cached.key.rpm_limit,
                );
                set.push(
                    &subject,
                    Measure::Tokens,
                    Window::Minute,
                    cached.key.tpm_limit,
                );
                let store = self.store.clone();
                let id = cached.key.id.clone();
                let stale = cached.key.last_used_at.is_none_or(|at| {
                    now.millis() - at.millis() >= gateway_store::ports::LAST_USED_RESOLUTION_MS
                });
                if stale {
                    tokio::spawn(async move {
                        if let Err(error) = store.touch_key(&id, now).await {
                            tracing::warn!(%error, "recording a key's last use failed");
                        }
                    });
                }
                (cached.org.clone(), cached.key.id.clone(), set)
            }
        };
        set.limits
            .extend(LimitSet::for_ip(ip, self.limits.ip_requests_per_minute).limits);

        let estimate = match body {
            Some((bytes, is_chat)) if set.has_tokens() => crate::limits::estimate_tokens(
                bytes,
                is_chat,
                self.limits.default_max_output_tokens,
            ),
            _ => 0,
        };
        let (standing, tokens) = if set.limits.is_empty() {
            (None, None)
        } else {
            match self.limiter.admit(&set, estimate, now).await {
                Ok(Admitted { standing, tokens }) => {
                    (standing, (!tokens.counters.is_empty()).then_some(tokens))
                }
                Err(Refused { error, standing }) => {
                    return Err(Denied {
                        error,
                        standing: Some(standing),
                    });
                }
            }
        };
        let caller = Caller {
            org_id: org.id.clone(),
            org,
            key_id,
            ip,
            request_id: request_id.to_owned(),
            tokens,
            spend: Mutex::new(None),
            status: AtomicU16::new(0),
            recorded: AtomicBool::new(false),
            access: self.clone(),
        };
        Ok((Arc::new(caller), standing))
    }

    /// A store key by hash: from the cache while fresh, else from the store. Unknown keys
    /// count as failed authentications from `ip`.
    async fn find_key(
        &self,
        presented: &str,
        hash: &GatewayKeyHash,
        ip: IpAddr,
    ) -> Result<CachedKey, Denied> {
        let fresh = {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            cache
                .get(hash)
                .filter(|c| c.fetched.elapsed() < self.cache_ttl)
                .cloned()
        };
        if let Some(cached) = fresh {
            return Ok(cached);
        }
        if !keys::has_key_prefix(presented) {
            return Err(self.failed(presented, ip, "malformed").into());
        }
        let key = match self.store.find_key_by_hash(hash).await {
            Ok(key) => key,
            Err(StoreError::NotFound(_)) => {
                return Err(self.failed(presented, ip, "unknown").into());
            }
            Err(error) => {
                tracing::error!(%error, "looking up a key failed");
                return Err(ApiError::new(
                    ErrorKind::Unavailable,
                    "Key storage is unavailable; try again shortly.",
                )
                .into());
            }
        };
        let org = match self.store.get_org(&key.org_id).await {
            Ok(org) => Arc::new(org),
            Err(error) => {
                tracing::error!(%error, "reading a key's organisation failed");
                return Err(ApiError::new(
                    ErrorKind::Unavailable,
                    "Key storage is unavailable; try again shortly.",
                )
                .into());
            }
        };
        let cached = CachedKey {
            key,
            org,
            fetched: Instant::now(),
        };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_MAX {
            let ttl = self.cache_ttl;
            cache.retain(|_, c| c.fetched.elapsed() < ttl);
        }
        if cache.len() < CACHE_MAX {
            cache.insert(*hash, cached.clone());
        }
        Ok(cached)
    }

    fn check_key(&self, key: &ApiKey, ip: IpAddr, now: Timestamp) -> Result<(), ApiError> {
        let (code, message, action) = match key.status(now) {
            KeyStatus::Active | KeyStatus::ActiveUntilReplaced => {
                if key.allows(ip) {
                    return Ok(());
                }
                self.audit_key_event(key, "auth.ip_denied", ip);
                return Err(ApiError::new(
                    ErrorKind::Permission,
                    "This API key may not be used from your IP address.",
                )
                .with_code("ip_not_allowed"));
            }
            KeyStatus::Revoked => (
                "api_key_revoked",
                "This API key has been revoked.",
                "auth.revoked_key",
            ),
            KeyStatus::Expired => (
                "api_key_expired",
                "This API key has expired.",
                "auth.expired_key",
            ),
            KeyStatus::Replaced => (
                "api_key_rotated",
                "This API key was rotated and its grace period is over; use its replacement.",
                "auth.replaced_key",
            ),
        };
        self.audit_key_event(key, action, ip);
        Err(ApiError::new(ErrorKind::Authentication, message).with_code(code))
    }

    /// A failed authentication: counted for lockout, audited by key prefix (never the secret).
    fn failed(&self, presented: &str, ip: IpAddr, reason: &str) -> ApiError {
        self.record_failed_authentication(presented, ip, reason)
            .unwrap_or_else(|| {
                ApiError::new(ErrorKind::Authentication, "Incorrect API key provided.")
                    .with_code("invalid_api_key")
            })
    }

    /// How long `ip` is still locked out after failed authentications, as the error to send.
    pub fn check_lockout(&self, ip: IpAddr) -> Result<(), ApiError> {
        match self.lockout.locked_for(ip, Instant::now()) {
            Some(left) => Err(locked_out(left)),
            None => Ok(()),
        }
    }

    /// Counts a failed authentication (API key or admin token) from `ip` toward its lockout
    /// and audits it by prefix, never the secret. Returns the lockout error when this failure
    /// locked the address out.
    pub fn record_failed_authentication(
        &self,
        presented: &str,
        ip: IpAddr,
        reason: &str,
    ) -> Option<ApiError> {
        let prefix = display_prefix(presented);
        let outcome = self.lockout.record_failure(ip, Instant::now());
        let configured = self.configured_org_now();
        let mut event = AuditEvent::new(
            &configured,
            "anonymous",
            "auth.failed",
            &prefix,
            AuditOutcome::Denied,
            Timestamp::now(),
        );
        event.ip = Some(ip);
        event.details = serde_json::json!({ "reason": reason, "key_prefix": prefix });
        self.audit_in_background(event);
        if let FailureOutcome::LockedOut(length) = outcome {
            tracing::warn!(%ip, seconds = length.as_secs(), "IP address locked out after failed authentications");
            let mut event = AuditEvent::new(
                &configured,
                "system",
                "auth.lockout",
                &ip.to_string(),
                AuditOutcome::Denied,
                Timestamp::now(),
            );
            event.ip = Some(ip);
            event.details = serde_json::json!({ "lockout_secs": length.as_secs() });
            self.audit_in_background(event);
            return Some(locked_out(length));
        }
        None
    }

    /// The configured organisation as last read, without a store round trip.
    fn configured_org_now(&self) -> Arc<Organization> {
        self.configured_org
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .clone()
    }

    fn audit_key_event(&self, key: &ApiKey, action: &str, ip: IpAddr) {
        let now = Timestamp::now();
        let mut event = AuditEvent {
            id: gateway_store::model::id::new_id("evt"),
            org_id: key.org_id.clone(),
            at: now,
            actor: key.id.clone(),
            action: action.to_owned(),
            target: key.id.clone(),
            outcome: AuditOutcome::Denied,
            ip: Some(ip),
            details: serde_json::json!({ "key_prefix": key.display_prefix }),
            // The organisation's retention is not at hand on this path; the longest applies.
            expires_at: now.plus_days(365),
        };
        event.details["ip"] = serde_json::Value::String(ip.to_string());
        self.audit_in_background(event);
    }

    /// Writes `event` without making the caller wait; a failure is logged.
    pub fn audit_in_background(&self, event: AuditEvent) {
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(error) = store.append_audit(&event).await {
                tracing::error!(%error, action = %event.action, "writing an audit event failed");
            }
        });
    }

    /// Writes every queued receipt and counter change: before a Lambda invocation ends, and on
    /// clean shutdown.
    pub async fn flush(&self) {
        tokio::join!(self.writer.flush(), self.counter_writer.flush());
    }
}

fn locked_out(left: Duration) -> ApiError {
    let secs = left.as_secs().max(1);
    ApiError::new(
        ErrorKind::RateLimited,
        format!("Too many failed authentications from your IP address. Try again in {secs} s."),
    )
    .with_code("too_many_failed_authentications")
    .with_retry_after(Some(Duration::from_secs(secs)))
}

/// What may be logged of a presented key or admin token: its prefix and 8 characters, or a
/// placeholder when it is not shaped like a gateway key.
pub fn display_prefix(presented: &str) -> String {
    let prefix = [keys::PROD_PREFIX, keys::DEV_PREFIX, keys::ADMIN_PREFIX]
        .into_iter()
        .find(|p| presented.starts_with(p));
    match prefix {
        Some(p) => {
            let random: String = presented[p.len()..]
                .chars()
                .take(8)
                .filter(char::is_ascii_alphanumeric)
                .collect();
            format!("{p}{random}")
        }
        None => "(not a gateway key)".to_owned(),
    }
}

impl Caller {
    /// The receipt of the answer: written to the request log in the background, and the
    /// token estimate replaced by the real count. Only the first call counts.
    pub fn record(&self, receipt: &Receipt, status: u16) {
        if self.recorded.swap(true, Ordering::AcqRel) {
            return;
        }
        let record = ReceiptRecord {
            request_id: receipt.request_id.clone(),
            org_id: self.org_id.clone(),
            key_id: Some(self.key_id.clone()),
            at: Timestamp::now(),
            routing_decision: receipt.routing_decision.as_str().to_owned(),
            provider: receipt.provider.clone(),
            model: receipt.model.clone(),
            status,
            latency_ms: receipt.latency_ms,
            tokens: TokenCounts {
                prompt: receipt.tokens.prompt,
                completion: receipt.tokens.completion,
                total: receipt.tokens.total,
            },
            cost_usd: receipt.cost_usd,
            fallback_attempts: Vec::new(),
            details: ReceiptDetails::none(),
            expires_at: Timestamp::now().plus_days(self.access.receipt_retention_days),
        };
        self.access
            .writer
            .submit_with_receipt(record, receipt.clone());
        self.reconcile(receipt.tokens.total);
        self.settle_spend(usd_to_micros(receipt.cost.total_usd));
    }

    /// Holds `reservation` until the request's actual cost is known.
    pub fn hold_spend(&self, reservation: Reservation) {
        *self.spend.lock().unwrap_or_else(PoisonError::into_inner) = Some(reservation);
    }

    /// Replaces the held reservation (if any) by the actual cost.
    fn settle_spend(&self, actual_micros: u64) {
        let reservation = self
            .spend
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.access.budget.settle(
            reservation.as_ref(),
            &self.org,
            actual_micros,
            Timestamp::now(),
        );
    }

    /// The response's status, for a request whose route writes no receipt.
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    fn reconcile(&self, actual: u64) {
        if let Some(tokens) = &self.tokens {
            self.access.limiter.reconcile(tokens, actual);
        }
    }
}

impl Drop for Caller {
    /// A request that ends without a receipt (an error before or after routing, a listing, a
    /// non-streamed request whose client left) is still logged, with what is known, and gives
    /// its estimate back.
    fn drop(&mut self) {
        if self.recorded.swap(true, Ordering::AcqRel) {
            return;
        }
        let now = Timestamp::now();
        let record = ReceiptRecord {
            request_id: self.request_id.clone(),
            org_id: self.org_id.clone(),
            key_id: Some(self.key_id.clone()),
            at: now,
            routing_decision: String::new(),
            provider: String::new(),
            model: String::new(),
            status: self.status.load(Ordering::Relaxed),
            latency_ms: 0,
            tokens: TokenCounts::default(),
            cost_usd: 0.0,
            fallback_attempts: Vec::new(),
            details: ReceiptDetails::none(),
            expires_at: now.plus_days(self.access.receipt_retention_days),
        };
        self.access.writer.submit(record);
        self.reconcile(0);
        self.settle_spend(0);
    }
}

/// The configured organisation's record, created on first start. Its stored plan is
/// informational: its limits are read from `[limits]`.
async fn ensure_configured_org(
    store: &dyn Store,
    limits: &LimitsConfig,
) -> anyhow::Result<Organization> {
    match store.get_org(CONFIGURED_ORG_ID).await {
        Ok(org) => return Ok(org),
        Err(StoreError::NotFound(_)) => {}
        Err(error) => {
            return Err(anyhow::anyhow!(
                "reading the configured organisation: {error}"
            ));
        }
    }
    let mut org = Organization::new(CONFIGURED_ORG_NAME, Plan::Enterprise, Timestamp::now());
    org.id = CONFIGURED_ORG_ID.to_owned();
    org.custom_limits = Some(PlanLimits {
        requests_per_minute: limits.requests_per_minute.unwrap_or(u64::MAX),
        tokens_per_minute: limits.tokens_per_minute.unwrap_or(u64::MAX),
        requests_per_day: limits.requests_per_day.unwrap_or(u64::MAX),
    });
    match store.create_org(&org).await {
        Ok(()) => Ok(org),
        // Another process created it meanwhile.
        Err(StoreError::Conflict(_)) => store
            .get_org(CONFIGURED_ORG_ID)
            .await
            .map_err(|e| anyhow::anyhow!("reading the configured organisation: {e}")),
        Err(error) => Err(anyhow::anyhow!(
            "creating the configured organisation: {error}"
        )),
    }
}
