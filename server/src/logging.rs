//! Where log lines go: a bounded queue drained by one thread that writes to
//! stderr. Logging is lossy and never blocks nor fails the code that logs:
//! when stderr is slow the queue fills and lines are dropped (and counted);
//! when stderr cannot be written (a full disk, a closed pipe, `/dev/full`)
//! the line is lost and nothing else happens. A failure the ledger writer
//! logs must never take the ledger down with it.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// Lines queued towards stderr before new ones are dropped.
pub const QUEUE_LINES: usize = 4096;

/// How long [`FlushGuard`] waits, when dropped, for queued lines to be written.
const FLUSH_WAIT: Duration = Duration::from_secs(1);

enum Item {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// A `MakeWriter` for `tracing_subscriber::fmt`: each event's formatted line
/// is queued whole, or dropped if the queue is full.
#[derive(Clone)]
pub struct LossyWriter {
    queue: SyncSender<Item>,
    dropped: Arc<AtomicU64>,
}

/// Waits (bounded) for queued lines to be written when dropped: keep it
/// alive until the process ends.
pub struct FlushGuard {
    queue: SyncSender<Item>,
}

impl LossyWriter {
    /// Starts the thread writing to stderr.
    pub fn stderr() -> std::io::Result<(LossyWriter, FlushGuard)> {
        Self::to(std::io::stderr(), QUEUE_LINES)
    }

    /// Starts the thread writing to `sink`, with room for `capacity` lines.
    pub fn to(
        sink: impl Write + Send + 'static,
        capacity: usize,
    ) -> std::io::Result<(LossyWriter, FlushGuard)> {
        let (queue, items) = sync_channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&dropped);
        std::thread::Builder::new()
            .name("cadre-log".into())
            .spawn(move || drain(sink, items, counter))?;
        Ok((
            LossyWriter {
                queue: queue.clone(),
                dropped,
            },
            FlushGuard { queue },
        ))
    }

    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Writes what arrives; every write error is ignored (there is nowhere to
/// report it: that is where reports go). Lines dropped for lack of room are
/// announced with the next line that is written.
fn drain(mut sink: impl Write, items: Receiver<Item>, dropped: Arc<AtomicU64>) {
    let mut announced = 0;
    for item in items {
        match item {
            Item::Line(line) => {
                let now = dropped.load(Ordering::Relaxed);
                if now > announced {
                    let note =
                        format!("[{} log lines dropped: stderr too slow]\n", now - announced);
                    if sink.write_all(note.as_bytes()).is_ok() {
                        announced = now;
                    }
                }
                let _ = sink.write_all(&line);
            }
            Item::Flush(done) => {
                let _ = sink.flush();
                let _ = done.try_send(());
            }
        }
    }
    let _ = sink.flush();
}

impl Write for LossyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.queue.try_send(Item::Line(buf.to_vec())) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LossyWriter {
    type Writer = LossyWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        let (done, wait) = sync_channel(1);
        if self.queue.try_send(Item::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(FLUSH_WAIT);
        }
    }
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
    use std::sync::Mutex;

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
    struct Stalled(Arc<Mutex<()>>, Arc<Mutex<Vec<u8>>>);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _hold = self.0.lock().unwrap();
            self.1.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_sink_that_fails_costs_nothing_to_whoever_logs() {
        let (writer, guard) = LossyWriter::to(Full, 16).unwrap();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer.clone())
            .log_internal_errors(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..100 {
                tracing::error!(i, "the ledger cannot commit");
            }
        });
        drop(guard);
    }

    #[test]
    fn a_stalled_sink_drops_lines_instead_of_blocking_and_says_so() {
        let gate = Arc::new(Mutex::new(()));
        let written = Arc::new(Mutex::new(Vec::new()));
        let hold = gate.lock().unwrap();
        let (mut writer, guard) =
            LossyWriter::to(Stalled(Arc::clone(&gate), Arc::clone(&written)), 4).unwrap();
        let started = std::time::Instant::now();
        for i in 0..50 {
            writer.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "writes waited for the stalled sink"
        );
        assert!(writer.dropped() >= 40, "dropped {}", writer.dropped());
        drop(hold);
        // Once the queue has room again, a line goes through.
        let drained = std::time::Instant::now();
        loop {
            let before = writer.dropped();
            writer.write_all(b"after\n").unwrap();
            if writer.dropped() == before {
                break;
            }
            assert!(
                drained.elapsed() < Duration::from_secs(5),
                "queue not drained"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(guard);
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        assert!(text.contains("line 0\n"), "{text}");
        assert!(text.contains("log lines dropped"), "{text}");
        assert!(text.ends_with("after\n"), "{text}");
    }
}
