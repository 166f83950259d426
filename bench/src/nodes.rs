//! `cadre-bench nodes`: cadre on PostgreSQL with one node and with two
//! (issue 17). Joins per second and relay latency when one node runs every
//! session and when two share them, then failover time over many rounds: a
//! node killed (SIGKILL) → the first welcome on the other node, the killed
//! one started again before the next round.
//!
//! A throwaway PostgreSQL on loopback (the test harness's: Debian's
//! postgresql, default settings), release nodes as processes sharing its
//! database and the signing key. Each session is joined at the node that
//! runs it: straight (session k at node k mod n), then through Debian's
//! nginx running the shipped site files over TLS (`deploy/nginx/cadre.conf`
//! in front of one node, `cadre-nodes.conf` in front of two, which sends a
//! session to a node by its id), as people reach a deployment.

use crate::setup::{Seat, Server, Spawn, create_sessions, session_sizes};
use crate::stats::{Histogram, Summary};
use crate::ws::WsClient;
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// `cadre-bench nodes` options.
#[derive(Debug, clap::Args)]
pub struct NodesArgs {
    /// The server binary.
    #[arg(long, default_value = "target/release/cadre")]
    server_bin: PathBuf,
    /// People joined in each of the two phases.
    #[arg(long, default_value_t = 400)]
    participants: usize,
    /// People per session.
    #[arg(long, default_value_t = 10)]
    session_size: usize,
    /// Joins in flight at once.
    #[arg(long, default_value_t = 32)]
    connect_concurrency: usize,
    /// Signals per session in the relay phase (its first person to its
    /// second), all sent at once.
    #[arg(long, default_value_t = 50)]
    signals: usize,
    /// Failover rounds.
    #[arg(long, default_value_t = 20)]
    failovers: usize,
    /// The nodes' lease, seconds.
    #[arg(long, default_value_t = 3)]
    lease_seconds: u64,
}

/// Runs the benchmark; prints its figures.
pub fn main(args: NodesArgs) -> ExitCode {
    crate::on_two_threads("cadre-bench nodes", run(&args))
}

/// One phase's figures.
struct Phase {
    joins_per_s: f64,
    join: Summary,
    relay: Summary,
}

async fn run(args: &NodesArgs) -> Result<()> {
    use cadre_tests::postgres::{SUPERUSER, TestPostgres};
    let pg = tokio::task::spawn_blocking(|| {
        let pg = TestPostgres::start();
        pg.create_role("cadre_app");
        pg.create_database("cadre");
        pg
    })
    .await?;
    let owner = pg.url(SUPERUSER, "cadre");
    tokio::task::spawn_blocking(move || cadre_server::migrate_postgres(&owner, Some("cadre_app")))
        .await??;
    let url = pg.url("cadre_app", "cadre");
    let root = tempfile::Builder::new().prefix("cadre-nodes-").tempdir()?;
    let dirs = [root.path().join("a"), root.path().join("b")];
    let mut a = node(args, &url, "node-a", &dirs[0], None).await?;
    let token = a.organiser_token.clone();
    let mut b = node(args, &url, "node-b", &dirs[1], Some((&dirs[0], &token))).await?;
    eprintln!("nodes at {} and {}", a.url, b.url);

    let one = phase(args, &a, Route::Direct(&[&a]))
        .await
        .context("one node")?;
    let two = phase(args, &a, Route::Direct(&[&a, &b]))
        .await
        .context("two nodes")?;
    let ca = cadre_tests::tls::TestCa::new("cadre-bench");
    let issued = ca.issue(1, cadre_tests::tls::Validity::Current);
    let addr = |s: &Server| -> Result<std::net::SocketAddr> {
        Ok(s.url.trim_start_matches("http://").parse()?)
    };
    let proxied_one = {
        let nginx =
            cadre_tests::nginx::TestNginx::start(addr(&a)?, &issued.cert_pem, &issued.key_pem);
        phase(args, &a, Route::Proxy(nginx.https, ca.client_config()))
            .await
            .context("one node behind nginx")?
    };
    let proxied_two = {
        let nginx = cadre_tests::nginx::TestNginx::start_nodes(
            [addr(&a)?, addr(&b)?],
            &issued.cert_pem,
            &issued.key_pem,
        );
        phase(args, &a, Route::Proxy(nginx.https, ca.client_config()))
            .await
            .context("two nodes behind nginx")?
    };
    println!("| nodes | reached | joins/s | join p50 / p99 ms | relay p50 / p99 ms |");
    println!("|---:|---|---:|---:|---:|");
    for (n, how, p) in [
        (1, "straight", &one),
        (2, "straight", &two),
        (1, "nginx, TLS", &proxied_one),
        (2, "nginx, TLS", &proxied_two),
    ] {
        println!(
            "| {n} | {how} | {:.0} | {:.2} / {:.2} | {:.2} / {:.2} |",
            p.joins_per_s, p.join.p50_ms, p.join.p99_ms, p.relay.p50_ms, p.relay.p99_ms
        );
    }

    let times = failovers(args, &url, [&mut a, &mut b], &dirs, &token).await?;
    let ms = |q: f64| {
        let mut sorted = times.clone();
        sorted.sort();
        let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1000.0
    };
    println!(
        "failover (kill → first welcome on the other node), {} rounds, lease {} s: \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        times.len(),
        args.lease_seconds,
        ms(0.5),
        ms(0.99),
        ms(1.0)
    );
    a.stop(Duration::from_secs(5)).await;
    b.stop(Duration::from_secs(5)).await;
    Ok(())
}

