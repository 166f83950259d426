//! How many streams the server forwards at once, across every session: a
//! publication that would take it over its limit is refused (the member
//! still receives the others), rather than every call on the server
//! degrading together. A stream is one published track sent to one
//! subscriber; each outgoing track holds a [`Reservation`] for as long as
//! it exists.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server's forwarding limit and what is in use.
#[derive(Debug)]
pub struct Capacity {
    limit: usize,
    used: AtomicUsize,
}

impl Capacity {
    /// At most `limit` streams at once.
    pub fn new(limit: usize) -> Arc<Capacity> {
        Arc::new(Capacity {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// No limit (a forwarder on its own: tests, benchmarks).
    pub fn unlimited() -> Arc<Capacity> {
        Capacity::new(usize::MAX)
    }

    /// Streams forwarded now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether `more` streams fit now. Checked when someone publishes, so
    /// two publications at the same instant may both fit and go a little
    /// over: the limit is a ceiling on what is started, not a reservation.
    pub(super) fn fits(&self, more: usize) -> bool {
        self.used().saturating_add(more) <= self.limit
    }

    pub(super) fn reserve(self: &Arc<Self>) -> Reservation {
        self.used.fetch_add(1, Ordering::Relaxed);
        Reservation(Arc::clone(self))
    }
}

/// One stream counted in [`Capacity`] until dropped.
#[derive(Debug)]
pub(super) struct Reservation(Arc<Capacity>);

impl Drop for Reservation {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_count_while_held_and_the_limit_includes_its_last() {
        let capacity = Capacity::new(3);
        assert!(capacity.fits(3));
        assert!(!capacity.fits(4));
        let held: Vec<Reservation> = (0..2).map(|_| capacity.reserve()).collect();
        assert_eq!(capacity.used(), 2);
        assert!(capacity.fits(1));
        assert!(!capacity.fits(2));
        drop(held);
        assert_eq!(capacity.used(), 0);
        assert!(Capacity::unlimited().fits(usize::MAX));
    }
}
