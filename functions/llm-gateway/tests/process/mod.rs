//! Running the `llm-gateway` binary from tests that need separate processes (several gateways on
//! one DynamoDB table, the CLI bootstrap): `serve --demo` on a free port, and one-shot CLI calls;
//! and the fake provider such a gateway calls.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway_fakes::{Dialect, FakeOptions, FakeServer};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_llm-gateway");

/// A gateway process, killed when dropped.
pub struct Running(Child);

#[allow(
    dead_code,
    reason = "each test crate compiles this module; not every one stops the gateway itself"
)]
impl Running {
    /// Sends the process `signal` (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.0.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Whether the process exits within `limit`.
    pub fn exits_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self
                .0
                .try_wait()
                .expect("the process can be waited for")
                .is_some()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve --demo` on a free port with `config` and `data_dir` (and the demo key fixed to
/// `demo_key` when given); returns the process and the URL it listens on.
#[allow(
    dead_code,
    reason = "each test crate compiles this module; not every one runs the demo"
)]
pub fn serve(config: &Path, data_dir: &Path, demo_key: Option<&str>) -> (Running, String) {
    let mut command = serve_command(config, data_dir);
    command.arg("--demo");
    if let Some(key) = demo_key {
        command.env("LLM_GATEWAY_DEMO_KEY", key);
    }
    start(command)
}

/// Starts `serve` on a free port with the providers and keys `config` declares.
#[allow(
    dead_code,
    reason = "each test crate compiles this module; not every one brings its own providers"
)]
pub fn serve_configured(config: &Path, data_dir: &Path) -> (Running, String) {
    start(serve_command(config, data_dir))
}

/// As [`serve_configured`], with the process's open file limit set to `soft` (and `hard`) by
/// util-linux's `prlimit`.
#[allow(
    dead_code,
    reason = "each test crate compiles this module; not every one limits open files"
)]
pub fn serve_with_open_file_limit(
    config: &Path,
    data_dir: &Path,
    soft: u64,
    hard: u64,
) -> (Running, String) {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={soft}:{hard}"))
        .arg("--")
        .arg(BIN);
    start(serve_args(command, config, data_dir))
}

/// As [`serve_configured`], logging every request (`RUST_LOG=info`) to a standard error that
/// nobody reads until the caller does.
#[allow(
    dead_code,
    reason = "each test crate compiles this module; not every one reads the gateway's log"
)]
pub fn serve_with_unread_stderr(config: &Path, data_dir: &Path) -> (Running, String, ChildStderr) {
    let mut command = serve_command(config, data_dir);
    command.env("RUST_LOG", "info").stderr(Stdio::piped());
    let (mut running, url) = start(command);
    let stderr = running.0.stderr.take().expect("standard error is piped");
    (running, url, stderr)
}

fn serve_command(config: &Path, data_dir: &Path) -> Command {
    serve_args(Command::new(BIN), config, data_dir)
}

fn serve_args(mut command: Command, config: &Path, data_dir: &Path) -> Command {
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("OPENAI_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// Spawns the gateway and waits for the line that says where it listens.
fn start(mut command: Command) -> (Running, String) {
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let url = lines
        .find_map(|l| {
            l.strip_prefix("LLM Gateway listening on ")
                .map(str::to_owned)
        })
        .expect("the gateway started");
    // Keep reading: a closed pipe would end the process at its next line of output.
    std::thread::spawn(move || lines.for_each(drop));
    (running, url)
}

/// Runs one CLI command with `config` and `data_dir`; its standard output, or a failed test.
#[allow(
    dead_code,
    reason = "each test crate compiles this module; not every one calls the CLI"
)]
pub fn cli(config: &Path, data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A fake OpenAI-dialect provider on a free port that serves the chat model `m` and asks for no
/// key.
#[allow(
    dead_code,
    reason = "each test crate compiles this module; not every one calls a provider of its own"
)]
pub async fn fake_provider() -> FakeServer {
    FakeServer::start(
        Dialect::OpenAi,
        FakeOptions {
            api_key: None,
            models: vec!["m".to_owned()],
            embedding_models: Vec::new(),
            ..FakeOptions::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap()
}

/// A fresh directory for a gateway's data, named for `name`, holding a `gateway.toml` that
/// accepts `key` and serves `{provider}/m` from `fake`, then `extra` (more TOML); the directory
/// and the file's path.
#[allow(
    dead_code,
    reason = "each test crate compiles this module; not every one brings its own providers"
)]
pub fn config_with_provider(
    name: &str,
    key: &str,
    provider: &str,
    fake: &FakeServer,
    extra: &str,
) -> (PathBuf, PathBuf) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("llm-gateway-{name}-{nanos}"));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[[auth.keys]]\nname = \"tests\"\nsecret = \"{key}\"\n\n\
             [providers.{provider}]\nkind = \"openai_compatible\"\nbase_url = \"{}\"\n\
             models = [\"m\"]\n\n{extra}",
            fake.base_url()
        ),
    )
    .expect("the configuration is written");
    (dir, config)
}

/// `prompt` sent to `model` through the gateway at `url` with `key`: the status, and the body
/// as JSON (null when it is not).
#[allow(
    dead_code,
    reason = "each test crate compiles this module; not every one sends chat requests"
)]
pub async fn chat(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    model: &str,
    prompt: &str,
) -> (u16, Value) {
    let response = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": prompt}]}))
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
