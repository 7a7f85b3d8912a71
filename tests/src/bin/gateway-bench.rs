//! `gateway-bench`: what the gateway adds on top of a provider, measured.
//!
//! Starts a fake provider and the release `llm-gateway` binary as separate processes, then sends
//! the same requests straight to the fake ("direct") and through the gateway, in the same run:
//!
//! 1. concurrency 1: latency percentiles of both, and their difference (the added latency),
//!    with a bare reverse proxy (`bare-proxy`) measured alongside: the cost of the extra network
//!    hop itself on this machine, which no proxy can avoid; then the same with a key kept in the
//!    store, whose organisation has rate limits and spend limits, so every request also looks
//!    its key up (cached), asks its rate-limit counters and reserves and settles its spend;
//! 2. a fixed arrival rate, to the fake and to the gateway in turns a second at a time (open
//!    loop, latency measured from each request's scheduled time);
//! 3. a sustained rate (default 5,000 requests/s): achieved rate and errors;
//! 4. saturation: closed-loop throughput with many connections, with the configured key and
//!    with the store key;
//! 5. streams: time to first chunk (streams back to back), then the gaps between content chunks
//!    of a provider pacing them 2 ms apart, and how long the closing chunk follows the last one;
//! 6. the gateway's peak resident memory (VmHWM), and the most files it had open.
//!
//! Run it with `tests/bench.sh`, which builds both binaries in release mode first.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const GATEWAY_KEY: &str =
    "llm_gw_dev_benchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbench0000";
const PROVIDER_KEY: &str = "bench-provider-key";

#[derive(Parser)]
#[command(about = "Measures the latency, throughput and memory the gateway adds over a provider.")]
struct Args {
    /// The `llm-gateway` binary (default: next to this one).
    #[arg(long)]
    gateway_bin: Option<PathBuf>,
    /// The `bare-proxy` binary (default: next to this one).
    #[arg(long)]
    bare_proxy_bin: Option<PathBuf>,
    /// Requests per side at concurrency 1.
    #[arg(long, default_value_t = 3000)]
    serial_requests: usize,
    /// Arrival rate of the fixed-rate phase, requests per second to each of the provider and
    /// the gateway.
    #[arg(long, default_value_t = 1000)]
    fixed_rate: u64,
    /// Arrival rate of the sustained phase, requests per second.
    #[arg(long, default_value_t = 5000)]
    sustained_rate: u64,
    /// Length of each rate phase, seconds (in the fixed-rate phase, for each of its two targets).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Connections of the saturation phase.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Streams per side in the streaming phase.
    #[arg(long, default_value_t = 300)]
    streams: usize,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

#[derive(Clone)]
struct Target {
    url: String,
    key: String,
    body: Bytes,
    /// A short stream with no pacing: time to first chunk.
    quick_stream: Bytes,
    /// A stream paced 2 ms per chunk: chunk gaps.
    paced_stream: Bytes,
}

// One thread sends every request, so the load generator's own wake-ups stay out of what it
// measures: on a work-stealing runtime the direct calls' p99 at concurrency 1 read 323 µs,
// against 191 to 255 µs on one thread in the same hour.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin = beside_this(&args.gateway_bin, "llm-gateway")?;
    let bare_bin = beside_this(&args.bare_proxy_bin, "bare-proxy")?;

    let (mut fake, fake_url) = start(
        &bin,
        &[
            "fake",
            "--bind",
            "127.0.0.1:0",
            "--api-key",
            PROVIDER_KEY,
            "--models",
            "gpt-4o-mini",
            // Nothing reads its call log; a provider keeps none.
            "--keep-calls",
            "0",
        ],
        "fake provider listening on ",
    )
    .await?;
    let config_dir = std::env::temp_dir().join(format!("gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&config_dir)?;
    let config = config_dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[[auth.keys]]\nname = \"bench\"\nsecret = \"{GATEWAY_KEY}\"\n\n[providers.openai]\nbase_url = \"{fake_url}\"\napi_key = \"{PROVIDER_KEY}\"\n"
        ),
    )?;
    let config_arg = config.display().to_string();
    let store_key = create_limited_key(&bin, &config_arg).await?;
    let (mut gateway, gateway_url) = start(
        &bin,
        &["serve", "--config", &config_arg, "--bind", "127.0.0.1:0"],
        "LLM Gateway listening on ",
    )
    .await?;
    let (mut bare_process, bare_url) = start(
        &bare_bin,
        &["--upstream", &fake_url, "--bind", "127.0.0.1:0"],
        "bare proxy listening on ",
    )
    .await?;
    let gateway_pid = gateway.id().context("gateway pid")?;
    let most_open_files = watch_open_files(gateway_pid);

