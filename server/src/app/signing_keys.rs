//! The key set in service, read again without a restart: on SIGHUP, and
//! whenever the state file (`keys/state.json`) changes, looked at every
//! `--keys-reload-seconds`. Nodes sharing the set thus converge on what
//! `cadre keys add` and `cadre keys activate` wrote (docs/operations.md,
//! "Signing keys").
//!
//! A set that does not load (a state file naming a key not copied yet, a
//! damaged file) is refused whole and the set in service stays; the next
//! look tries again, and the error is logged once per different reason.

use super::App;
use crate::directory::keys::{self, KeyError, KeySet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyReload {
    /// The set on disk is the one in service.
    Unchanged,
    /// Another set is in service now.
    Changed {
        /// The kid that signs now.
        current: String,
        /// The kid that signed before.
        previous: String,
        /// Every kid published now, the current one first.
        published: Vec<String>,
    },
}

impl App {
    /// The key set in service.
    pub fn key_set(&self) -> Arc<KeySet> {
        match self.inner.keys.read() {
            Ok(guard) => Arc::clone(&guard),
            // A panic while swapping an Arc cannot leave it half-written.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reads the key set from the data directory now and puts it in
    /// service if it differs; on error the set in service stays.
    pub fn reload_keys(&self) -> Result<KeyReload, KeyError> {
        let set = KeySet::load(self.data_dir())?;
        let old = self.key_set();
        if set.summary() == old.summary() {
            // The same keys and states (a state file rewritten with other
            // times, say): remember its bytes so it is not read again.
            if set.state_bytes() != old.state_bytes() {
                self.swap_keys(set);
            }
            return Ok(KeyReload::Unchanged);
        }
        let change = KeyReload::Changed {
            current: set.current().kid().to_owned(),
            previous: old.current().kid().to_owned(),
            published: set.keys().iter().map(|k| k.key.kid().to_owned()).collect(),
        };
        // Verification first, then the JWKS, then signing: a link or head
        // signed with the new key is never out before this node accepts
        // and publishes it.
        self.inner.signer.use_keys(&set);
        self.inner.jws.use_key(set.current());
        self.swap_keys(set);
        Ok(change)
    }

    fn swap_keys(&self, set: KeySet) {
        let set = Arc::new(set);
        match self.inner.keys.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
    }

    /// Polls the state file every `interval` and reloads on SIGHUP, until
    /// `stop`.
    pub async fn watch_keys(self, interval: Duration, stop: CancellationToken) {
        let mut poll = tokio::time::interval(interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        let mut hangup = crate::hangup::Hangup::listen("reload the signing keys");
        let mut last_error = None;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = poll.tick() => {
                    // Cheap: one small file read; a set that failed to load
                    // is tried again (its missing key may have arrived).
                    let on_disk = keys::set::state_bytes(self.data_dir());
                    let unchanged = on_disk.as_deref() == self.key_set().state_bytes();
                    if !unchanged || last_error.is_some() {
                        self.reload_and_log("the state file changed", &mut last_error);
                    }
                }
                () = hangup.recv() => {
                    last_error = None;
                    self.reload_and_log("SIGHUP", &mut last_error);
                }
            }
        }
    }

    fn reload_and_log(&self, why: &str, last_error: &mut Option<String>) {
        match self.reload_keys() {
            Ok(KeyReload::Unchanged) => {
                *last_error = None;
                if why == "SIGHUP" {
                    let kid = self.key_set().current().kid().to_owned();
                    tracing::info!(kid, "signing keys read again (SIGHUP): the same set");
                }
            }
            Ok(KeyReload::Changed {
                current,
                previous,
                published,
            }) => {
                *last_error = None;
                tracing::info!(
                    kid = current,
                    previous,
                    published = published.join(" "),
                    "signing keys reloaded ({why}): {current} signs now"
                );
            }
            Err(e) => {
                let text = e.to_string();
                if last_error.as_deref() != Some(text.as_str()) {
                    tracing::error!(
                        kid = self.key_set().current().kid(),
                        "signing keys not reloaded ({why}), the set in service stays: {text}"
                    );
                }
                *last_error = Some(text);
            }
        }
    }
}
