//! One function under test: its binary, a Runtime API stand-in, the event fixtures.

use std::path::PathBuf;
use std::time::Duration;

use gateway_tests::lambda_process::{LambdaProcess, binary_dir};
use gateway_tests::runtime_api::{FakeRuntimeApi, Outcome};
use serde_json::Value;

pub const KEY: &str = "llm_gw_dev_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Generous for a debug build on a busy machine; the benchmark measures the real figure.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

pub fn event(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

pub fn moto_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: the Lambda tests need a moto server; run them through \
             ./tests/run.sh, which starts one"
        )
    })
}

/// A fresh name for a table, bucket or folder.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

pub struct RunningFunction {
    pub api: FakeRuntimeApi,
    pub process: LambdaProcess,
}

/// Starts the workspace binary `name` with `env` and waits until it asks for an event.
pub async fn start(name: &str, env: &[(&str, String)]) -> RunningFunction {
    let binary = binary_dir().unwrap().join(name);
    assert!(
        binary.is_file(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        binary.display()
    );
    let api = FakeRuntimeApi::start().await.unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let mut process = LambdaProcess::spawn(&binary, &api.authority(), 512, &env).unwrap();
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    while api.first_next().is_none() {
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!(
                "{name} exited during init ({status}); init errors {:?}; output:\n{}",
                api.init_errors(),
                process.output()
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never asked for an event; output:\n{}",
            process.output()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    RunningFunction { api, process }
}

impl RunningFunction {
    /// Hands `event` to the function and waits for its complete answer.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let id = self.api.enqueue(event);
        match self.api.outcome(&id, ANSWER_TIMEOUT).await {
            Some(outcome) => {
                assert_eq!(self.api.violations(), Vec::<String>::new());
                outcome
            }
            None => panic!(
                "no answer to {id}; violations {:?}; output:\n{}",
                self.api.violations(),
                self.process.output()
            ),
        }
    }
}

/// A file or folder removed when dropped.
pub struct TempPath(pub PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