    let prompt = r#"[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France? Answer in one short sentence."}]"#;
    let direct = Arc::new(Target {
        url: format!("{fake_url}/chat/completions"),
        key: PROVIDER_KEY.to_owned(),
        body: Bytes::from(format!(
            r#"{{"model":"gpt-4o-mini","messages":{prompt},"max_tokens":64}}"#
        )),
        quick_stream: Bytes::from(stream_request("gpt-4o-mini", QUICK)),
        paced_stream: Bytes::from(stream_request("gpt-4o-mini", PACED)),
    });
    let bare = Arc::new(Target {
        url: format!("{bare_url}/v1/chat/completions"),
        ..Target::clone(&direct)
    });
    let through = Arc::new(Target {
        url: format!("{gateway_url}/v1/chat/completions"),
        key: GATEWAY_KEY.to_owned(),
        body: Bytes::from(format!(
            r#"{{"model":"openai/gpt-4o-mini","messages":{prompt},"max_tokens":64}}"#
        )),
        quick_stream: Bytes::from(stream_request("openai/gpt-4o-mini", QUICK)),
        paced_stream: Bytes::from(stream_request("openai/gpt-4o-mini", PACED)),
    });
    let limited = Arc::new(Target {
        key: store_key,
        ..Target::clone(&through)
    });

    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(4096)
        .build(connector);

    println!(
        "gateway-bench: {} (pid {gateway_pid}) over a fake provider; all on this machine\n",
        bin.display()
    );

    // 1. Concurrency 1, the three interleaved so all see the same machine state.
    for _ in 0..300 {
        for target in [&direct, &bare, &through] {
            call(&client, target).await?;
        }
    }
    let mut d = Vec::with_capacity(args.serial_requests);
    let mut b = Vec::with_capacity(args.serial_requests);
    let mut g = Vec::with_capacity(args.serial_requests);
    for _ in 0..args.serial_requests {
        d.push(call(&client, &direct).await?);
        b.push(call(&client, &bare).await?);
        g.push(call(&client, &through).await?);
    }
    report_pair(
        "concurrency 1: a bare proxy (the network hop alone)",
        ("direct", &mut d),
        ("bare", &mut b),
    );
    report_pair(
        "concurrency 1: the gateway",
        ("direct", &mut d),
        ("gateway", &mut g),
    );
    report_pair(
        "concurrency 1: the gateway's own work",
        ("bare", &mut b),
        ("gateway", &mut g),
    );
    let mut d = Vec::with_capacity(args.serial_requests);
    let mut k = Vec::with_capacity(args.serial_requests);
    for _ in 0..args.serial_requests {
        d.push(call(&client, &direct).await?);
        k.push(call(&client, &limited).await?);
    }
    report_pair(
        "concurrency 1: the gateway with a store key (rate limits and spend limits)",
        ("direct", &mut d),
        ("gateway", &mut k),
    );

    // 2. A fixed arrival rate, direct and through the gateway taking turns.
    let mut fixed = open_loop(&client, &[&direct, &through], args.fixed_rate, args.seconds).await;
    let (mut g, ge) = fixed.pop().unwrap_or_default();
    let (mut d, de) = fixed.pop().unwrap_or_default();
    report_pair(
        &format!("fixed rate {} req/s", args.fixed_rate),
        ("direct", &mut d),
        ("gateway", &mut g),
    );
    println!("  errors: direct {de}, gateway {ge}\n");

