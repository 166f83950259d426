//! The recording gate uses each person's latest decision as the ledger
//! orders them, whatever tab made it and whenever a tab joined: "the gate never opens while the latest recorded decision of
//! anyone connected is not a grant" (docs/recording.md).

use cadre_protocol::Role;
use cadre_protocol::api::SessionView;
use cadre_protocol::attendance::Schedule;
use cadre_server::live::outbound::{ConnectionControl, Outbound};
use cadre_server::live::session::Joining;
use cadre_tests::{Client, TestServer, person};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const PEOPLE: [(&str, Role); 4] = [
    ("Claire Martin", Role::Facilitator),
    ("Karim Benali", Role::Participant),
    ("Sophie Dubois", Role::Participant),
    ("Julien Petit", Role::Facilitator),
];

/// The people whose tabs come and go in the interleaving test (Claire
/// watches and stays).
const CHURN: [&str; 3] = ["Karim Benali", "Sophie Dubois", "Julien Petit"];

/// A tab that joins after its person withdrew shows the withdrawal, and
/// its arrival does not reopen the gate: the session holds every decision
/// (read from the log when it started, written through it since).
#[tokio::test]
async fn a_tab_joining_after_a_withdrawal_does_not_reopen_the_gate() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let (hash, mut claire, mut karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;

    karim.decide_recording(&hash, false).await;
    claire
        .recording_state("stopped", |r| r["active"] == false)
        .await;

    // The second tab reaches the session after the withdrawal is durable.
    let app = server.app();
    let (info, schedule) = live_session(app, &sid).await;
    let control = Arc::new(ConnectionControl::new(64));
    let joining = Joining {
        id: karim.id.clone(),
        name: "Karim Benali".into(),
        role: Role::Participant,
        connection_id: "second-tab".into(),
        control: Arc::clone(&control),
    };
    app.registry()
        .join(&info, &schedule, joining)
        .await
        .expect("the second tab joins");
    let Outbound::Text(text) = tokio::time::timeout(Duration::from_secs(10), control.recv())
        .await
        .expect("no welcome for the second tab");
    let welcome: Value = serde_json::from_str(text.as_str()).expect("a JSON welcome");
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(
        welcome["consents"]["recording"], false,
        "the new tab shows the withdrawal: {welcome}"
    );
    assert_eq!(welcome["recording"]["active"], false, "{welcome}");

    // Claire re-grants: a durable entry after any start the stale copy
    // would have caused, so the ledger can be read for it now.
    claire.decide_recording(&hash, false).await;
    claire.decide_recording(&hash, true).await;
    let started = server.ledger_entries(&sid, "recording_started").await;
    assert_eq!(
        started.len(),
        1,
        "recording started again with a person whose latest decision is a withdrawal: {started:?}"
    );
    check_gate_invariant(&server.ledger_all(&sid).await);
}

/// A withdrawal sent on a tab that another tab of the same person has just
/// replaced still stops recording: it is the person's decision.
#[tokio::test]
async fn a_withdrawal_from_a_replaced_tab_stops_recording() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let (hash, mut claire, karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;

    // The old tab's withdrawal and the new tab's arrival cross: the old
    // tab's reader may take it after the replacement.
    let withdrawal = json!({
        "type": "consent", "consent": "recording", "granted": false, "text_sha256": hash,
    });
    let old = karim.sender();
    let token = person(&session, "Karim Benali").link.token.clone();
    let (_, second) = tokio::join!(old.send_json(&withdrawal), async {
        server.connect(&sid, &token).await.expect("second tab")
    });

    // If it was written, the gate is closed and stays closed.
    let written = wait_for_withdrawal(&server, &sid, &karim.id).await;
    if written {
        claire
            .recording_state("stopped", |r| r["active"] == false)
            .await;
        assert_eq!(
            second.welcome["recording"]["active"], false,
            "{}",
            second.welcome
        );
    }
    // A later durable entry as a barrier, then the whole log is checked.
    claire.decide_recording(&hash, true).await;
    check_gate_invariant(&server.ledger_all(&sid).await);
    let last = last_decision(&server, &sid, &karim.id).await;
    assert_gate(&server, &session, "Claire Martin", last == Some(true)).await;
}

