//! Where log lines go: a bounded queue drained by one thread that writes to
//! stderr (tracing-appender's lossy non-blocking writer). Logging never
//! blocks nor fails the code that logs: when stderr is slow the queue fills
//! and lines are dropped (and counted); when stderr cannot be written (a
//! full disk, a closed pipe, `/dev/full`) the line is lost and nothing else
//! happens. A failure the ledger writer logs must never take the ledger
//! down with it.

use std::io::{IsTerminal as _, Write};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, for a person at a terminal.
    #[default]
    Human,
    /// One JSON object per line (time, level, message, fields, and the
    /// spans it happened in: `request_id`, `sid`, `pid`, `cid`), for a log
    /// collector.
    Json,
}

/// Lines queued towards stderr before new ones are dropped.
pub const QUEUE_LINES: usize = 4096;

/// What the log thread gathers before writing to stderr.
const STDERR_BUFFER: usize = 16 * 1024;

/// A lossy writer to `sink` holding at most `lines` queued lines; the guard
/// flushes what is queued when dropped (keep it until the process ends).
pub fn lossy(sink: impl Write + Send + 'static, lines: usize) -> (NonBlocking, WorkerGuard) {
    NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(lines.max(1))
        .thread_name("cadre-log")
        .finish(sink)
}

/// Sends `tracing` events to stderr through [`lossy`], filtered by
/// `RUST_LOG` (default `info`, without the DTLS library's warnings about
/// each extension of a browser's hello it does not know: some twenty
/// lines per connection, two connections per person in a forwarded
/// session, and nothing anyone can act on). The fmt layer's own report of a
/// failed write is off too: it would print to the stderr that just failed.
///
/// What is logged names sessions, people and connections by their ids,
/// never by a name, an e-mail address or a token (a join link, the
/// organiser's token): the logs go to places (journald, a collector) that
/// the people in a session never agreed to.
pub fn init(format: LogFormat) -> WorkerGuard {
    // Buffered: the worker writes every line it finds queued, then
    // flushes, so a burst of lines (a wave of joins) costs one system call,
    // not one per line; and a line never waits longer than the queue's
    // next empty moment.
    let stderr = std::io::BufWriter::with_capacity(STDERR_BUFFER, std::io::stderr());
    let (writer, guard) = lossy(stderr, QUEUE_LINES);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn,rtc_dtls::handshake=error".into()),
        )
        .with_writer(writer)
        // Colours for a person at a terminal only: journald, a file or a
        // collector would keep the escape sequences as text. Said
        // explicitly, `true` would override `NO_COLOR`: it is read here.
        .with_ansi(
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .log_internal_errors(false);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
    guard
}

/// Prints a line on stdout if it can: a start-up message (the address, the
/// organiser token, the demo's links) is not worth the process. The token
/// is also in the data directory's `organiser-token` file.
pub fn print_out(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// [`print_out`] for stderr.
pub fn print_err(line: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(line);
    let _ = err.write_all(b"\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Fails every write, like stderr on a full disk.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(28))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::from_raw_os_error(28))
        }
    }

    /// Blocks every write until released, like a stalled pipe.
    struct Stalled(Arc<Mutex<()>>);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _hold = self.0.lock().unwrap_or_else(|p| p.into_inner());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs `work` on a thread and says whether it returned: a logging
    /// call that waited on its sink would never return here.
    fn returns(work: impl FnOnce() + Send + 'static) -> bool {
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            work();
            let _ = done.send(());
        });
        finished.recv_timeout(Duration::from_secs(60)).is_ok()
    }

    #[test]
    fn a_sink_that_fails_costs_nothing_to_whoever_logs() {
        let (writer, guard) = lossy(Full, 16);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .log_internal_errors(false)
            .finish();
        let logged = returns(move || {
            tracing::subscriber::with_default(subscriber, || {
                for i in 0..100 {
                    tracing::error!(i, "the ledger cannot commit");
                }
            });
        });
        assert!(logged, "logging to a failing sink did not return");
        drop(guard);
    }

    #[test]
    fn a_stalled_sink_drops_lines_instead_of_blocking() {
        let gate = Arc::new(Mutex::new(()));
        let hold = gate.lock().unwrap();
        let (writer, guard) = lossy(Stalled(Arc::clone(&gate)), 4);
        let counter = writer.error_counter();
        let logged = returns(move || {
            let mut writer = writer;
            for i in 0..50 {
                let _ = writer.write_all(format!("line {i}\n").as_bytes());
            }
        });
        assert!(logged, "writes waited for the stalled sink");
        assert!(
            counter.dropped_lines() >= 40,
            "dropped {}",
            counter.dropped_lines()
        );
        drop(hold);
        drop(guard);
    }
}