    // 3. A sustained rate through the gateway.
    let started = Instant::now();
    let (mut s, se) = open_loop(&client, &[&through], args.sustained_rate, args.seconds)
        .await
        .pop()
        .unwrap_or_default();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "sustained {} req/s through the gateway for {} s",
        args.sustained_rate, args.seconds
    );
    println!(
        "  completed {} in {:.2} s = {:.0} req/s, errors {se}; latency {}\n",
        s.len(),
        elapsed,
        s.len() as f64 / elapsed,
        summary(&mut s)
    );

    // 4. Saturation.
    for (label, target) in [("configured key", &through), ("store key", &limited)] {
        let (count, errors) = saturate(&client, target, args.connections, args.seconds).await;
        println!(
            "saturation ({} connections, closed loop, {} s, {label}): {:.0} req/s through the gateway, errors {errors}\n",
            args.connections,
            args.seconds,
            count as f64 / args.seconds as f64
        );
    }

    // 5. Streams.
    let mut ttft_d = Vec::new();
    let mut ttft_g = Vec::new();
    for _ in 0..args.streams {
        ttft_d.push(stream(&client, &direct, &direct.quick_stream).await?.first);
        ttft_g.push(
            stream(&client, &through, &through.quick_stream)
                .await?
                .first,
        );
    }
    report_pair(
        "streams: time to first chunk",
        ("direct", &mut ttft_d),
        ("gateway", &mut ttft_g),
    );
    let (mut gaps_d, mut gaps_g, mut close_d, mut close_g) = (vec![], vec![], vec![], vec![]);
    for _ in 0..args.streams / 4 {
        let d = stream(&client, &direct, &direct.paced_stream).await?;
        gaps_d.extend(d.content_gaps);
        close_d.push(d.closing_gap);
        let g = stream(&client, &through, &through.paced_stream).await?;
        gaps_g.extend(g.content_gaps);
        close_g.push(g.closing_gap);
    }
    report_pair(
        "streams: gap between content chunks (provider paces 2 ms)",
        ("direct", &mut gaps_d),
        ("gateway", &mut gaps_g),
    );
    report_pair(
        "streams: last content chunk to closing chunk",
        ("direct", &mut close_d),
        ("gateway", &mut close_g),
    );

    // 6. Memory.
    let status = std::fs::read_to_string(format!("/proc/{gateway_pid}/status")).unwrap_or_default();
    for line in status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
    {
        println!(
            "gateway memory: {}",
            line.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    println!(
        "gateway open files: at most {} (client and provider connections hold memory each)",
        most_open_files.load(Ordering::Relaxed)
    );

    let _ = gateway.kill().await;
    let _ = bare_process.kill().await;
    let _ = fake.kill().await;
    let _ = std::fs::remove_dir_all(&config_dir);
    Ok(())
}

/// The most files `pid` had open at once, sampled every 100 ms on a thread of its own (the load
/// generator's thread only sends requests): the peak memory follows how many connections the
/// rate phases' pauses made the load generator open.
fn watch_open_files(pid: u32) -> Arc<AtomicU64> {
    let most = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&most);
    std::thread::spawn(move || {
        while let Ok(open) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            seen.fetch_max(open.count() as u64, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    most
}

/// A binary given on the command line, or the one of that name beside this benchmark.
fn beside_this(given: &Option<PathBuf>, name: &str) -> anyhow::Result<PathBuf> {
    let bin = match given {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no parent folder")?
            .join(name),
    };
    if !bin.exists() {
        bail!("{} not found: build it with tests/bench.sh", bin.display());
    }
    Ok(bin)
}

const QUICK: &str = "[[fake words=3]]";
const PACED: &str = "[[fake words=40 chunk_delay_ms=2]]";

fn stream_request(model: &str, directive: &str) -> String {
    format!(
        r#"{{"model":"{model}","stream":true,"messages":[{{"role":"user","content":"{directive} Tell me a story."}}]}}"#
    )
}

/// Creates, with the gateway's own command line, an organisation with rate limits far above
/// what the benchmark sends, spend limits, and a key of its own; returns the key's secret.
async fn create_limited_key(bin: &PathBuf, config: &str) -> anyhow::Result<String> {
    let huge = "1000000000000";
    run_cli(
        bin,
        &[
            "org",
            "create",
            "--name",
            "bench",
            "--plan",
            "enterprise",
            "--rpm",
            huge,
            "--tpm",
            huge,
            "--daily",
            huge,
        ],
        config,
    )
    .await?;
    run_cli(
        bin,
        &[
            "spend",
            "set-limits",
            "--org",
            "bench",
            "--daily-usd",
            "1000000",
            "--monthly-usd",
            "1000000",
            "--per-request-usd",
            "100",
        ],
        config,
    )
    .await?;
    let out = run_cli(
        bin,
        &[
            "key", "create", "--org", "bench", "--name", "bench", "--rpm", huge, "--tpm", huge,
        ],
        config,
    )
    .await?;
    out.lines()
        .find_map(|line| line.strip_prefix("secret: "))
        .map(|secret| secret.trim().to_owned())
        .context("`key create` printed no secret")
}

async fn run_cli(bin: &PathBuf, args: &[&str], config: &str) -> anyhow::Result<String> {
    let output = Command::new(bin)
        .args(args)
        .args(["--config", config])
        .env("LLM_GATEWAY_DATA_DIR", data_dir())
        .output()
        .await
        .with_context(|| format!("running {} {args:?}", bin.display()))?;
    if !output.status.success() {
        bail!(
            "{} {args:?} failed: {}",
            bin.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A store of this run's own, removed with the run's folder: receipts piled up by earlier runs
/// in the user's data directory would be measured too.
fn data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("gateway-bench-{}/data", std::process::id()))
}

/// Starts a child and waits for its "listening on URL" line.
async fn start(bin: &PathBuf, args: &[&str], marker: &str) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "warn")
        .env("LLM_GATEWAY_DATA_DIR", data_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(line) = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await??
        else {
            break;
        };
        if let Some(url) = line.strip_prefix(marker) {
            let url = url.trim().to_owned();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((child, url));
        }
    }
    bail!("{} {:?} did not report its address", bin.display(), args)
}

fn request(target: &Target, body: Bytes) -> Request<Full<Bytes>> {
    Request::post(&target.url)
        .header("authorization", format!("Bearer {}", target.key))
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap_or_default()
}

async fn call(client: &HttpClient, target: &Target) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = client.request(request(target, target.body.clone())).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!(
            "{} answered {status}: {}",
            target.url,
            String::from_utf8_lossy(&body)
        );
    }
    Ok(started.elapsed())
}