/// A node on the database; with `like`, sharing that node's key and token.
async fn node(
    args: &NodesArgs,
    url: &str,
    name: &str,
    dir: &Path,
    like: Option<(&Path, &str)>,
) -> Result<Server> {
    std::fs::create_dir_all(dir)?;
    let mut extra: Vec<String> = [
        "--database",
        url,
        "--node",
        name,
        "--lease-seconds",
        &args.lease_seconds.to_string(),
        "--no-turn",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some((other, token)) = like {
        let key = dir.join("signing-key.pk8");
        if !key.exists() {
            std::fs::copy(other.join("signing-key.pk8"), &key)?;
        }
        // One argument: a token may begin with a dash.
        extra.push(format!("--organiser-token={token}"));
    }
    let how = Spawn {
        tls: false,
        data_dir: Some(dir.to_owned()),
    };
    Server::spawn_with(&args.server_bin, &extra, Duration::from_secs(60), how).await
}

/// How people reach the nodes.
#[derive(Clone)]
enum Route<'a> {
    /// Session k at node k mod n.
    Direct(&'a [&'a Server]),
    /// Through a TLS proxy at this address, trusting this configuration.
    Proxy(std::net::SocketAddr, Arc<rustls::ClientConfig>),
}

/// Creates the sessions through `first`, joins each at the node that runs
/// it (by `route`), relays, and lets everyone go.
async fn phase(args: &NodesArgs, first: &Server, route: Route<'_>) -> Result<Phase> {
    let sizes = session_sizes(args.participants, args.session_size);
    let seats = create_sessions(first, &sizes, 8, Duration::from_secs(600)).await?;
    let mut order: Vec<String> = Vec::new();
    for seat in &seats {
        if !order.contains(&seat.sid) {
            order.push(seat.sid.clone());
        }
    }
    let base_of = |seat: &Seat| match &route {
        Route::Direct(nodes) => {
            let k = order.iter().position(|s| *s == seat.sid).unwrap_or(0);
            Ok(nodes[k % nodes.len()].ws_base())
        }
        Route::Proxy(addr, config) => Err((*addr, config.clone())),
    };
    let join = Arc::new(Histogram::default());
    let permits = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for seat in seats {
        let (base, join, permits) = (base_of(&seat), join.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let t = Instant::now();
            let label = format!("{}#{}", seat.sid, seat.pos);
            let wait = Duration::from_secs(30);
            let client = match base {
                Ok(base) => WsClient::connect(&base, &seat.sid, &seat.token, label, wait).await?,
                Err((addr, config)) => {
                    WsClient::connect_tls(addr, config, &seat.sid, &seat.token, label, wait).await?
                }
            };
            join.record(t.elapsed().as_nanos() as u64);
            Ok::<_, anyhow::Error>((seat, client))
        }));
    }
    let mut clients: BTreeMap<(String, usize), (Seat, WsClient)> = BTreeMap::new();
    for task in tasks {
        let (seat, client) = task.await??;
        clients.insert((seat.sid.clone(), seat.pos), (seat, client));
    }
    let joins_per_s = clients.len() as f64 / started.elapsed().as_secs_f64();

    // Relay: in every session at once, its first person sends signals to
    // its second one at a time, each timed from send to receipt.
    let relay = Arc::new(Histogram::default());
    let mut pairs = Vec::new();
    let mut rest = Vec::new();
    let mut by_session: BTreeMap<String, Vec<(Seat, WsClient)>> = BTreeMap::new();
    for ((sid, _), seat_client) in clients {
        by_session.entry(sid).or_default().push(seat_client);
    }
    for (_, mut people) in by_session {
        if people.len() < 2 {
            rest.extend(people);
            continue;
        }
        let (_, to) = people.remove(1);
        let (seat, from) = people.remove(0);
        rest.extend(people);
        let (relay, signals) = (relay.clone(), args.signals);
        pairs.push(tokio::spawn(async move {
            let mut to = to;
            let peer = seat.members.get(1).cloned().unwrap_or_default();
            for i in 0..signals {
                let t = Instant::now();
                from.send(&json!({"type": "signal", "to": peer, "data": {"i": i}}))?;
                to.wait_for("a signal", Duration::from_secs(30), |v| {
                    v["type"] == "signal" && v["data"]["i"] == i
                })
                .await?;
                relay.record(t.elapsed().as_nanos() as u64);
            }
            from.close().await;
            to.close().await;
            Ok::<_, anyhow::Error>(())
        }));
    }
    for pair in pairs {
        pair.await??;
    }
    for (_, client) in rest {
        client.close().await;
    }
    // The sessions' leases are given up once idle (a third of the lease).
    tokio::time::sleep(Duration::from_secs(args.lease_seconds)).await;
    Ok(Phase {
        joins_per_s,
        join: join.summary(),
        relay: relay.summary(),
    })
}

