//! Configuration: one TOML file, then environment overrides, then validation and resolution.
//!
//! `LLM_GATEWAY__SECTION__KEY=value` overrides `[section] key` (values parse as TOML, so numbers
//! and booleans keep their type). Provider keys and base URLs also come from the variables users
//! already have (`OPENAI_API_KEY`, `GROQ_BASE_URL`, …). Secrets in the file are references such as
//! `env::MY_KEY`, so the file itself can be committed. The environment is read through
//! [`EnvSource`], so tests inject it instead of mutating the process.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::keys::GatewayKeyHash;
use secrecy::SecretString;
use serde::Deserialize;

use crate::health::BreakerSettings;
use crate::providers::{AWS_PROVIDERS, BUILT_IN_PROVIDERS, BuiltInProvider, Dialect};
use crate::routing::{Priority, RoutingPreferences};

/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "LLM_GATEWAY__";

/// Where configuration values come from besides the file.
pub trait EnvSource {
    fn var(&self, name: &str) -> Option<String>;
    /// All variables, for prefix scans.
    fn vars(&self) -> Vec<(String, String)>;
}

/// The real process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn vars(&self) -> Vec<(String, String)> {
        std::env::vars().collect()
    }
}

impl EnvSource for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned().filter(|v| !v.is_empty())
    }

    fn vars(&self) -> Vec<(String, String)> {
        self.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("configuration: `{path}`: {message}")]
    Field { path: String, message: String },
    #[error("configuration: the environment variable {var} is not valid: {message}")]
    Env { var: String, message: String },
}

/// The configuration as written. See `Config::load`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub upstream: UpstreamConfig,
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    #[serde(default)]
    pub routing: RoutingConfig,
    #[serde(default)]
    pub catalog: CatalogConfig,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub spend: SpendConfig,
}

/// Costs, spend alerts and anomaly detection (`[spend]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpendConfig {
    /// Added to every request's provider cost, in percent of it: 0 when the keys are the
    /// user's own, as they are on a self-hosted gateway.
    pub platform_fee_percent: f64,
    /// How often `serve` evaluates thresholds and anomalies (the `spend-alerts` timer).
    pub evaluate_every_secs: u64,
    /// Deliveries per alert at most, the first included; then it is retried at the next
    /// evaluation.
    pub webhook_attempts: u32,
    /// Wait before the second delivery, doubling before each further one.
    pub webhook_backoff_ms: u64,
    pub webhook_timeout_ms: u64,
    /// Complete hours before the current one that form an organisation's baseline.
    pub anomaly_baseline_hours: u32,
    /// `k` of `median + k × 1.4826 × MAD`.
    pub anomaly_sensitivity: f64,
    /// The hour must also be at least this many times the baseline's median.
    pub anomaly_min_ratio: f64,
    /// Hours below these are never anomalous, whatever the baseline.
    pub anomaly_min_usd: f64,
    pub anomaly_min_requests: u64,
    /// The deployment's alert, for organisations that have not set their own.
    pub default_alert: DefaultAlertConfig,
}

/// `[spend.default_alert]`: where an organisation's threshold and anomaly alerts go when it has
/// no alert of its own (the stack's `AlertWebhookUrl`). An empty `webhook_url` means none.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefaultAlertConfig {
    pub webhook_url: String,
    /// The HMAC-SHA256 key of the signature header, or `env::VAR`.
    pub secret: String,
    pub threshold_percent: u8,
}

impl Default for DefaultAlertConfig {
    fn default() -> Self {
        DefaultAlertConfig {
            webhook_url: String::new(),
            secret: String::new(),
            threshold_percent: 80,
        }
    }
}

impl SpendConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let field = |name: &str, message: &str| ConfigError::Field {
            path: format!("spend.{name}"),
            message: message.to_owned(),
        };
        if !(0.0..=100.0).contains(&self.platform_fee_percent) {
            return Err(field("platform_fee_percent", "must be from 0 to 100"));
        }
        if self.evaluate_every_secs == 0 {
            return Err(field("evaluate_every_secs", "must be at least 1"));
        }
        if self.webhook_attempts == 0 || self.webhook_attempts > 20 {
            return Err(field("webhook_attempts", "must be from 1 to 20"));
        }
        if self.anomaly_baseline_hours < 3 || self.anomaly_baseline_hours > 168 {
            return Err(field("anomaly_baseline_hours", "must be from 3 to 168"));
        }
        let finite_non_negative = [
            ("anomaly_sensitivity", self.anomaly_sensitivity),
            ("anomaly_min_ratio", self.anomaly_min_ratio),
            ("anomaly_min_usd", self.anomaly_min_usd),
        ];
        for (name, value) in finite_non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(field(name, "must be a number of at least 0"));
            }
        }
        Ok(())
    }
}

