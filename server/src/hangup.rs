//! SIGHUP, for the watchers that read their files again on it (the TLS
//! certificate, the signing key set): each its own listener, every signal
//! delivered to each.

/// A SIGHUP listener; one that could not be set up never fires.
pub(crate) struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    /// Listens; if the signal cannot be listened to, says what will not
    /// happen (`what`: "reload the TLS certificate").
    pub(crate) fn listen(what: &str) -> Hangup {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::hangup())
                .map_err(|e| tracing::warn!("SIGHUP will not {what}: {e}"))
                .ok();
            Hangup { signal }
        }
        #[cfg(not(unix))]
        {
            let _ = what;
            Hangup {}
        }
    }

    /// The next SIGHUP (never, without a listener).
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut()
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await;
    }
}