/// Joins, replacements, grants and withdrawals from several tabs of the
/// same people, interleaved; then the invariant is checked over the whole
/// ledger, and the gate's final state against everyone's last decision.
#[tokio::test]
async fn the_gate_follows_the_ledger_under_interleaved_tabs() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let hash = server
        .consent_hash(&session.people[0].link.token, "recording")
        .await;
    let mut watcher = server.join(&session, "Claire Martin").await;
    watcher.decide_recording(&hash, true).await;
    let mut tabs: HashMap<&str, Vec<Client>> = HashMap::new();
    for name in CHURN {
        let mut tab = server.join(&session, name).await;
        tab.decide_recording(&hash, true).await;
        tabs.entry(name).or_default().push(tab);
    }
    watcher
        .send_json(&json!({"type": "recording", "armed": true}))
        .await;
    watcher
        .recording_state("active", |r| r["active"] == true)
        .await;

    let mut rng = XorShift(0x5eed_cafe_f00d_0001);
    let rounds = 40;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for _ in 0..rounds {
        if tokio::time::Instant::now() > deadline {
            break;
        }
        let name = CHURN[rng.below(CHURN.len())];
        let token = person(&session, name).link.token.clone();
        let list = tabs.get(name).expect("tabs");
        // Mostly the tab still open (the newest), sometimes one replaced
        // already, whose decision may not be read at all.
        let on = if rng.below(3) > 0 {
            list.last().expect("a tab").sender()
        } else {
            list[rng.below(list.len())].sender()
        };
        let granted = rng.below(3) == 0;
        let decision = json!({
            "type": "consent", "consent": "recording", "granted": granted, "text_sha256": hash,
        });
        // A new tab and a decision on an older one, crossing, either one
        // first: a join takes a few milliseconds, less once the link is
        // known, so which wins depends on both delays.
        let delay = Duration::from_micros(rng.below(4_000) as u64);
        let (connect_after, decide_after) = if rng.below(2) == 0 {
            (delay, Duration::ZERO)
        } else {
            (Duration::ZERO, delay)
        };
        let (new_tab, ()) = tokio::join!(
            async {
                tokio::time::sleep(connect_after).await;
                server.connect(&sid, &token).await
            },
            async {
                tokio::time::sleep(decide_after).await;
                // A replaced tab may be closed already: that is one of the races.
                let _ = on.try_send(Message::text(decision.to_string())).await;
            }
        );
        let new_tab = new_tab.expect("a new tab joins");
        let list = tabs.get_mut(name).expect("tabs");
        list.push(new_tab);
        // Older tabs were replaced; keep the last few to speak from.
        if list.len() > 3 {
            list.remove(0);
        }
        // Sometimes the newest tab grants again, so the gate can reopen.
        if rng.below(2) == 0 {
            let newest = list.last_mut().expect("a tab");
            newest.decide_recording(&hash, true).await;
        }
    }
    // Settle: the watcher's decision is written after every decision
    // above that was taken at all.
    tokio::time::sleep(Duration::from_millis(200)).await;
    watcher.decide_recording(&hash, true).await;

    let entries = server.ledger_all(&sid).await;
    let (starts, decisions) = check_gate_invariant(&entries);
    assert!(
        starts >= 2,
        "the gate never reopened ({starts} starts, {decisions} decisions): the test tried nothing"
    );
    assert!(decisions >= rounds / 2, "too few decisions: {decisions}");

    // The gate now matches everyone's last decision in the log.
    let everyone_grants = {
        let mut all = true;
        for (name, _) in PEOPLE {
            let id = &person(&session, name).id;
            all &= last_decision(&server, &sid, id).await == Some(true);
        }
        all
    };
    assert_gate(&server, &session, "Claire Martin", everyone_grants).await;
}

/// Checks, in log order, that every `recording_started` lists only people
/// whose latest recorded decision is a grant, and that everyone connected
/// at that point (by the log's openings and closings) is among them or
/// grants too. Returns the number of starts and of decisions seen.
fn check_gate_invariant(entries: &[Value]) -> (usize, usize) {
    let mut latest: BTreeMap<String, bool> = BTreeMap::new();
    let mut open: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let (mut starts, mut decisions) = (0, 0);
    for e in entries {
        let actor = e["actor"].as_str().unwrap_or_default().to_owned();
        let p = &e["payload"];
        match e["kind"].as_str().unwrap_or_default() {
            "consent" if p["consent"] == "recording" => {
                decisions += 1;
                latest.insert(actor, p["granted"] == true);
            }
            "connection_opened" => {
                let c = p["connection_id"].as_str().unwrap_or_default().to_owned();
                open.entry(actor).or_default().insert(c);
            }
            "connection_closed" => {
                let c = p["connection_id"].as_str().unwrap_or_default();
                if let Some(set) = open.get_mut(&actor) {
                    set.remove(c);
                }
            }
            "recording_started" => {
                starts += 1;
                let listed: Vec<&str> = p["participants"]
                    .as_array()
                    .expect("participants")
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect();
                for id in &listed {
                    assert_eq!(
                        latest.get(*id),
                        Some(&true),
                        "entry {}: recording started with {id}, whose latest recorded decision \
                         is not a grant",
                        e["seq"]
                    );
                }
            }
            _ => {}
        }
    }
    (starts, decisions)
}

async fn last_decision(server: &TestServer, sid: &str, id: &str) -> Option<bool> {
    server
        .ledger_entries(sid, "consent")
        .await
        .iter()
        .filter(|e| e["actor"] == id && e["payload"]["consent"] == "recording")
        .max_by_key(|e| e["seq"].as_u64())
        .map(|e| e["payload"]["granted"] == true)
}

/// Whether Karim's withdrawal was written (the old tab may have been
/// closed before its reader took the message).
async fn wait_for_withdrawal(server: &TestServer, sid: &str, id: &str) -> bool {
    for _ in 0..20 {
        let found = server
            .ledger_entries(sid, "consent")
            .await
            .iter()
            .any(|e| e["actor"] == id && e["payload"]["granted"] == false);
        if found {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Asserts that the gate settles as `active` (a segment being started
/// shows inactive until its start is durable), looking through the
/// welcome of fresh tabs of the facilitator `name`, who grants: their
/// arrival changes nothing.
async fn assert_gate(server: &TestServer, session: &SessionView, name: &str, active: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = server.join(session, name).await.welcome["recording"].clone();
        if seen["active"] == active {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gate should be {}: {seen}",
            if active { "open" } else { "closed" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn live_session(
    app: &cadre_server::App,
    sid: &str,
) -> (cadre_protocol::signalling::SessionInfo, Schedule) {
    let s = sid.to_owned();
    let (session, facilitators) = app
        .catalog()
        .run(move |c| Ok((c.session(&s)?, c.facilitators(&s)?)))
        .await
        .expect("the session");
    let schedule = Schedule {
        planned_start: session.planned_start.timestamp_millis(),
        planned_end: session.planned_end.timestamp_millis(),
        time_zone: session.time_zone.name().to_owned(),
    };
    (
        cadre_server::app::session_info(&session, facilitators),
        schedule,
    )
}

/// A small deterministic generator: the interleavings are the same on
/// every run, and a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