impl Default for SpendConfig {
    fn default() -> Self {
        SpendConfig {
            platform_fee_percent: 0.0,
            evaluate_every_secs: 60,
            webhook_attempts: 5,
            webhook_backoff_ms: 1_000,
            webhook_timeout_ms: 10_000,
            anomaly_baseline_hours: 24,
            anomaly_sensitivity: 5.0,
            anomaly_min_ratio: 3.0,
            anomaly_min_usd: 1.0,
            anomaly_min_requests: 100,
            default_alert: DefaultAlertConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Requests with a larger body get a 413 before any parsing.
    pub max_body_bytes: usize,
    /// Browser origins allowed to call the gateway (CORS); `["*"]` for any, `[]` for none.
    /// Keys travel in a header, never a cookie, so allowing origins exposes no ambient
    /// credential.
    pub cors_allowed_origins: Vec<String>,
    /// Threads that answer requests, each with a runtime of its own; `None` for one per core.
    pub workers: Option<NonZeroUsize>,
    /// Requests in progress on `/v1` at most (a stream until it ends); more are refused with
    /// 503 `gateway_overloaded`. `None`: no limit.
    pub max_in_flight: Option<NonZeroUsize>,
    /// How long a stopping server lets requests in flight finish before it ends them (streams
    /// with an error event, others with a 503). Short of Docker's 10 s between its stop signal
    /// and its kill, so receipts are written first.
    pub shutdown_grace_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 4 * 1024 * 1024,
            cors_allowed_origins: vec!["*".to_owned()],
            workers: None,
            max_in_flight: None,
            shutdown_grace_ms: 8_000,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
    /// How long a key found in the store is trusted before it is looked up again: the bound
    /// on how late a revocation takes effect. Failed lookups are never cached.
    #[serde(default = "default_key_cache_secs")]
    pub key_cache_secs: u64,
    #[serde(default)]
    pub lockout: LockoutConfig,
}

fn default_key_cache_secs() -> u64 {
    5
}

/// Brute-force protection: `max_failures` failed authentications from one IP address within
/// `window_secs` lock it out for `lockout_secs`, doubling with each further lockout up to
/// `max_lockout_secs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    pub max_failures: u32,
    pub window_secs: u64,
    pub lockout_secs: u64,
    pub max_lockout_secs: u64,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            max_failures: 10,
            window_secs: 300,
            lockout_secs: 60,
            max_lockout_secs: 3600,
        }
    }
}

/// Where organisations, keys, counters, receipts and the audit log live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// The SQLite file (default: `gateway.db` in the data directory).
    pub path: Option<PathBuf>,
    /// How long receipts (the request log) are kept.
    pub receipt_retention_days: u32,
    pub dynamodb: DynamoDbConfig,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: StoreBackend::Sqlite,
            path: None,
            receipt_retention_days: 30,
            dynamodb: DynamoDbConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    Sqlite,
    Dynamodb,
}

/// The DynamoDB table (`backend = "dynamodb"`). Region and credentials default to the AWS
/// chain; the credentials here are for local endpoints and may be `env::VAR` references.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamoDbConfig {
    pub table: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Create the table at start-up when it does not exist (local endpoints, tests).
    pub create_table: bool,
}

/// Rate limits outside the organisations in the store: the configured organisation (the keys
/// of `[[auth.keys]]`), and every client IP address. None by default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub requests_per_day: Option<u64>,
    /// Requests per minute from one client IP address, whatever the key.
    pub ip_requests_per_minute: Option<u64>,
    /// The output a tokens-per-minute estimate assumes when a request sets no `max_tokens`.
    pub default_max_output_tokens: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            requests_per_minute: None,
            tokens_per_minute: None,
            requests_per_day: None,
            ip_requests_per_minute: None,
            default_max_output_tokens: 1024,
        }
    }
}

