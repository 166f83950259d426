//! Difficulty news reaching people while they are connected:
//! the facilitators hear of a new report as it is filed, and an author
//! hears of an answer or a close whichever process wrote it: this server
//! (REST), or `cadre report answer` run as a separate process on the same
//! catalogue.
//!
//! The CLI cannot reach this server's sockets, so the server watches the
//! catalogue: SQLite's `PRAGMA data_version` changes on this server's
//! connection only when another connection committed, which costs one
//! pragma per [`WATCH_PERIOD`] while nothing happens. When it changes, the
//! reports answered or closed in the last [`WATCH_WINDOW`] are read again,
//! and each version of a report (its answer time, its close time) is sent
//! at most once, whoever noticed it first: [`Told`] remembers what was
//! sent, so a REST answer seen by the watcher too is not sent twice.

use super::App;
use super::difficulties::query_changed;
use crate::directory::actions::RecordedChange;
use cadre_protocol::Role;
use cadre_protocol::difficulties::Difficulty;
use cadre_protocol::signalling::ServerMessage;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the catalogue is checked for another process's writes.
pub const WATCH_PERIOD: Duration = Duration::from_millis(500);
/// How far back a check looks: answers written by another process with a
/// clock a little behind, or noticed late, are still found.
const WATCH_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Told versions older than this are forgotten (twice the window, so a
/// version is never forgotten while a check can still find it).
const FORGET_AFTER_MS: i64 = 2 * WATCH_WINDOW_MS;

/// One version of a report: when it was answered, when closed.
type Version = (Option<i64>, Option<i64>);

/// The versions of reports already sent to their author, by report id.
#[derive(Debug, Default)]
pub(crate) struct Told(Mutex<HashMap<String, Version>>);

impl Told {
    /// True the first time this version of `report` is seen (it is then
    /// remembered as told).
    fn first(&self, report: &Difficulty) -> bool {
        let version = (report.answered_at, report.closed_at);
        let mut told = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if told.get(&report.id) == Some(&version) {
            return false;
        }
        told.insert(report.id.clone(), version);
        true
    }

    fn forget_before(&self, ms: i64) {
        let mut told = self.0.lock().unwrap_or_else(|p| p.into_inner());
        told.retain(|_, (a, c)| a.max(c).is_some_and(|t| t >= ms));
    }
}

/// The action changes already told (by id, with when they were told).
#[derive(Debug, Default)]
pub(crate) struct ToldChanges(Mutex<HashMap<String, i64>>);

impl ToldChanges {
    /// True the first time `id` is seen (it is then remembered as told).
    pub(crate) fn first(&self, id: &str, now: i64) -> bool {
        let mut told = self.0.lock().unwrap_or_else(|p| p.into_inner());
        told.insert(id.to_owned(), now).is_none()
    }

    fn forget_before(&self, ms: i64) {
        let mut told = self.0.lock().unwrap_or_else(|p| p.into_inner());
        told.retain(|_, at| *at >= ms);
    }
}

impl App {
    /// Tells a beneficiary of a change of their action in every session of
    /// it they are connected to, once per change, and closes their
    /// connections to the sessions an interruption revoked.
    pub(crate) async fn tell_action_change(&self, recorded: &RecordedChange) {
        let now = chrono::Utc::now().timestamp_millis();
        if !self.told_changes().first(&recorded.change.id, now) {
            return;
        }
        let registry = self.registry();
        let msg = ServerMessage::ActionChanged {
            change: recorded.change.clone(),
        };
        for (sid, pid) in &recorded.places {
            registry.notify(sid, pid, &msg).await;
        }
        for (sid, pid) in &recorded.revoked {
            registry.revoke(sid, pid).await;
        }
    }

    /// The author sees an answer or a close at once if connected (once per
    /// version of the report, see [`Told`]).
    pub async fn tell_author(&self, report: &Difficulty) {
        if !self.told().first(report) {
            return;
        }
        let msg = ServerMessage::Difficulty {
            difficulty: report.clone(),
        };
        self.registry()
            .notify(&report.session_id, &report.author.id, &msg)
            .await;
    }

    /// The session's connected facilitators (other than the author) see a
    /// new report at once: they read every report of their session anyway
    /// (`GET /api/reports`), and handle difficulties as they arise.
    pub async fn tell_facilitators(&self, report: &Difficulty) {
        let sid = report.session_id.clone();
        let people = match self.catalog().run(move |c| c.people(&sid)).await {
            Ok(people) => people,
            Err(e) => {
                tracing::warn!("facilitators not told of a report: {e}");
                return;
            }
        };
        let msg = ServerMessage::Difficulty {
            difficulty: report.clone(),
        };
        for person in people {
            if person.role == Role::Facilitator && person.id != report.author.id {
                self.registry()
                    .notify(&report.session_id, &person.id, &msg)
                    .await;
            }
        }
    }

    /// Watches the catalogue for answers, closes and action changes written
    /// by another process until `stop`, and tells the people concerned.
    pub async fn watch_answers(&self, stop: CancellationToken) {
        let mut seen = self.catalog_version().await.flatten();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(WATCH_PERIOD) => {}
            }
            // A shared database (PostgreSQL) keeps no version another
            // node's commit changes: it is read every period.
            let version = match self.catalog_version().await {
                Some(v) if v.is_some() && v == seen => continue,
                Some(v) => v,
                None => continue,
            };
            seen = version;
            let now = chrono::Utc::now().timestamp_millis();
            let since = now - WATCH_WINDOW_MS;
            let changed = self
                .catalog()
                .run(move |c| c.with_sql(|db| query_changed(db, since)))
                .await;
            match changed {
                Ok(reports) => {
                    for report in &reports {
                        self.tell_author(report).await;
                    }
                }
                Err(e) => tracing::warn!("reading answered reports: {e}"),
            }
            // Article 2.1.7 changes recorded with `cadre action change`.
            match self.catalog().run(move |c| c.changes_since(since)).await {
                Ok(changes) => {
                    for recorded in &changes {
                        self.tell_action_change(recorded).await;
                    }
                }
                Err(e) => tracing::warn!("reading action changes: {e}"),
            }
            self.told().forget_before(now - FORGET_AFTER_MS);
            self.told_changes().forget_before(now - FORGET_AFTER_MS);
        }
    }

    /// The catalogue's version ([`Catalog::data_version`]); `None` when it
    /// could not be read.
    async fn catalog_version(&self) -> Option<Option<i64>> {
        self.catalog()
            .run(|c| c.data_version())
            .await
            .map_err(|e| tracing::warn!("reading the catalogue's version: {e}"))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_protocol::difficulties::DifficultyStatus;
    use cadre_protocol::signalling::Me;

    fn report(answered_at: Option<i64>, closed_at: Option<i64>) -> Difficulty {
        Difficulty {
            id: "r_1".into(),
            session_id: "s_1".into(),
            author: Me {
                id: "p_1".into(),
                name: "Karim".into(),
                role: Role::Participant,
            },
            text: "Le son coupe.".into(),
            status: DifficultyStatus::Answered,
            created_at: 1,
            answer: Some("Nous regardons.".into()),
            answered_at,
            closed_at,
        }
    }

    #[test]
    fn each_version_of_a_report_is_told_once() {
        let told = Told::default();
        assert!(told.first(&report(Some(10), None)), "a new answer is news");
        assert!(
            !told.first(&report(Some(10), None)),
            "the same answer twice is not"
        );
        assert!(
            told.first(&report(Some(20), None)),
            "a second answer is news"
        );
        assert!(told.first(&report(Some(20), Some(30))), "the close is news");
        assert!(!told.first(&report(Some(20), Some(30))));
    }

    #[test]
    fn old_versions_are_forgotten_recent_ones_kept() {
        let told = Told::default();
        told.first(&report(Some(10), None));
        told.forget_before(5);
        assert!(!told.first(&report(Some(10), None)), "still remembered");
        told.forget_before(11);
        assert!(
            told.first(&report(Some(10), None)),
            "forgotten past the window"
        );
    }
}
