//! What runs beside a measured phase: `cadre backup` back to back on the
//! server's data directory, and the ledger's commit times read from the
//! server's `/metrics` before and after.

use crate::http::Http;
use crate::report::{BackupRuns, LedgerCommits};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The metrics token the bench gives the servers it starts.
pub const METRICS_TOKEN: &str = "cadre-bench-metrics-token";

/// `cadre_ledger_commit_seconds` as scraped: cumulative bucket counts by
/// upper bound (seconds), the sum and the count.
#[derive(Debug, Clone, Default)]
pub struct CommitHistogram {
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

/// Scrapes the server's `/metrics` (with [`METRICS_TOKEN`]).
pub async fn scrape_commits(client: &Http, base_url: &str) -> Result<CommitHistogram> {
    let url = format!("{base_url}/metrics");
    let resp = client.get(&url, METRICS_TOKEN).await?;
    if resp.status != 200 {
        bail!("GET {url} answered {}", resp.status);
    }
    let text = String::from_utf8(resp.body).context("reading /metrics")?;
    Ok(parse_commits(&text))
}

fn parse_commits(text: &str) -> CommitHistogram {
    let mut h = CommitHistogram::default();
    for line in text.lines() {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if let Some(rest) = name.strip_prefix("cadre_ledger_commit_seconds_bucket{le=\"") {
            let bound = rest.trim_end_matches("\"}");
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().unwrap_or(f64::INFINITY)
            };
            h.buckets.push((bound, value as u64));
        } else if name == "cadre_ledger_commit_seconds_sum" {
            h.sum = value;
        } else if name == "cadre_ledger_commit_seconds_count" {
            h.count = value as u64;
        }
    }
    h
}

impl CommitHistogram {
    /// The commits made between `before` and `self`.
    pub fn since(&self, before: &CommitHistogram) -> LedgerCommits {
        let commits = self.count.saturating_sub(before.count);
        let cumulative: Vec<(f64, u64)> = self
            .buckets
            .iter()
            .map(|&(le, n)| {
                let was = before
                    .buckets
                    .iter()
                    .find(|(b, _)| *b == le)
                    .map_or(0, |&(_, m)| m);
                (le, n.saturating_sub(was))
            })
            .collect();
        let at_most = |q: f64| {
            let need = (commits as f64 * q).ceil() as u64;
            cumulative
                .iter()
                .find(|(_, n)| *n >= need.max(1))
                .map_or(f64::INFINITY, |&(le, _)| le * 1000.0)
        };
        LedgerCommits {
            commits,
            mean_ms: if commits == 0 {
                0.0
            } else {
                (self.sum - before.sum) / commits as f64 * 1000.0
            },
            p50_at_most_ms: at_most(0.5),
            p99_at_most_ms: at_most(0.99),
        }
    }
}

/// Where and with what `cadre backup` runs beside a phase.
#[derive(Debug, Clone)]
pub struct BackupPlan {
    /// The cadre binary.
    pub bin: PathBuf,
    /// The server's data directory.
    pub data_dir: PathBuf,
    /// Where each backup is written, then removed.
    pub scratch: PathBuf,
    /// Extra arguments of `cadre backup` (`--normal-priority`).
    pub args: Vec<String>,
}

/// Starts `cadre backup` runs one after another until `until`, each into a
/// new directory under the plan's scratch directory, removed after it.
pub fn backups_until(plan: BackupPlan, until: Instant) -> JoinHandle<BackupRuns> {
    let BackupPlan {
        bin,
        data_dir,
        scratch,
        args,
    } = plan;
    tokio::spawn(async move {
        let mut runs = BackupRuns::default();
        let mut total = 0.0;
        let mut k = 0u32;
        while Instant::now() < until {
            let dest = scratch.join(format!("backup-{k}"));
            k += 1;
            let started = Instant::now();
            let out = Command::new(&bin)
                .arg("--data-dir")
                .arg(&data_dir)
                .arg("backup")
                .arg(&dest)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .output()
                .await;
            let took = started.elapsed().as_secs_f64();
            match out {
                Ok(o) if o.status.success() => {
                    runs.completed += 1;
                    total += took;
                    runs.max_s = runs.max_s.max(took);
                    runs.copied_bytes = databases_size(&dest);
                }
                Ok(o) => {
                    runs.failed += 1;
                    runs.first_error.get_or_insert_with(|| {
                        String::from_utf8_lossy(&o.stderr).trim().to_owned()
                    });
                }
                Err(e) => {
                    runs.failed += 1;
                    runs.first_error.get_or_insert_with(|| e.to_string());
                }
            }
            let _ = tokio::fs::remove_dir_all(&dest).await;
        }
        if runs.completed > 0 {
            runs.mean_s = total / runs.completed as f64;
        }
        runs
    })
}

/// Bytes of the SQLite files in a backup directory.
fn databases_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "sqlite3"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
cadre_ledger_commit_seconds_sum 0.010
cadre_ledger_commit_seconds_count 4
cadre_ledger_commit_seconds_bucket{le=\"0.001\"} 2
cadre_ledger_commit_seconds_bucket{le=\"0.005\"} 4
cadre_ledger_commit_seconds_bucket{le=\"+Inf\"} 4
";
    const AFTER: &str = "\
# HELP cadre_ledger_commit_seconds how long a batch took to commit
cadre_ledger_commit_seconds_sum 0.110
cadre_ledger_commit_seconds_count 104
cadre_ledger_commit_seconds_bucket{le=\"0.001\"} 52
cadre_ledger_commit_seconds_bucket{le=\"0.005\"} 102
cadre_ledger_commit_seconds_bucket{le=\"+Inf\"} 104
";

    #[test]
    fn commits_between_two_scrapes() {
        let d = parse_commits(AFTER).since(&parse_commits(BEFORE));
        assert_eq!(d.commits, 100);
        assert!((d.mean_ms - 1.0).abs() < 1e-9, "{}", d.mean_ms);
        assert_eq!(d.p50_at_most_ms, 1.0);
        // 98 of 100 under 5 ms: the 99th is beyond the last finite bound.
        assert_eq!(d.p99_at_most_ms, f64::INFINITY);
    }
}