/// A gateway key accepted until organisation key management is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub name: String,
    /// The key itself, or a reference `env::VAR`.
    #[serde(default)]
    pub secret: Option<String>,
    /// Hex SHA-256 of the key, for files that should not hold the key at all.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Time limits on calls to providers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    pub connect_timeout_ms: u64,
    /// A whole non-streamed call.
    pub request_timeout_ms: u64,
    /// From sending a streamed call to its first token (its first chunk with output).
    pub first_chunk_timeout_ms: u64,
    /// Between two chunks of a stream: past it the stream is declared dead.
    pub idle_timeout_ms: u64,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            connect_timeout_ms: 5_000,
            request_timeout_ms: 600_000,
            first_chunk_timeout_ms: 120_000,
            idle_timeout_ms: 120_000,
        }
    }
}

impl UpstreamConfig {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
    pub fn first_chunk_timeout(&self) -> Duration {
        Duration::from_millis(self.first_chunk_timeout_ms)
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Protocol of a provider that is not built in; `openai_compatible` for vLLM, TGI,
    /// llama.cpp, Ollama and the like.
    #[serde(default)]
    pub kind: Option<Dialect>,
    #[serde(default)]
    pub base_url: Option<String>,
    /// The key, or a reference `env::VAR`. Optional for self-hosted servers.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Chat models served beyond the catalog's (the only ones for a self-hosted server).
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub embedding_models: Vec<String>,
    /// `false` turns a provider off even when its key is in the environment.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// AWS providers (`bedrock`, `sagemaker`): the region; `AWS_REGION` (or
    /// `AWS_DEFAULT_REGION`) when absent.
    #[serde(default)]
    pub region: Option<String>,
    /// AWS providers: static credentials (values or `env::VAR` references) instead of the
    /// standard AWS chain (environment, profile, web identity, container or instance role).
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
    #[serde(default)]
    pub session_token: Option<String>,
    /// SageMaker: model name (as clients call it) -> endpoint name.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// `[routing]`: the routing preferences every request gets until organisations are stored,
/// plus breaker, timeout and receipt settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// The organisation's usual model: the baseline of `savings_vs_default_usd`.
    pub default_model: Option<String>,
    /// What `auto` optimises for when a request gives no `priority` hint.
    pub default_priority: Priority,
    /// Lowest predicted quality (0-1) `auto` accepts.
    pub quality_threshold: f64,
    /// Highest estimated latency `auto` accepts.
    pub max_latency_ms: Option<u64>,
    pub allowed_providers: Vec<String>,
    pub blocked_providers: Vec<String>,
    pub allowed_models: Vec<String>,
    pub blocked_models: Vec<String>,
    /// Regions (`us`, `eu`) a model must be served in; empty for any.
    pub allowed_regions: Vec<String>,
    pub fallback_enabled: bool,
    /// Models tried after the automatic fallbacks, when a request names no chain.
    pub fallback_chain: Vec<String>,
    /// Calls per request at most, fallbacks included.
    pub max_attempts: usize,
    /// One call, or a stream up to its first token; `upstream.request_timeout_ms` /
    /// `upstream.first_chunk_timeout_ms` when absent.
    pub attempt_timeout_ms: Option<u64>,
    /// All attempts of a request together; no limit beyond the attempts' own when absent.
    pub deadline_ms: Option<u64>,
    pub breaker: BreakerSettings,
    /// Receipts kept in memory for `GET /v1/receipts/{request_id}`.
    pub receipts_kept: usize,
    /// A learned quality predictor for `auto`; the catalog priors when absent.
    pub predictor: Option<PredictorConfig>,
}

/// `[routing.predictor]`: a trained predictor (`llm-gateway eval-router --out`) and the
/// embedding model it was trained with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictorConfig {
    /// The predictor's JSON file.
    pub file: PathBuf,
    /// The embedding model's folder (`config.json`, `tokenizer.json`, `model.safetensors`).
    pub model_dir: PathBuf,
    /// Longest wait for a prompt's embedding; past it the request is routed on the priors.
    #[serde(default = "default_embed_timeout_ms")]
    pub timeout_ms: u64,
    /// Gateway model (`openai/gpt-4o`) to the name the predictor was trained on
    /// (`gpt-4-1106-preview`); a model not listed is looked up under its own id. Models the
    /// predictor does not know keep their catalog prior.
    #[serde(default)]
    pub models: BTreeMap<String, String>,
}