struct StreamTiming {
    first: Duration,
    /// Between consecutive events that carry content.
    content_gaps: Vec<Duration>,
    /// From the last content event to the event that closes the stream (finish reason, receipt).
    closing_gap: Duration,
}

async fn stream(
    client: &HttpClient,
    target: &Target,
    body: &Bytes,
) -> anyhow::Result<StreamTiming> {
    let started = Instant::now();
    let response = client.request(request(target, body.clone())).await?;
    if !response.status().is_success() {
        bail!("{} answered {}", target.url, response.status());
    }
    let mut body = response.into_body();
    let mut first = None;
    let mut last_content = None;
    let mut content_gaps = Vec::new();
    let mut closing_gap = Duration::ZERO;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        let now = Instant::now();
        for event in data
            .split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"data: {"))
        {
            first.get_or_insert(now - started);
            let has_content = event
                .windows(12)
                .any(|w| w.starts_with(br#""content":""#) && w[11] != b'"');
            match (has_content, last_content) {
                (true, Some(previous)) => content_gaps.push(now - previous),
                (false, Some(previous)) if closing_gap.is_zero() => closing_gap = now - previous,
                _ => {}
            }
            if has_content {
                last_content = Some(now);
            }
        }
    }
    Ok(StreamTiming {
        first: first.context("no chunk")?,
        content_gaps,
        closing_gap,
    })
}

/// Sends `rate` requests a second to each of `targets` for `seconds`, without waiting for
/// answers (open loop); latency runs from each request's scheduled time. The targets take turns
/// a second at a time, so each meets the machine's moments through the whole phase but never
/// competes with another's requests. Per target: the latencies and the number of errors.
async fn open_loop(
    client: &HttpClient,
    targets: &[&Arc<Target>],
    rate: u64,
    seconds: u64,
) -> Vec<(Vec<Duration>, u64)> {
    let turns = targets.len() as u64;
    let total = rate * seconds * turns;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        // The i-th arrival is the (i % rate)-th of second i / rate, whose target is its turn's.
        let due = started + Duration::from_nanos(i * 1_000_000_000 / rate);
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        let client = client.clone();
        let target = Arc::clone(targets[(i / rate % turns) as usize]);
        tasks.push(tokio::spawn(async move {
            call(&client, &target).await.ok().map(|_| due.elapsed())
        }));
    }
    let mut results = vec![(Vec::new(), 0); targets.len()];
    for (i, task) in (0..total).zip(tasks) {
        let (latencies, errors) = &mut results[(i / rate % turns) as usize];
        match task.await {
            Ok(Some(latency)) => latencies.push(latency),
            _ => *errors += 1,
        }
    }
    results
}

async fn saturate(
    client: &HttpClient,
    target: &Arc<Target>,
    connections: usize,
    seconds: u64,
) -> (u64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, target, done, errors) =
                (client.clone(), target.clone(), done.clone(), errors.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    match call(&client, &target).await {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    (done.load(Ordering::Relaxed), errors.load(Ordering::Relaxed))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn summary(values: &mut [Duration]) -> String {
    values.sort_unstable();
    format!(
        "p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs (n={})",
        micros(percentile(values, 50.0)),
        micros(percentile(values, 90.0)),
        micros(percentile(values, 99.0)),
        micros(values.last().copied().unwrap_or_default()),
        values.len()
    )
}

/// Two latency distributions and the difference of their percentiles (`second` minus `first`).
fn report_pair(
    title: &str,
    (first_label, direct): (&str, &mut [Duration]),
    (second_label, gateway): (&str, &mut [Duration]),
) {
    println!("{title}");
    println!("  {first_label:<8} {}", summary(direct));
    println!("  {second_label:<8} {}", summary(gateway));
    let added = |p: f64| micros(percentile(gateway, p)) - micros(percentile(direct, p));
    println!(
        "  added:   p50 {:+.0} µs, p90 {:+.0} µs, p99 {:+.0} µs\n",
        added(50.0),
        added(90.0),
        added(99.0)
    );
}
