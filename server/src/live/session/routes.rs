//! Where a member's signals go, read by the connections without asking the
//! actor. A relay is most of a session's traffic; going reader → target
//! queue instead of reader → actor → target queue takes one task hop (and
//! the actor's share of the encoding) off each one.
//!
//! The actor alone writes it, in step with its roster: a member is added
//! after their `welcome` is queued and before anyone hears of them, and
//! taken out when they leave, are replaced or removed. A connection only
//! reads once its join was answered. So a signal that goes straight to a
//! queue lands after the target's `welcome` and after its sender was
//! announced, in the order its sender sent it. Anything else (a sender no
//! longer current, a target not here) goes through the actor, which
//! answers as it always did.

use crate::live::outbound::ConnectionControl;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

struct Route {
    connection_id: String,
    control: Arc<ConnectionControl>,
}

/// The session's current connections, by person id.
#[derive(Default)]
pub(crate) struct Routes(RwLock<HashMap<String, Route>>);

/// A target that can be sent to directly.
pub(crate) struct Target {
    pub(crate) connection_id: String,
    pub(crate) control: Arc<ConnectionControl>,
}

impl Routes {
    pub(super) fn insert(&self, id: &str, connection_id: &str, control: &Arc<ConnectionControl>) {
        self.write().insert(
            id.to_owned(),
            Route {
                connection_id: connection_id.to_owned(),
                control: Arc::clone(control),
            },
        );
    }

    pub(super) fn remove(&self, id: &str) {
        self.write().remove(id);
    }

    /// Whether `id` may join with `limit` people at most: they are here
    /// already (a new tab), or there is room.
    pub(crate) fn admits(&self, id: &str, limit: usize) -> bool {
        let routes = self.0.read().unwrap_or_else(|p| p.into_inner());
        routes.contains_key(id) || routes.len() < limit
    }

    pub(super) fn clear(&self) {
        self.write().clear();
    }

    /// `to`'s connection when `from` is current with `connection_id` and
    /// `to` is someone else who is here.
    pub(crate) fn target(&self, from: &str, connection_id: &str, to: &str) -> Option<Target> {
        if from == to {
            return None;
        }
        let routes = self.0.read().unwrap_or_else(|p| p.into_inner());
        if routes.get(from)?.connection_id != connection_id {
            return None;
        }
        let route = routes.get(to)?;
        Some(Target {
            connection_id: route.connection_id.clone(),
            control: Arc::clone(&route.control),
        })
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Route>> {
        // Every write leaves the map whole: a poisoned lock is still usable.
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_current_sender_reaches_someone_else_who_is_here() {
        let routes = Routes::default();
        let a = Arc::new(ConnectionControl::new(4));
        let b = Arc::new(ConnectionControl::new(4));
        routes.insert("p_a", "c_1", &a);
        routes.insert("p_b", "c_2", &b);
        let t = routes.target("p_a", "c_1", "p_b").expect("b is here");
        assert_eq!(t.connection_id, "c_2");
        assert!(Arc::ptr_eq(&t.control, &b));
        assert!(
            routes.target("p_a", "c_old", "p_b").is_none(),
            "replaced tab"
        );
        assert!(routes.target("p_a", "c_1", "p_a").is_none(), "oneself");
        assert!(routes.target("p_a", "c_1", "p_z").is_none(), "not here");
        assert!(routes.target("p_z", "c_9", "p_b").is_none(), "not a member");
        routes.insert("p_b", "c_3", &a);
        assert_eq!(
            routes.target("p_a", "c_1", "p_b").map(|t| t.connection_id),
            Some("c_3".to_owned()),
            "the newest tab"
        );
        routes.remove("p_b");
        assert!(routes.target("p_a", "c_1", "p_b").is_none());
        routes.clear();
        assert!(routes.target("p_b", "c_3", "p_a").is_none());
    }
}
