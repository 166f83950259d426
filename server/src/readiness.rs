//! The readiness checks other parts of the server register, which
//! `/readyz` runs beside its own (the ledger, the disk): see
//! `http/health.rs`. Registering one is one line:
//!
//! ```ignore
//! app.readiness().register("turn", move || turn.ready());
//! ```

use std::sync::RwLock;

/// `Ok` when ready, else a sentence saying what is wrong, in plain words.
pub type Outcome = Result<(), String>;

/// A readiness check: `Ok` when ready, else a sentence saying what is
/// wrong. It runs on every `/readyz`, so it must be quick and not block
/// (read a flag or a counter; do the work elsewhere).
pub type Check = Box<dyn Fn() -> Outcome + Send + Sync>;

/// The further checks `/readyz` runs, registered by the parts that own
/// them: `app.readiness().register("turn", move || ...)`.
#[derive(Default)]
pub struct Checks(RwLock<Vec<(&'static str, Check)>>);

impl std::fmt::Debug for Checks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(n, _)| *n)
            .collect();
        f.debug_tuple("Checks").field(&names).finish()
    }
}

impl Checks {
    /// Adds a check named `name` (a word, as it appears in `/readyz`).
    pub fn register(
        &self,
        name: &'static str,
        check: impl Fn() -> Outcome + Send + Sync + 'static,
    ) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push((name, Box::new(check)));
    }

    /// Runs every check, in the order they were registered.
    pub fn run(&self) -> Vec<(&'static str, Outcome)> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(name, check)| (*name, check()))
            .collect()
    }
}
