//! Which sessions this node writes, when several nodes share the ledger's
//! store (PostgreSQL, issue 17): a session's log has one writer, the node
//! holding its lease, so that `seq` stays gap-free and nothing forks.
//!
//! Whatever writes a session (its live actor for as long as it runs, or a
//! single append from a request) *holds* it; the first hold takes the
//! lease (or finds another node has it: [`LedgerError::Elsewhere`]). A
//! keeper renews every lease a third of the way through its time, tells
//! who listens which leases were lost (the live room closes those
//! sessions: their people reconnect to the node that has them now), and
//! gives up the leases nobody held for a while, so another node can take
//! those sessions at once. With one server on SQLite nothing of this runs:
//! a hold costs one call that answers "no leases".

use super::store::{LedgerStore, StoreError};
use super::{Ledger, LedgerError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// What this node knows of the sessions it writes.
#[derive(Default)]
pub(super) struct Holding {
    sessions: Mutex<HashMap<String, Held>>,
    /// Numbers each entry of `sessions`, so that a hold taken under an
    /// entry since forgotten (a lost lease) never counts out a newer one.
    entries: std::sync::atomic::AtomicU64,
    lost: Mutex<Option<broadcast::Sender<String>>>,
}

struct Held {
    /// This entry's number.
    generation: u64,
    /// Holds not dropped yet.
    users: usize,
    /// When the last one was dropped.
    idle_since: Instant,
    /// The lease is being given up: a new hold waits until it is.
    releasing: bool,
}

/// This node's right to write a session, while it lives.
#[must_use = "the session may be released once the hold is dropped"]
pub struct Hold {
    holding: Option<(Arc<Holding>, String, u64)>,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hold")
            .field("sid", &self.holding.as_ref().map(|(_, sid, _)| sid))
            .finish()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some((holding, sid, generation)) = self.holding.take() {
            let mut sessions = holding.lock();
            if let Some(held) = sessions
                .get_mut(&sid)
                .filter(|h| h.generation == generation)
            {
                held.users = held.users.saturating_sub(1);
                if held.users == 0 {
                    held.idle_since = Instant::now();
                }
            }
        }
    }
}

impl Holding {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        // Counts and flags only: a panic elsewhere cannot leave them torn.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lost_sender(&self) -> broadcast::Sender<String> {
        self.lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| broadcast::channel(256).0)
            .clone()
    }
}

impl Ledger {
    /// Holds `sid` for writing until the returned [`Hold`] is dropped: on a
    /// shared store, takes its lease unless this node has it already;
    /// [`LedgerError::Elsewhere`] when another node does.
    pub async fn hold(&self, sid: &str) -> Result<Hold, LedgerError> {
        if self.inner.store.leases().is_none() {
            return Ok(Hold { holding: None });
        }
        let holding = self.inner.holding.clone();
        let generation = loop {
            {
                let mut sessions = holding.lock();
                let held = sessions.entry(sid.to_owned()).or_insert_with(|| Held {
                    generation: holding
                        .entries
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    users: 0,
                    idle_since: Instant::now(),
                    releasing: false,
                });
                if !held.releasing {
                    held.users += 1;
                    break held.generation;
                }
            }
            // Given up this instant: taken again once that is done.
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        // From here on, dropping the hold (an error below) counts it out.
        let hold = Hold {
            holding: Some((holding, sid.to_owned(), generation)),
        };
        let store = self.inner.store.clone();
        if leases(&store).holds(sid) {
            return Ok(hold);
        }
        let owned = sid.to_owned();
        let claimed = tokio::task::spawn_blocking(move || leases(&store).claim(&owned))
            .await
            .map_err(|e| LedgerError::Task(e.to_string()))??;
        if !claimed {
            return Err(LedgerError::Elsewhere(sid.to_owned()));
        }
        Ok(hold)
    }

    /// The sessions whose lease this node lost (lapsed while it was
    /// paused or cut off, or taken over), as the keeper finds them.
    pub fn lost_leases(&self) -> broadcast::Receiver<String> {
        self.inner.holding.lost_sender().subscribe()
    }

    /// Whether the store is shared and leased (PostgreSQL).
    pub fn is_leased(&self) -> bool {
        self.inner.store.leases().is_some()
    }

    /// Renews this node's leases every third of their time until `stop`,
    /// reports the lost ones, and gives up those nobody has held for a
    /// third of it; at `stop`, gives up every one nobody holds. Does
    /// nothing on a store without leases.
    pub async fn keep_leases(&self, stop: CancellationToken) {
        let Some(ttl) = self.inner.store.leases().map(|l| l.ttl()) else {
            return;
        };
        let period = ttl / 3;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(period) => {}
            }
            let store = self.inner.store.clone();
            match tokio::task::spawn_blocking(move || leases(&store).renew_all()).await {
                Ok(Ok(lost)) => {
                    let sender = self.inner.holding.lost_sender();
                    for sid in lost {
                        tracing::warn!(sid, "lease lost: this node no longer writes the session");
                        self.inner.holding.lock().remove(&sid);
                        // Nobody listening is fine: nothing runs there.
                        let _ = sender.send(sid);
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "renewing the session leases"),
                Err(e) => tracing::warn!(error = %e, "renewing the session leases"),
            }
            self.release_idle(period).await;
        }
        self.release_idle(Duration::ZERO).await;
    }

    /// Gives up the leases nobody has held for `idle` or longer.
    async fn release_idle(&self, idle: Duration) {
        self.release_where(|h| h.users == 0 && h.idle_since.elapsed() >= idle)
            .await;
    }

    /// Gives up every lease this node holds: once the writer has stopped
    /// (see [`Ledger::shutdown`]), nothing here writes any session again.
    pub(super) async fn release_every_lease(&self) {
        if self.is_leased() {
            self.release_where(|_| true).await;
        }
    }

    async fn release_where(&self, which: impl Fn(&Held) -> bool) {
        let idle: Vec<String> = {
            let mut sessions = self.inner.holding.lock();
            sessions
                .iter_mut()
                .filter(|(_, h)| !h.releasing && which(h))
                .map(|(sid, h)| {
                    h.releasing = true;
                    sid.clone()
                })
                .collect()
        };
        for sid in idle {
            let store = self.inner.store.clone();
            let owned = sid.clone();
            let released = tokio::task::spawn_blocking(move || leases(&store).release(&owned))
                .await
                .map_err(|e| StoreError::Unsuitable(e.to_string()))
                .and_then(|r| r);
            if let Err(e) = released {
                // It lapses by itself.
                tracing::warn!(sid, error = %e, "giving up a session lease");
            }
            self.inner.holding.lock().remove(&sid);
        }
    }
}

fn leases(store: &Arc<dyn LedgerStore>) -> &dyn super::store::Leases {
    store.leases().expect("called only on a store with leases")
}