/// Embedding a short prompt takes tens of milliseconds on one CPU thread; a loaded machine
/// gets a few times that before `auto` gives up on it.
fn default_embed_timeout_ms() -> u64 {
    250
}

impl Default for RoutingConfig {
    fn default() -> Self {
        let preferences = RoutingPreferences::default();
        RoutingConfig {
            default_model: None,
            default_priority: preferences.default_priority,
            quality_threshold: preferences.quality_threshold,
            max_latency_ms: None,
            allowed_providers: Vec::new(),
            blocked_providers: Vec::new(),
            allowed_models: Vec::new(),
            blocked_models: Vec::new(),
            allowed_regions: Vec::new(),
            fallback_enabled: preferences.fallback_enabled,
            fallback_chain: Vec::new(),
            max_attempts: preferences.max_attempts,
            attempt_timeout_ms: None,
            deadline_ms: None,
            breaker: BreakerSettings::default(),
            receipts_kept: 1_000,
            predictor: None,
        }
    }
}

impl RoutingConfig {
    /// The preferences these settings describe, checked.
    pub fn preferences(&self) -> Result<RoutingPreferences, ConfigError> {
        let field = |name: &str, message: &str| ConfigError::Field {
            path: format!("routing.{name}"),
            message: message.to_owned(),
        };
        if !(0.0..=1.0).contains(&self.quality_threshold) {
            return Err(field("quality_threshold", "must be from 0 to 1"));
        }
        if self.max_attempts == 0 {
            return Err(field("max_attempts", "must be at least 1"));
        }
        if self.predictor.as_ref().is_some_and(|p| p.timeout_ms == 0) {
            return Err(field("predictor.timeout_ms", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.breaker.error_rate) {
            return Err(field("breaker.error_rate", "must be from 0 to 1"));
        }
        if self.breaker.refresh_ms == 0 {
            return Err(field("breaker.refresh_ms", "must be at least 1"));
        }
        let set = |v: &[String]| v.iter().cloned().collect();
        Ok(RoutingPreferences {
            default_model: self.default_model.clone(),
            default_priority: self.default_priority,
            quality_threshold: self.quality_threshold,
            max_latency_ms: self.max_latency_ms,
            allowed_providers: set(&self.allowed_providers),
            blocked_providers: set(&self.blocked_providers),
            allowed_models: set(&self.allowed_models),
            blocked_models: set(&self.blocked_models),
            allowed_regions: set(&self.allowed_regions),
            fallback_enabled: self.fallback_enabled,
            fallback_chain: self.fallback_chain.clone(),
            max_attempts: self.max_attempts,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// A TOML file of `[[model]]` entries that extends or overrides the built-in catalog.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `gateway_server=debug`; `RUST_LOG` wins.
    pub filter: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Reads the file (if any), applies `LLM_GATEWAY__…` overrides and checks every field.
    pub fn load(path: Option<&Path>, env: &dyn EnvSource) -> Result<Config, ConfigError> {
        let mut table = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Syntax {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })?
            }
            None => toml::Table::new(),
        };
        apply_env_overrides(&mut table, env)?;
        Self::from_table(table)
    }

    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Syntax {
                path: "(inline)".to_owned(),
                message: e.to_string(),
            })?;
        Self::from_table(table)
    }

    fn from_table(table: toml::Table) -> Result<Config, ConfigError> {
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                ConfigError::Field {
                    path: e.path().to_string(),
                    message: e.into_inner().to_string(),
                }
            })?;
        config.spend.validate()?;
        Ok(config)
    }
}

/// `LLM_GATEWAY__UPSTREAM__IDLE_TIMEOUT_MS=500` sets `[upstream] idle_timeout_ms = 500`.
fn apply_env_overrides(table: &mut toml::Table, env: &dyn EnvSource) -> Result<(), ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .vars()
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let path: Vec<String> = var[ENV_PREFIX.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var,
                message: "empty path segment".to_owned(),
            });
        }
        let value = parse_env_value(&raw);
        let mut node = &mut *table;
        for segment in &path[..path.len() - 1] {
            let entry = node
                .entry(segment.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            node = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::Env {
                        var,
                        message: format!("`{segment}` is not a section"),
                    });
                }
            };
        }
        if let Some(last) = path.last() {
            node.insert(last.clone(), value);
        }
    }
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

