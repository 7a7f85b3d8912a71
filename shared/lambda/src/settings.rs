//! The configuration of a function: the TOML file named by `LLM_GATEWAY_CONFIG`, else
//! `gateway.toml` in the working directory when present (Lambda's working directory is the
//! package root, so a file packaged beside `bootstrap` is found), then `LLM_GATEWAY__…`
//! environment overrides, which is how the SAM template passes table names and regions.

use std::path::PathBuf;

use anyhow::Context;
use gateway_core::config::{Config, EnvSource, ProcessEnv};

/// The file looked for when `LLM_GATEWAY_CONFIG` is unset.
pub const PACKAGED_CONFIG: &str = "gateway.toml";

pub fn config_path(env: &dyn EnvSource) -> Option<PathBuf> {
    match env.var("LLM_GATEWAY_CONFIG") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            let packaged = PathBuf::from(PACKAGED_CONFIG);
            packaged.is_file().then_some(packaged)
        }
    }
}

/// Loads and checks the configuration from the process environment.
pub fn load() -> anyhow::Result<Config> {
    let path = config_path(&ProcessEnv);
    Config::load(path.as_deref(), &ProcessEnv).with_context(|| match &path {
        Some(path) => format!("loading the configuration {}", path.display()),
        None => "loading the configuration from the environment".to_owned(),
    })
}
