//! `llm-gateway`: the all-in-one local server and command-line tool.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use gateway_core::config::{Config, ProcessEnv, StoreBackend};
use gateway_core::keys::{self, GatewayKeyHash, KeyEnvironment};
use gateway_fakes::{Behaviour, FakeOptions, FakeServer};
use gateway_server::{AppState, demo, retention, serve, store_setup, telemetry};

mod admin;
mod members;
mod open_files;
mod spend;

mod eval_router;

/// More throughput at saturation than the system allocator (README, Benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "llm-gateway",
    version,
    about = "An OpenAI-compatible gateway in front of many LLM providers.",
    long_about = "An OpenAI-compatible gateway in front of many LLM providers.\n\n\
        Point any OpenAI client at http://HOST:PORT/v1 with a gateway key, and name models as \
        `provider/model` (see GET /v1/models) or `auto`.",
    after_help = "Environment:\n  \
        LLM_GATEWAY__SECTION__KEY   overrides `[section] key` of the configuration file\n                              \
        (e.g. LLM_GATEWAY__SERVER__MAX_BODY_BYTES=1048576)\n  \
        OPENAI_API_KEY, GROQ_API_KEY, TOGETHER_API_KEY, MISTRAL_API_KEY\n                              \
        enable those providers; *_BASE_URL variables override their URLs\n  \
        LLM_GATEWAY_DEMO_KEY        the gateway key --demo accepts (default: a new one each start)\n  \
        RUST_LOG                    log filter (overrides [telemetry] filter)"
)]
struct Cli {
    /// Where the SQLite store lives (default: LLM_GATEWAY_DATA_DIR, else
    /// $XDG_DATA_HOME/llm-gateway, else ~/.local/share/llm-gateway).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Configuration file (TOML), for the commands that use the store.
    #[arg(long, global = true, env = "LLM_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    ///
    /// Ctrl-C or SIGTERM stops it: requests in flight get `[server] shutdown_grace_ms` (8 s by
    /// default) to finish, then end with `gateway_shutting_down`; a second signal ends them at
    /// once.
    Serve(ServeArgs),
    /// Create a gateway API key and print it with the SHA-256 to put in a configuration file.
    Keygen {
        /// Production keys start with `llm_gw_prod_`, development keys with `llm_gw_dev_`.
        #[arg(long, value_enum, default_value_t = KeyEnv::Dev)]
        env: KeyEnv,
    },
    /// Check a configuration file and list the models it makes routable.
    CheckConfig,
    /// Organisations in the store (headless bootstrap).
    #[command(subcommand)]
    Org(admin::OrgCommand),
    /// API keys in the store: create (printed once), list, revoke, rotate.
    #[command(subcommand)]
    Key(admin::KeyCommand),
    /// Members of an organisation: create (admin token printed once), list, set-role, remove.
    #[command(subcommand)]
    Member(members::MemberCommand),
    /// Spend limits, the spend alert, and spend and savings by day, model and key.
    #[command(subcommand)]
    Spend(spend::SpendCommand),
    /// Run a simulated provider (the one tests and --demo use) on its own, speaking the
    /// OpenAI, Groq, Together AI or Mistral variant of the OpenAI protocol, or Gemini's API.
    Fake(FakeArgs),
    /// Train the quality predictor on labelled prompts and report how well it routes
    /// between a strong and a weak model (APGR, CPT) on a held-out split.
    EvalRouter(eval_router::EvalRouterArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:8080 (default: [server] bind).
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Start simulated providers (OpenAI, Groq, Together, Mistral, Anthropic, Cohere, Gemini,
    /// Bedrock) and serve them with a printed development key; no provider account needed.
    /// Replaces configured providers. Set LLM_GATEWAY_DEMO_KEY to fix the key.
    #[arg(long)]
    demo: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyEnv {
    Prod,
    Dev,
}

#[derive(Clone, Copy, ValueEnum)]
enum FakeDialect {
    Openai,
    Groq,
    Together,
    Mistral,
    Cohere,
    Gemini,
    Bedrock,
    Sagemaker,
    Anthropic,
}

#[derive(clap::Args)]
struct FakeArgs {
    #[arg(long, value_enum, default_value_t = FakeDialect::Openai)]
    dialect: FakeDialect,
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Require this key (as a bearer token; in `x-api-key` for Anthropic; for bedrock and
    /// sagemaker, the SigV4 access key id).
    #[arg(long)]
    api_key: Option<String>,
    /// Chat models to serve (comma-separated; default: any).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Embedding models to serve (comma-separated; default: any).
    #[arg(long, value_delimiter = ',')]
    embedding_models: Vec<String>,
    /// Delay before a non-streamed reply.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Delay before a stream's first chunk.
    #[arg(long, default_value_t = 0)]
    ttft_ms: u64,
    /// Delay between stream chunks.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
    /// The latest requests kept for `GET /__fake/calls`; older ones are only counted there
    /// (`dropped`). 0 keeps none.
    #[arg(long, default_value_t = gateway_fakes::DEFAULT_KEEP_CALLS)]
    keep_calls: usize,
}

/// Threads for blocking work on the main runtime, at most: two per core and four more (8 on
/// two cores). That work is SQLite, whose one connection serves one call at a time, and exact
/// token counts, which are CPU-bound: more threads only wait for the connection or a core, so
/// further calls queue for one of these instead.
fn blocking_threads(cores: NonZeroUsize) -> usize {
    cores.get() * 2 + 4
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // CPU-bound and synchronous: no async runtime needed.
    if let Command::EvalRouter(args) = cli.command {
        return eval_router::run(args);
    }
    let servers = matches!(cli.command, Command::Serve(_) | Command::Fake(_));
    // Before the runtime starts its threads.
    let open_files = servers.then(open_files::prepare);
    let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // `serve`: requests are answered on threads of their own (`[server] workers`); this
    // runtime keeps the background work: start-up, the simulated providers of --demo,
    // retention, alerts. `fake`: a simulated provider stands in for one on another machine, so
    // it takes as little of this one as it can; with the default two workers, both were woken
    // for every request (a context switch each per request, `gateway-bench` at concurrency 1).
    if servers {
        runtime.worker_threads(1);
    }
    let runtime = runtime
        .enable_all()
        .max_blocking_threads(blocking_threads(cores))
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(cli, open_files))
}

async fn run(cli: Cli, open_files: Option<open_files::Prepared>) -> anyhow::Result<()> {
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(|| store_setup::default_data_dir(&ProcessEnv));
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(cli.config.as_deref(), &ProcessEnv)?;
            serve_command(args, config, &data_dir, open_files).await
        }
        Command::Org(command) => {
            let config = Config::load(cli.config.as_deref(), &ProcessEnv)?;
            let store = store_setup::open(&config.store, &data_dir, &ProcessEnv).await?;
            admin::org(store, command).await
        }
        Command::Key(command) => {
            let config = Config::load(cli.config.as_deref(), &ProcessEnv)?;
            let store = store_setup::open(&config.store, &data_dir, &ProcessEnv).await?;
            admin::key(store, command).await
        }
        Command::Spend(command) => {
            let config = Config::load(cli.config.as_deref(), &ProcessEnv)?;
            let store = store_setup::open(&config.store, &data_dir, &ProcessEnv).await?;
            spend::spend(store, command).await
        }
        Command::Member(command) => {
            let config = Config::load(cli.config.as_deref(), &ProcessEnv)?;
            let store = store_setup::open(&config.store, &data_dir, &ProcessEnv).await?;
            members::member(store, command).await
        }
        Command::Keygen { env } => {
            let env = match env {
                KeyEnv::Prod => KeyEnvironment::Production,
                KeyEnv::Dev => KeyEnvironment::Development,
            };
            let key = keys::generate(env);
            println!("key:    {key}");
            println!("sha256: {}", GatewayKeyHash::of(&key).to_hex());
            println!(
                "\nThe key is shown once. In a configuration file:\n\n[[auth.keys]]\nname = \"my-app\"\nsha256 = \"{}\"",
                GatewayKeyHash::of(&key).to_hex()
            );
            Ok(())
        }
        Command::CheckConfig => {
            let config = Config::load(cli.config.as_deref(), &ProcessEnv)?;
            let state = AppState::from_config(&config, &ProcessEnv)?;
            println!(
                "configuration is valid; {} gateway key(s); routable models:",
                state.keys.len()
            );
            for model in state.router.models() {
                println!("  {}", model.id);
            }
            Ok(())
        }
        Command::Fake(args) => fake_command(args, open_files).await,
        Command::EvalRouter(args) => eval_router::run(args),
    }
}

async fn serve_command(
    args: ServeArgs,
    mut config: Config,
    data_dir: &std::path::Path,
    open_files: Option<open_files::Prepared>,
) -> anyhow::Result<()> {
    let _log_writer = telemetry::init_server(&config.telemetry);
    if let Some(open_files) = &open_files {
        open_files.log();
    }
    if let Some(bind) = args.bind {
        config.server.bind = bind;
    }
    let demo = if args.demo {
        Some(demo::start(&mut config, &ProcessEnv).await?)
    } else {
        None
    };
    let store = store_setup::open(&config.store, data_dir, &ProcessEnv).await?;
    if config.store.backend == StoreBackend::Sqlite {
        // DynamoDB deletes expired items itself.
        retention::spawn(store.clone());
    }
    let alerts = gateway_server::spend::alerts::AlertContext::new(store.clone(), &config)?;
    gateway_server::spend::alerts::spawn(alerts);
    let state = AppState::with_store(&config, &ProcessEnv, store).await?;
    if state.providers.is_empty() {
        tracing::warn!(
            "no provider is configured: set OPENAI_API_KEY (or another provider's key), \
             declare [providers.*] in the configuration, or run with --demo"
        );
    }
    let running = serve::start(Arc::new(state), config.server.bind, config.server.workers)
        .await
        .with_context(|| format!("listening on {}", config.server.bind))?;
    let url = format!("http://{}", running.addr());
    println!("LLM Gateway listening on {url}");
    if let Some(demo) = &demo {
        println!(
            "Demo mode: simulated providers {}",
            demo::SIMULATED_PROVIDERS
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("Demo key: {}", demo.key);
        println!(
            "Try: curl {url}/v1/chat/completions -H \"Authorization: Bearer {}\" \
             -H \"Content-Type: application/json\" \
             -d '{{\"model\":\"auto\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello!\"}}]}}'",
            demo.key
        );
    }
    shutdown_signal().await;
    tracing::info!(
        "shutting down: finishing in-flight requests (a second Ctrl-C or SIGTERM ends them now)"
    );
    let end_now = running.grace_over();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::warn!("shutting down now: ending in-flight requests");
        end_now.cancel();
    });
    running.shutdown().await?;
    if let Some(demo) = demo {
        demo.shutdown().await;
    }
    Ok(())
}