/// Resolves `env::VAR` references; anything else is the value itself.
pub fn resolve_secret(
    value: &str,
    env: &dyn EnvSource,
    field: &str,
) -> Result<SecretString, ConfigError> {
    match value.strip_prefix("env::") {
        Some(var) => env
            .var(var)
            .map(SecretString::from)
            .ok_or_else(|| ConfigError::Field {
                path: field.to_owned(),
                message: format!("refers to the environment variable {var}, which is not set"),
            }),
        None => Ok(SecretString::from(value.to_owned())),
    }
}

/// A provider the gateway will call, with everything filled in.
#[derive(Debug, Clone)]
pub struct ResolvedProvider {
    pub id: String,
    pub dialect: Dialect,
    pub base_url: String,
    pub api_key: Option<SecretString>,
    pub models: Vec<String>,
    pub embedding_models: Vec<String>,
    /// For AWS providers: region, credentials and SageMaker endpoints.
    pub aws: Option<AwsSettings>,
}

/// How an AWS provider is reached. `base_url` of its [`ResolvedProvider`] is the endpoint.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: String,
    /// Whether `base_url` was configured (a local stand-in) rather than AWS's own endpoint.
    pub endpoint_overridden: bool,
    /// `None`: the standard AWS credential chain.
    pub credentials: Option<AwsCredentials>,
    /// SageMaker: model name -> endpoint name.
    pub endpoints: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
}

/// Turns built-in defaults, the environment and `[providers.*]` into the providers to call.
/// A built-in provider is on when it has a key; a declared one when it has a base URL.
pub fn resolve_providers(
    config: &Config,
    env: &dyn EnvSource,
) -> Result<Vec<ResolvedProvider>, ConfigError> {
    let mut resolved = Vec::new();
    for built_in in BUILT_IN_PROVIDERS {
        let section = config.providers.get(built_in.id);
        if section.is_some_and(|s| !s.enabled) {
            continue;
        }
        if let Some(p) = resolve_built_in(built_in, section, env)? {
            resolved.push(p);
        }
    }
    for (id, section) in &config.providers {
        if BUILT_IN_PROVIDERS.iter().any(|b| b.id == id) || !section.enabled {
            continue;
        }
        let field = format!("providers.{id}");
        let aws_dialect = AWS_PROVIDERS
            .iter()
            .find(|(name, _)| name == id)
            .map(|&(_, dialect)| dialect)
            .or(section.kind.filter(|k| k.is_aws()));
        if let Some(dialect) = aws_dialect {
            resolved.push(resolve_aws(id, dialect, section, env)?);
            continue;
        }
        if id.is_empty() || id.contains('/') {
            return Err(ConfigError::Field {
                path: field,
                message: "a provider name must be non-empty and contain no '/'".to_owned(),
            });
        }
        let dialect = section.kind.ok_or_else(|| ConfigError::Field {
            path: format!("{field}.kind"),
            message: "a provider that is not built in needs `kind` (e.g. \"openai_compatible\")"
                .to_owned(),
        })?;
        let base_url = section.base_url.clone().ok_or_else(|| ConfigError::Field {
            path: format!("{field}.base_url"),
            message: "a provider that is not built in needs `base_url`".to_owned(),
        })?;
        check_url(&base_url, &format!("{field}.base_url"))?;
        if section.models.is_empty() && section.embedding_models.is_empty() {
            return Err(ConfigError::Field {
                path: format!("{field}.models"),
                message: "declare the models this server serves".to_owned(),
            });
        }
        let api_key = section
            .api_key
            .as_deref()
            .map(|k| resolve_secret(k, env, &format!("{field}.api_key")))
            .transpose()?;
        resolved.push(ResolvedProvider {
            id: id.clone(),
            dialect,
            base_url: trim_slash(base_url),
            api_key,
            models: section.models.clone(),
            embedding_models: section.embedding_models.clone(),
            aws: None,
        });
    }
    Ok(resolved)
}