/// Rounds of: a session joined at one node, that node killed, the time
/// until a join at the other node is welcome; the killed node started again.
async fn failovers(
    args: &NodesArgs,
    url: &str,
    nodes: [&mut Server; 2],
    dirs: &[PathBuf; 2],
    token: &str,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(args.failovers);
    for round in 0..args.failovers {
        let (dead, alive) = (round % 2, 1 - round % 2);
        let seats = create_sessions(nodes[alive], &[2], 1, Duration::from_secs(60)).await?;
        let (first, second) = (&seats[0], &seats[1]);
        let held = WsClient::connect(
            &nodes[dead].ws_base(),
            &first.sid,
            &first.token,
            "first".into(),
            Duration::from_secs(30),
        )
        .await?;
        let pid = nodes[dead].pid.context("a spawned node has a pid")?;
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()?;
        if !killed.success() {
            bail!("kill -KILL {pid} failed");
        }
        let t = Instant::now();
        loop {
            let attempt = WsClient::connect(
                &nodes[alive].ws_base(),
                &second.sid,
                &second.token,
                "second".into(),
                Duration::from_secs(10),
            )
            .await;
            if let Ok(client) = attempt {
                times.push(t.elapsed());
                client.close().await;
                break;
            }
            if t.elapsed() > Duration::from_secs(60) {
                bail!("round {round}: the session never came to the other node");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(held);
        let name = if dead == 0 { "node-a" } else { "node-b" };
        let like = (dead == 1).then_some((dirs[0].as_path(), token));
        *nodes[dead] = node(args, url, name, &dirs[dead], like).await?;
        eprintln!("round {round}: {:?}", times.last());
    }
    Ok(times)
}
