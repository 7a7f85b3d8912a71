//! The server's log lines never hold up requests: they leave from a thread of their own, so a
//! reader of standard error that falls behind (a full pipe) costs log lines at worst, never
//! answers; and once it reads again, the queued lines arrive.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

mod process;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

const KEY: &str = "llm_gw_dev_0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e";
/// Enough request lines (about 200 bytes each) to fill a pipe's 64 KiB several times over.
const REQUESTS: usize = 1_500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_answered_while_nobody_reads_the_log() {
    let fake = process::fake_provider().await;
    let (dir, config) = process::config_with_provider("log-output", KEY, "local", &fake, "");
    let (_gateway, url, stderr) = process::serve_with_unread_stderr(&config, &dir);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for n in 0..REQUESTS {
        let (status, body) = process::chat(&client, &url, KEY, "local/m", "Hello").await;
        assert_eq!(status, 200, "request {n}: {body}");
    }

    // Reading at last, every request's line arrives.
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut logged = 0;
    while logged < REQUESTS {
        let line = received
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("only {logged} of {REQUESTS} request lines arrived"));
        if line.contains("chat completion") {
            logged += 1;
        }
    }
}