/// An AWS provider: on when its section is present; region from the section or the
/// environment; credentials from the section or, by default, the standard AWS chain.
fn resolve_aws(
    id: &str,
    dialect: Dialect,
    section: &ProviderConfig,
    env: &dyn EnvSource,
) -> Result<ResolvedProvider, ConfigError> {
    let field = format!("providers.{id}");
    let fail = |key: &str, message: &str| ConfigError::Field {
        path: format!("{field}.{key}"),
        message: message.to_owned(),
    };
    if section.kind.is_some_and(|k| k != dialect) {
        return Err(fail("kind", "an AWS provider's kind cannot change"));
    }
    if section.api_key.is_some() {
        return Err(fail(
            "api_key",
            "AWS providers sign requests with AWS credentials: use `access_key_id` and \
             `secret_access_key`, or the standard AWS chain",
        ));
    }
    if id.contains('/') {
        return Err(fail("", "a provider name must contain no '/'"));
    }
    let region = section
        .region
        .clone()
        .or_else(|| env.var("AWS_REGION"))
        .or_else(|| env.var("AWS_DEFAULT_REGION"))
        .ok_or_else(|| fail("region", "set `region` (or AWS_REGION)"))?;
    let credentials = match (&section.access_key_id, &section.secret_access_key) {
        (None, None) => None,
        (Some(id_ref), Some(secret_ref)) => {
            let key_id = resolve_secret(id_ref, env, &format!("{field}.access_key_id"))?;
            Some(AwsCredentials {
                access_key_id: secrecy::ExposeSecret::expose_secret(&key_id).to_owned(),
                secret_access_key: resolve_secret(
                    secret_ref,
                    env,
                    &format!("{field}.secret_access_key"),
                )?,
                session_token: section
                    .session_token
                    .as_deref()
                    .map(|t| resolve_secret(t, env, &format!("{field}.session_token")))
                    .transpose()?,
            })
        }
        _ => {
            return Err(fail(
                "access_key_id",
                "give both `access_key_id` and `secret_access_key`, or neither",
            ));
        }
    };
    let mut models = section.models.clone();
    match dialect {
        Dialect::Sagemaker => {
            if section.endpoints.is_empty() {
                return Err(fail(
                    "endpoints",
                    "map each model name to its SageMaker endpoint, e.g. \
                     endpoints = { \"llama-3-8b\" = \"my-endpoint\" }",
                ));
            }
            models.extend(section.endpoints.keys().cloned());
        }
        _ if !section.endpoints.is_empty() => {
            return Err(fail("endpoints", "only SageMaker providers have endpoints"));
        }
        _ => {}
    }
    let endpoint_overridden = section.base_url.is_some();
    let base_url = match &section.base_url {
        Some(url) => url.clone(),
        None => crate::providers::aws_endpoint(dialect, &region)
            .ok_or_else(|| fail("kind", "not an AWS provider"))?,
    };
    check_url(&base_url, &format!("{field}.base_url"))?;
    Ok(ResolvedProvider {
        id: id.to_owned(),
        dialect,
        base_url: trim_slash(base_url),
        api_key: None,
        models,
        embedding_models: section.embedding_models.clone(),
        aws: Some(AwsSettings {
            region,
            endpoint_overridden,
            credentials,
            endpoints: section.endpoints.clone(),
        }),
    })
}

fn resolve_built_in(
    built_in: &BuiltInProvider,
    section: Option<&ProviderConfig>,
    env: &dyn EnvSource,
) -> Result<Option<ResolvedProvider>, ConfigError> {
    let field = format!("providers.{}", built_in.id);
    let api_key = match section.and_then(|s| s.api_key.as_deref()) {
        Some(k) => Some(resolve_secret(k, env, &format!("{field}.api_key"))?),
        None => env.var(built_in.key_env).map(SecretString::from),
    };
    let Some(api_key) = api_key else {
        if section.is_some() {
            return Err(ConfigError::Field {
                path: field,
                message: format!(
                    "has no API key: set {} or `api_key` (or `enabled = false`)",
                    built_in.key_env
                ),
            });
        }
        return Ok(None);
    };
    let base_url = section
        .and_then(|s| s.base_url.clone())
        .or_else(|| env.var(built_in.base_url_env))
        .unwrap_or_else(|| built_in.base_url.to_owned());
    check_url(&base_url, &format!("{field}.base_url"))?;
    if let Some(kind) = section.and_then(|s| s.kind)
        && kind != built_in.dialect
    {
        return Err(ConfigError::Field {
            path: format!("{field}.kind"),
            message: format!("`{}` is built in; its kind cannot change", built_in.id),
        });
    }
    Ok(Some(ResolvedProvider {
        id: built_in.id.to_owned(),
        dialect: built_in.dialect,
        base_url: trim_slash(base_url),
        api_key: Some(api_key),
        models: section.map(|s| s.models.clone()).unwrap_or_default(),
        embedding_models: section
            .map(|s| s.embedding_models.clone())
            .unwrap_or_default(),
        aws: None,
    }))
}

