//! `/healthz` and `/readyz`, for the service manager, the reverse proxy and
//! the monitoring.
//!
//! `/healthz` says the process answers HTTP: nothing more, so a restart is
//! only ever decided on a process that is stuck. `/readyz` says whether it
//! should be sent people now: the evidence ledger can commit (its writer
//! runs, the last transaction did not fail, and a commit in the last
//! [`RECENT_COMMIT`] or a probe write in the data directory succeeded),
//! the data directory's disk has room, and every check another part
//! registered holds (TURN registers one). Each failing check is named in
//! the 503's JSON body, in plain words.

use crate::app::App;
use crate::readiness::Outcome;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;

/// A commit this recent shows the ledger writes; older, a probe write is
/// made in the data directory instead.
pub const RECENT_COMMIT: Duration = Duration::from_secs(30);

/// Name of the file the probe writes (and rewrites) in the data directory.
const PROBE_FILE: &str = ".readyz-probe";

/// One check's outcome, as `/readyz` reports it.
#[derive(Debug, Serialize)]
struct CheckResult {
    name: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

impl CheckResult {
    fn of(name: &'static str, outcome: Outcome) -> CheckResult {
        match outcome {
            Ok(()) => CheckResult {
                name,
                ok: true,
                problem: None,
            },
            Err(problem) => CheckResult {
                name,
                ok: false,
                problem: Some(problem),
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    checks: Vec<CheckResult>,
}

/// `GET /healthz`: the process answers.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 with every check when all hold, else 503 with the
/// same list, each failing check saying why.
pub(super) async fn readyz(State(app): State<App>) -> Response {
    let probe_app = app.clone();
    // The probe and statvfs touch the disk: off the async threads.
    let builtin = tokio::task::spawn_blocking(move || {
        vec![
            CheckResult::of("ledger", ledger_check(&probe_app)),
            CheckResult::of("disk", disk_check(&probe_app)),
        ]
    })
    .await
    .unwrap_or_else(|e| {
        vec![CheckResult::of(
            "ledger",
            Err(format!("the readiness checks failed to run: {e}")),
        )]
    });
    let mut checks = builtin;
    checks.extend(
        app.readiness()
            .run()
            .into_iter()
            .map(|(name, outcome)| CheckResult::of(name, outcome)),
    );
    let ready = checks.iter().all(|c| c.ok);
    if !ready {
        let failing: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
        tracing::warn!(failing = ?failing, "not ready");
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        checks,
    };
    (status, Json(body)).into_response()
}

fn ledger_check(app: &App) -> Result<(), String> {
    let health = app.ledger().health();
    if !health.alive {
        return Err(
            "the evidence ledger's writer has stopped: no attendance can be recorded; \
             restart the server"
                .into(),
        );
    }
    if health.last_failure_ms > health.last_commit_ms {
        return Err(
            "the evidence ledger's last transaction failed and none has committed since \
             (see the log: a full disk, a read-only or failing filesystem)"
                .into(),
        );
    }
    let now = chrono::Utc::now().timestamp_millis();
    if health.last_commit_ms > 0 && now - health.last_commit_ms < RECENT_COMMIT.as_millis() as i64 {
        return Ok(());
    }
    probe(app.data_dir()).map_err(|e| {
        format!(
            "the data directory {} cannot be written ({e}): the evidence ledger could not commit",
            app.data_dir().display()
        )
    })
}

/// Writes and syncs a small file in `dir`: what a commit needs of the
/// filesystem, without writing evidence.
fn probe(dir: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(dir.join(PROBE_FILE))?;
    file.write_all(b"cadre readiness probe\n")?;
    file.sync_all()
}

fn disk_check(app: &App) -> Result<(), String> {
    let dir = app.data_dir();
    let stat = rustix::fs::statvfs(dir)
        .map_err(|e| format!("cannot read the free space of {}: {e}", dir.display()))?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let needed = app.min_free_disk_bytes();
    if free < needed {
        return Err(format!(
            "only {} MiB free on the disk of {}, below the {} MiB required \
             (--min-free-disk-mb): free space before the ledger and recordings fill it",
            free >> 20,
            dir.display(),
            needed >> 20
        ));
    }
    Ok(())
}