async fn fake_command(
    args: FakeArgs,
    open_files: Option<open_files::Prepared>,
) -> anyhow::Result<()> {
    let _log_writer = telemetry::init_server(&Default::default());
    if let Some(open_files) = &open_files {
        open_files.log();
    }
    let dialect = match args.dialect {
        FakeDialect::Openai => gateway_fakes::Dialect::OpenAi,
        FakeDialect::Groq => gateway_fakes::Dialect::Groq,
        FakeDialect::Together => gateway_fakes::Dialect::Together,
        FakeDialect::Mistral => gateway_fakes::Dialect::Mistral,
        FakeDialect::Cohere => gateway_fakes::Dialect::Cohere,
        FakeDialect::Gemini => gateway_fakes::Dialect::Gemini,
        FakeDialect::Bedrock => gateway_fakes::Dialect::Bedrock,
        FakeDialect::Sagemaker => gateway_fakes::Dialect::Sagemaker,
        FakeDialect::Anthropic => gateway_fakes::Dialect::Anthropic,
    };
    let options = FakeOptions {
        api_key: args.api_key,
        models: args.models,
        embedding_models: args.embedding_models,
        behaviour: Behaviour {
            latency: Duration::from_millis(args.latency_ms),
            ttft: Duration::from_millis(args.ttft_ms),
            chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        },
        keep_calls: args.keep_calls,
    };
    let fake = FakeServer::start(dialect, options, args.bind)
        .await
        .with_context(|| format!("listening on {}", args.bind))?;
    println!("fake provider listening on {}", fake.base_url());
    shutdown_signal().await;
    fake.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM from a process manager.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