fn check_url(url: &str, field: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError::Field {
            path: field.to_owned(),
            message: format!("`{url}` is not an http(s) URL"),
        })
    }
}

fn trim_slash(mut url: String) -> String {
    while url.ends_with('/') {
        url.pop();
    }
    url
}

/// Gateway keys from `[[auth.keys]]`, hashed.
pub fn resolve_keys(
    config: &Config,
    env: &dyn EnvSource,
) -> Result<Vec<(String, GatewayKeyHash)>, ConfigError> {
    let mut keys = Vec::new();
    for (i, key) in config.auth.keys.iter().enumerate() {
        let field = format!("auth.keys[{i}]");
        let hash = match (&key.secret, &key.sha256) {
            (Some(secret), None) => {
                let secret = resolve_secret(secret, env, &format!("{field}.secret"))?;
                let secret = secrecy::ExposeSecret::expose_secret(&secret);
                if !crate::keys::has_key_prefix(secret) {
                    return Err(ConfigError::Field {
                        path: format!("{field}.secret"),
                        message: "gateway keys start with `llm_gw_prod_` or `llm_gw_dev_` \
                                  (make one with `llm-gateway keygen`)"
                            .to_owned(),
                    });
                }
                GatewayKeyHash::of(secret)
            }
            (None, Some(hex)) => {
                GatewayKeyHash::from_hex(hex).ok_or_else(|| ConfigError::Field {
                    path: format!("{field}.sha256"),
                    message: "must be 64 hexadecimal characters".to_owned(),
                })?
            }
            _ => {
                return Err(ConfigError::Field {
                    path: field,
                    message: "give exactly one of `secret` and `sha256`".to_owned(),
                });
            }
        };
        keys.push((key.name.clone(), hash));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bedrock_is_on_when_its_section_is_present_with_a_region() {
        let config = Config::from_toml("[providers.bedrock]\nregion = \"eu-west-1\"\n").unwrap();
        let resolved = resolve_providers(&config, &env(&[])).unwrap();
        let bedrock = resolved.iter().find(|p| p.id == "bedrock").unwrap();
        assert_eq!(bedrock.dialect, Dialect::Bedrock);
        assert_eq!(
            bedrock.base_url,
            "https://bedrock-runtime.eu-west-1.amazonaws.com"
        );
        let aws = bedrock.aws.as_ref().unwrap();
        assert!(!aws.endpoint_overridden);
        assert!(
            aws.credentials.is_none(),
            "the standard AWS chain by default"
        );
        assert!(
            resolve_providers(&Config::default(), &env(&[]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn request_threads_can_be_set_but_not_to_zero() {
        assert_eq!(Config::default().server.workers, None);
        let set = Config::load(None, &env(&[("LLM_GATEWAY__SERVER__WORKERS", "4")])).unwrap();
        assert_eq!(set.server.workers, NonZeroUsize::new(4));
        let error = Config::from_toml("[server]\nworkers = 0\n").unwrap_err();
        assert!(error.to_string().contains("server.workers"), "{error}");
    }

    #[test]
    fn the_shutdown_grace_has_a_default_and_can_be_set() {
        assert_eq!(Config::default().server.shutdown_grace_ms, 8_000);
        let set = Config::load(
            None,
            &env(&[("LLM_GATEWAY__SERVER__SHUTDOWN_GRACE_MS", "25000")]),
        )
        .unwrap();
        assert_eq!(set.server.shutdown_grace_ms, 25_000);
    }

    #[test]
    fn requests_in_flight_are_unlimited_unless_set_and_never_zero() {
        assert_eq!(Config::default().server.max_in_flight, None);
        let set = Config::load(
            None,
            &env(&[("LLM_GATEWAY__SERVER__MAX_IN_FLIGHT", "5000")]),
        )
        .unwrap();
        assert_eq!(set.server.max_in_flight, NonZeroUsize::new(5000));
        let error = Config::from_toml("[server]\nmax_in_flight = 0\n").unwrap_err();
        assert!(
            error.to_string().contains("server.max_in_flight"),
            "{error}"
        );
    }

    #[test]
    fn the_breaker_refresh_interval_is_read_and_must_not_be_zero() {
        let config = Config::from_toml("[routing.breaker]\nrefresh_ms = 250\n").unwrap();
        assert_eq!(config.routing.breaker.refresh_ms, 250);
        assert!(config.routing.preferences().is_ok());
        let zero = Config::from_toml("[routing.breaker]\nrefresh_ms = 0\n").unwrap();
        let error = zero.routing.preferences().unwrap_err();
        assert!(
            error.to_string().contains("routing.breaker.refresh_ms"),
            "{error}"
        );
    }

    #[test]
    fn the_region_falls_back_to_aws_region_and_is_required() {
        let config = Config::from_toml("[providers.bedrock]\n").unwrap();
        let resolved = resolve_providers(&config, &env(&[("AWS_REGION", "us-west-2")])).unwrap();
        assert_eq!(resolved[0].aws.as_ref().unwrap().region, "us-west-2");
        let error = resolve_providers(&config, &env(&[])).unwrap_err();
        assert!(
            error.to_string().contains("providers.bedrock.region"),
            "{error}"
        );
    }

    #[test]
    fn static_credentials_come_from_env_references() {
        let config = Config::from_toml(
            "[providers.bedrock]\nregion = \"us-east-1\"\nbase_url = \"http://127.0.0.1:9\"\n\
             access_key_id = \"env::KEY_ID\"\nsecret_access_key = \"env::SECRET\"\n",
        )
        .unwrap();
        let resolved =
            resolve_providers(&config, &env(&[("KEY_ID", "AKID"), ("SECRET", "s3cr3t")])).unwrap();
        let aws = resolved[0].aws.as_ref().unwrap();
        assert!(aws.endpoint_overridden);
        let credentials = aws.credentials.as_ref().unwrap();
        assert_eq!(credentials.access_key_id, "AKID");
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&credentials.secret_access_key),
            "s3cr3t"
        );
        let half = Config::from_toml(
            "[providers.bedrock]\nregion = \"us-east-1\"\naccess_key_id = \"AKID\"\n",
        )
        .unwrap();
        assert!(resolve_providers(&half, &env(&[])).is_err());
    }

    #[test]
    fn sagemaker_models_are_its_endpoint_names_keys() {
        let config = Config::from_toml(
            "[providers.sagemaker]\nregion = \"us-east-1\"\n\
             endpoints = { \"llama-3-8b\" = \"my-endpoint\" }\n",
        )
        .unwrap();
        let resolved = resolve_providers(&config, &env(&[])).unwrap();
        assert_eq!(resolved[0].dialect, Dialect::Sagemaker);
        assert_eq!(resolved[0].models, ["llama-3-8b"]);
        assert_eq!(
            resolved[0].aws.as_ref().unwrap().endpoints["llama-3-8b"],
            "my-endpoint"
        );
        let empty = Config::from_toml("[providers.sagemaker]\nregion = \"us-east-1\"\n").unwrap();
        assert!(resolve_providers(&empty, &env(&[])).is_err());
        let second = Config::from_toml(
            "[providers.sm-eu]\nkind = \"sagemaker\"\nregion = \"eu-west-1\"\n\
             endpoints = { \"m\" = \"e\" }\n",
        )
        .unwrap();
        assert_eq!(
            resolve_providers(&second, &env(&[])).unwrap()[0].id,
            "sm-eu"
        );
    }

    #[test]
    fn aws_providers_refuse_an_api_key() {
        let config =
            Config::from_toml("[providers.bedrock]\nregion = \"us-east-1\"\napi_key = \"sk-x\"\n")
                .unwrap();
        let error = resolve_providers(&config, &env(&[])).unwrap_err();
        assert!(error.to_string().contains("api_key"), "{error}");
    }
}
