//! The tracing subscriber: text for people, JSON for log pipelines (and Lambda).
//!
//! A long-running server ([`init_server`]) hands its lines to a thread of its own, which writes
//! them to standard error. Written from the threads that answer requests, a line blocks them
//! whenever the reader of standard error falls behind (a process manager's pipe, a terminal
//! that is scrolled back): the gateway stopped answering after some 300 requests once a pipe
//! nobody read was full. Lines past [`BUFFERED_LINES`] waiting are dropped and counted instead.
//! Short-lived commands and Lambda ([`init`]) write directly, so nothing is lost when they end.

use std::io::IsTerminal;

use gateway_core::config::{LogFormat, TelemetryConfig};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Lines that may wait for the writing thread before further ones are dropped (a few MB).
const BUFFERED_LINES: usize = 32_768;

/// Installs the global subscriber, writing to standard error from the calling thread.
/// `RUST_LOG`, when set, overrides the configured filter.
pub fn init(config: &TelemetryConfig) {
    install(config, std::io::stderr);
}

/// As [`init`], with lines written by a thread of their own. Keep the returned writer until
/// the server ends: dropping it writes what is still queued (waiting at most a second).
pub fn init_server(config: &TelemetryConfig) -> LogWriter {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(BUFFERED_LINES)
        .thread_name("log-writer")
        .finish(std::io::stderr());
    let dropped = writer.error_counter();
    install(config, writer);
    LogWriter {
        dropped,
        _guard: guard,
    }
}

/// The thread that writes a server's log lines; see [`init_server`].
pub struct LogWriter {
    dropped: ErrorCounter,
    _guard: WorkerGuard,
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let dropped = self.dropped.dropped_lines();
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "log lines were dropped: standard error was not read as fast as they came"
            );
        }
    }
}

fn install<W>(config: &TelemetryConfig, writer: W)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // Colours for a person at a terminal; none in a file or a pipe.
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
