//! The `llm-gateway` command as a user runs it.

#![expect(clippy::unwrap_used, reason = "a panic in a test is that test failing")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_llm-gateway");
const DEMO_KEY: &str =
    "llm_gw_dev_cafecafecafecafecafecafecafecafecafecafecafecafecafecafecafecafe";

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` and returns it with the lines it printed up to the demo hint.
fn serve(args: &[&str], env: &[(&str, &str)]) -> (Running, Vec<String>) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .env_remove("OPENAI_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let last = line.starts_with("Try:");
        lines.push(line);
        if last {
            break;
        }
    }
    (running, lines)
}

fn address(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("LLM Gateway listening on "))
        .unwrap()
        .to_owned()
}

/// Asserts a command failed and said `expected` on stderr.
fn fails_saying(out: std::process::Output, expected: &str) {
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(expected), "{err}");
}

/// Runs `check-config` on `toml` written to a file of its own.
fn check_config(name: &str, toml: &str, env: &[(&str, &str)]) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("llm-gateway-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gateway.toml");
    std::fs::write(&path, toml).unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config", path.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn help_documents_the_subcommands_and_the_demo_key_variable() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "serve",
        "keygen",
        "check-config",
        "LLM_GATEWAY_DEMO_KEY",
        "OPENAI_API_KEY",
    ] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for word in ["--config", "--bind", "--demo"] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}

#[tokio::test]
async fn serve_demo_prints_the_fixed_key_and_serves_every_simulated_provider() {
    let (_gateway, lines) = serve(
        &["--demo", "--bind", "127.0.0.1:0"],
        &[("LLM_GATEWAY_DEMO_KEY", DEMO_KEY)],
    );
    assert!(
        lines.contains(&format!("Demo key: {DEMO_KEY}")),
        "{lines:?}"
    );
    let url = address(&lines);
    let client = reqwest::Client::new();
    let models: serde_json::Value = client
        .get(format!("{url}/v1/models"))
        .bearer_auth(DEMO_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for provider in [
        "openai/",
        "groq/",
        "together/",
        "mistral/",
        "anthropic/",
        "gemini/",
    ] {
        assert!(
            ids.iter().any(|id| id.starts_with(provider)),
            "{provider} in {ids:?}"
        );
    }
    assert!(ids.contains(&"openai/text-embedding-3-small"), "{ids:?}");
    let answer: serde_json::Value = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(DEMO_KEY)
        .json(&serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": "Hello, world!"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Hello, world!")
    );
    assert_eq!(
        answer["x-llm-gateway"]["routing_decision"],
        "cost_optimized"
    );
    let claude: serde_json::Value = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(DEMO_KEY)
        .json(&serde_json::json!({"model": "anthropic/claude-haiku-4-5", "messages": [{"role": "user", "content": "Hello, Claude!"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        claude["choices"][0]["message"]["content"],
        "This is a simulated reply from claude-haiku-4-5-20251001. You said: Hello, Claude!"
    );
}

#[test]
fn bootstrap_creates_an_organisation_and_a_key_printed_once_then_revokes_it() {
    let dir = std::env::temp_dir().join(format!("llm-gateway-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(&dir)
            .args(args)
            .env_remove("LLM_GATEWAY_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["org", "create", "--name", "acme", "--plan", "starter"]);
    let created = run(&[
        "key", "create", "--org", "acme", "--name", "ci", "--env", "prod",
    ]);
    let secret = created
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .unwrap();
    assert!(secret.starts_with("llm_gw_prod_") && secret.len() == 12 + 64);
    let id = created
        .lines()
        .find_map(|l| l.strip_prefix("key id: "))
        .unwrap();
    let listed = run(&["key", "list", "--org", "acme"]);
    assert!(listed.contains(id) && listed.contains("active"));
    assert!(!listed.contains(secret));
    run(&["key", "revoke", "--org", "acme", "--id", id]);
    assert!(run(&["key", "list", "--org", "acme"]).contains("revoked"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_config_names_the_bad_field() {
    let out = check_config("bad", "[upstream]\nidle_timeout_ms = \"soon\"\n", &[]);
    fails_saying(out, "upstream.idle_timeout_ms");
}

#[test]
fn eval_router_takes_one_to_five_rotations() {
    for rotations in ["0", "6"] {
        let out = Command::new(BIN)
            .args(["eval-router", "--dataset", "d.csv", "--model-dir", "m"])
            .args(["--rotations", rotations])
            .output()
            .unwrap();
        fails_saying(out, &format!("{rotations} is not in 1..=5"));
    }
}

#[test]
fn keygen_prints_a_key_and_its_hash() {
    let out = Command::new(BIN)
        .args(["keygen", "--env", "prod"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("key:    "))
        .unwrap();
    assert!(
        key.starts_with("llm_gw_prod_") && key.len() == "llm_gw_prod_".len() + 64,
        "{key}"
    );
    let hash = text
        .lines()
        .find_map(|l| l.strip_prefix("sha256: "))
        .unwrap();
    assert_eq!(hash, gateway_core::keys::GatewayKeyHash::of(key).to_hex());
}

#[test]
fn an_env_override_reaches_the_configuration() {
    let out = Command::new(BIN)
        .args(["check-config"])
        .env("LLM_GATEWAY__UPSTREAM__IDLE_TIMEOUT_MS", "not-a-number")
        .output()
        .unwrap();
    fails_saying(out, "upstream.idle_timeout_ms");
}

#[test]
fn the_readme_configuration_example_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = &readme[readme.find("## Configuration").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let out = check_config(
        "readme",
        example,
        &[("OPENAI_API_KEY", "sk-test"), ("CI_GATEWAY_KEY", DEMO_KEY)],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 gateway key(s)"), "{stdout}");
    assert!(
        stdout.contains("local/llama3.1:8b") && stdout.contains("openai/gpt-4o-mini"),
        "{stdout}"
    );
}
