//! `client-web/wire.d.ts` checked against the Rust types it mirrors, so a
//! field that exists on one side only fails here rather than in a browser.
//!
//! One value of every client and server message variant, of the REST bodies
//! the web client reads and of the ledger entry it parses, is built from the
//! Rust types, serialised, and written as typed constants into a TypeScript
//! file beside a copy of `wire.d.ts`; `tsc --noEmit --strict` then checks it:
//!
//! - every value is built twice, once with each `Option` filled and each list
//!   non-empty (a field only the Rust side has is an excess property), once
//!   bare (a field the TypeScript side requires but the server may omit is a
//!   missing property);
//! - for the filled values, the keys of each object equal the keys of its
//!   TypeScript type (an optional field only the TypeScript side has fails);
//! - the string unions (`LeaveReason`, `Score`…) and the message `type` tags
//!   list exactly the Rust variants (serde names them, so a variant added to
//!   a Rust enum is found without this file knowing it).
//!
//! Opaque payloads (`data` of a relayed signal, an entry's `payload`) are
//! the server's business not to look into, and are not compared.
//!
//! Needs the TypeScript compiler of the browser suite:
//! `cd tests/browser && npm ci` (scripts/test.sh does it before `cargo test`).

use cadre_protocol::action::{ActionChange, ActionChangeKind, ActionRef};
use cadre_protocol::api::{
    Consents, CourseEvent, EquipmentAnswer, EquipmentCheck, EquipmentOffer, EvidenceNotice, Lobby,
    NamedAttendance, NamedHalfDay, PlayableFile, RecordingFile, RecordingSegment, Recordings,
    SponsorHalfDay, SponsorSession, SponsorTotals, SponsorView,
};
use cadre_protocol::classroom::{ChatLine, HandChange, Poll, RaisedHand, Reaction};
use cadre_protocol::consent::ConsentText;
use cadre_protocol::difficulties::{Difficulty, DifficultyStatus};
use cadre_protocol::evidence::Entry;
use cadre_protocol::evidence::consent::{RECORDING, SPONSOR_SHARE};
use cadre_protocol::proof::Consistency;
use cadre_protocol::quality::{
    Alert, CONNECTION_STATES, ConnectionStats, Figures, ParticipantQuality, PeerStats, Presence,
    Score,
};
use cadre_protocol::questionnaire::{InvitationLink, Question, QuestionKind, QuestionnaireForm};
use cadre_protocol::quiz::{
    NewQuizQuestion, Quiz, QuizMine, QuizQuestion, QuizResult, QuizResults,
};
use cadre_protocol::screen::{ScreenShare, ShareChange};
use cadre_protocol::signalling::{
    CameraView, ClientMessage, ControlAction, ForwardSide, IcePolicy, IceServer, LeaveReason, Me,
    MediaMode, MediaRoute, Opaque, Peer, RecordingStatus, ServerMessage, SessionInfo, SlotStatus,
    StateNotice, VideoQuality,
};
use cadre_protocol::{ErrorBody, ErrorCode, Role, SessionKind, SessionState};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Fields whose content is opaque to the protocol: typed loosely on both sides.
// `args` is a map of a refusal's values, keyed by what its sentence names.
const OPAQUE: &[&str] = &["data", "payload", "args"];

#[test]
fn wire_d_ts_matches_the_rust_types() {
    let mut check = Check::default();

    for full in [true, false] {
        for message in server_messages(full) {
            check.message("ServerMessage", &message, full);
        }
        for message in client_messages(full) {
            check.message("ClientMessage", &message, full);
        }
        check.value("Lobby", &lobby(full), full);
        check.value("SponsorView", &sponsor_view(full), full);
        check.value("Recordings", &recordings(full), full);
        check.value("Difficulty", &difficulty(full), full);
        check.value("Consistency", &consistency(full), full);
        check.value("Entry", &entry(full), full);
        check.value("QuestionnaireForm", &questionnaire_form(full), full);
        check.value(
            "EquipmentCheck",
            &EquipmentCheck {
                session: session_info(full),
                you: me(),
                ice_servers: list(
                    full,
                    IceServer {
                        urls: vec!["turn:cadre.example.org:3478?transport=udp".into()],
                        username: some(full, "1767355200:p_1".into()),
                        credential: some(full, "c2VjcmV0".into()),
                    },
                ),
                ice_policy: IcePolicy::All,
                offer_path: "/api/equipment/offer".into(),
            },
            full,
        );
        check.value(
            "EquipmentOffer",
            &EquipmentOffer { sdp: "v=0".into() },
            full,
        );
        check.value(
            "EquipmentAnswer",
            &EquipmentAnswer {
                sdp: "v=0".into(),
                lifetime_ms: 45_000,
            },
            full,
        );
        check.value(
            "InvitationLink",
            &InvitationLink {
                title: "Votre avis".into(),
                about: "Gestion de projet".into(),
                url: "https://cadre.example.org/q/eyJ".into(),
                expires_at: "2027-01-02T12:00:00Z".into(),
            },
            full,
        );
        let error = ErrorBody::new(ErrorCode::Conflict, "x is already the e-mail of Sophie");
        let error = if full {
            error.because(
                cadre_protocol::Refusal::AlreadyEnrolled,
                &[("email", "x"), ("name", "Sophie")],
            )
        } else {
            error
        };
        check.value("ErrorBody", &error, full);
    }

    // Every Rust variant has a value above, and the TypeScript tags are the Rust ones.
    for (union, all, seen) in [
        (
            "ServerMessage",
            variants::<ServerMessage>(),
            tags(&server_messages(true)),
        ),
        (
            "ClientMessage",
            variants::<ClientMessage>(),
            tags(&client_messages(true)),
        ),
    ] {
        let missing: Vec<_> = all.difference(&seen).collect();
        assert!(
            missing.is_empty(),
            "wire_types.rs builds no {union} value for {missing:?}: add one"
        );
        check.union(&format!("{union}[\"type\"]"), &all);
    }
    check.union("Role", &variants::<Role>());
    check.union("SessionKind", &variants::<SessionKind>());
    check.union("SessionState", &variants::<SessionState>());
    check.union("IcePolicy", &variants::<IcePolicy>());
    check.union("LeaveReason", &variants::<LeaveReason>());
    check.union("ControlAction", &variants::<ControlAction>());
    check.union("Score", &variants::<Score>());
    check.union("DifficultyStatus", &variants::<DifficultyStatus>());
    check.union("ActionChangeKind", &variants::<ActionChangeKind>());
    check.union("MediaMode", &variants::<MediaMode>());
    check.union("MediaRoute", &variants::<MediaRoute>());
    check.union("ForwardSide", &variants::<ForwardSide>());
    check.union("VideoQuality", &variants::<VideoQuality>());
    check.union("Reaction", &variants::<Reaction>());
    check.union("ShareChange", &variants::<ShareChange>());
    check.union("QuestionKind", &variants::<QuestionKind>());
    check.union("Refusal", &variants::<cadre_protocol::Refusal>());
    check.union(
        "ConsentKind",
        &[RECORDING, SPONSOR_SHARE].map(String::from).into(),
    );
    check.union(
        "PeerConnectionSummary",
        &CONNECTION_STATES.map(String::from).into(),
    );

    check.run();
}

// ---------------------------------------------------------------------------
// The TypeScript file and the compiler

/// The TypeScript checks, one constant per line (so an error's line says which).
#[derive(Default)]
struct Check {
    lines: Vec<String>,
}

impl Check {
    fn push(&mut self, what: &str, line: String) {
        self.lines.push(format!("// {what}"));
        self.lines.push(line);
    }

    /// A message of the tagged union `union`: assignable to it, and (filled)
    /// with exactly the keys of the member its `type` names.
    fn message(&mut self, union: &str, message: &impl Serialize, full: bool) {
        let json = to_json(message);
        let tag = json["type"].as_str().expect("a tagged message").to_owned();
        let member = format!("Extract<W.{union}, {{ type: {tag:?} }}>");
        self.typed(
            &format!("{union} {tag:?}"),
            &format!("W.{union}"),
            &member,
            &json,
            full,
        );
    }

    /// A body of type `W.{ty}`, likewise.
    fn value(&mut self, ty: &str, value: &impl Serialize, full: bool) {
        let json = to_json(value);
        self.typed(ty, &format!("W.{ty}"), &format!("W.{ty}"), &json, full);
    }

    fn typed(&mut self, what: &str, declared: &str, exact: &str, json: &Value, full: bool) {
        let n = self.lines.len();
        let how = if full { "options filled" } else { "bare" };
        self.push(
            &format!("{what}, {how}"),
            format!("export const v{n}: {declared} = {json};"),
        );
        if full {
            self.keys(what, exact.to_owned(), json);
        }
    }

    /// Each object in `json` has exactly the keys of its TypeScript type `ty`.
    fn keys(&mut self, what: &str, ty: String, json: &Value) {
        match json {
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().map(|k| format!("{k:?}")).collect();
                let n = self.lines.len();
                self.push(
                    &format!("{what}: the keys of {ty}"),
                    format!(
                        "export const k{n}: NoDifference = {{}} as KeyDifference<{ty}, {}>;",
                        keys.join(" | ")
                    ),
                );
                for (key, child) in map {
                    if !OPAQUE.contains(&key.as_str()) {
                        self.keys(what, format!("NonNullable<{ty}>[{key:?}]"), child);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(first) = items.first() {
                    self.keys(what, format!("NonNullable<{ty}>[number]"), first);
                }
            }
            _ => {}
        }
    }

    /// The string union `W.{ty}` is exactly `names`.
    fn union(&mut self, ty: &str, names: &BTreeSet<String>) {
        let fields: Vec<String> = names.iter().map(|v| format!("{v:?}: true")).collect();
        let n = self.lines.len();
        self.push(
            &format!("the members of {ty} are the Rust variants"),
            format!(
                "export const u{n}: Record<W.{ty}, true> = {{ {} }};",
                fields.join(", ")
            ),
        );
    }

    /// Writes the file beside a copy of `wire.d.ts` and runs `tsc` on it.
    fn run(&self) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let tsc = tsc(root);
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(
            root.join("../client-web/wire.d.ts"),
            dir.path().join("wire.d.ts"),
        )
        .expect("copy client-web/wire.d.ts");
        let mut text = String::from(
            "// Generated by tests/tests/suite/wire_types.rs.\n\
             import type * as W from \"./wire.js\";\n\
             type KeyDifference<T, K extends PropertyKey> =\n  \
             { ts_only: Exclude<keyof NonNullable<T>, K>; rust_only: Exclude<K, keyof NonNullable<T>> };\n\
             type NoDifference = { ts_only: never; rust_only: never };\n",
        );
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        let file = dir.path().join("wire_check.ts");
        std::fs::write(&file, &text).expect("write wire_check.ts");
        let output = Command::new(&tsc)
            .current_dir(dir.path())
            .args([
                "--noEmit",
                "--strict",
                "--target",
                "es2022",
                "--module",
                "es2022",
                "--moduleResolution",
                "bundler",
                "--lib",
                "es2022,dom",
                "wire_check.ts",
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", tsc.display()));
        if !output.status.success() {
            let report = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            panic!(
                "client-web/wire.d.ts does not match the Rust types:\n{}",
                explain(&report, &text)
            );
        }
    }
}

/// tsc's errors, each followed by the comment saying what the checked line is.
fn explain(report: &str, text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for error in report.lines() {
        out.push_str(error);
        out.push('\n');
        let at = error
            .strip_prefix("wire_check.ts(")
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(comment) = at.and_then(|n| lines.get(n.wrapping_sub(2))) {
            out.push_str(&format!(
                "    checking: {}\n",
                comment.trim_start_matches("// ")
            ));
        }
    }
    out
}

/// The browser suite's TypeScript compiler; a clear failure when it is not installed.
fn tsc(root: &Path) -> PathBuf {
    let tsc = root.join("browser/node_modules/.bin/tsc");
    assert!(
        tsc.exists(),
        "{} is missing: this test checks client-web/wire.d.ts with the browser suite's TypeScript; \
         install it with `npm ci` in tests/browser (scripts/test.sh does it before `cargo test`)",
        tsc.display()
    );
    tsc
}

fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("serialises")
}

/// The wire names of a serde enum's variants, from the error serde gives for
/// a name it does not know ("unknown variant `x`, expected one of `a`, `b`").
fn variants<T: DeserializeOwned>() -> BTreeSet<String> {
    let probe = "\u{1}";
    // A unit enum is a string; a tagged one an object with `type`.
    let error = [json!(probe), json!({ "type": probe })]
        .into_iter()
        .filter_map(|value| serde_json::from_value::<T>(value).err())
        .map(|e| e.to_string())
        .find(|e| e.contains("unknown variant"))
        .expect("an unknown variant is refused as such");
    let list = error
        .split_once("expected one of ")
        .or_else(|| error.split_once("expected "))
        .unwrap_or_else(|| panic!("serde's error does not list the variants: {error}"))
        .1;
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn tags(messages: &[impl Serialize]) -> BTreeSet<String> {
    messages
        .iter()
        .map(|m| to_json(m)["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Values: `full` fills every `Option` and list, otherwise they are left empty

fn some<T>(full: bool, value: T) -> Option<T> {
    full.then_some(value)
}

fn list<T>(full: bool, value: T) -> Vec<T> {
    if full { vec![value] } else { Vec::new() }
}

fn opaque(value: Value) -> Opaque {
    Opaque::from_value(&value)
}

fn me() -> Me {
    Me {
        id: "p_karim".into(),
        name: "Karim Benali".into(),
        role: Role::Participant,
    }
}

fn peer() -> Peer {
    Peer {
        id: "p_claire".into(),
        name: "Claire Martin".into(),
        role: Role::Facilitator,
        connection_id: "c_1".into(),
        polite: true,
        camera: true,
        microphone: false,
    }
}

fn session_info(full: bool) -> SessionInfo {
    SessionInfo {
        id: "s_1".into(),
        title: "Gestion de projet".into(),
        kind: SessionKind::Formation,
        organisation: "Organisme".into(),
        planned_start: "2026-12-03T08:00:00Z".into(),
        planned_end: "2026-12-03T11:30:00Z".into(),
        time_zone: "Europe/Paris".into(),
        facilitators: vec!["Claire Martin".into()],
        state: SessionState::Running,
        action: some(
            full,
            ActionRef {
                id: "a_1".into(),
                title: "Gestion de projet agile".into(),
            },
        ),
        media: some(full, MediaMode::Auto),
    }
}

fn consents(full: bool) -> Consents {
    Consents {
        recording: some(full, true),
        sponsor_share: some(full, false),
    }
}

fn notice(full: bool) -> StateNotice {
    StateNotice {
        state: SessionState::Postponed,
        action: ControlAction::Postpone,
        reason: "Coupure réseau".into(),
        by: "Claire Martin".into(),
        at: 1_796_284_800_000,
        planned_start: some(full, "2026-12-10T08:00:00Z".into()),
        planned_end: some(full, "2026-12-10T11:30:00Z".into()),
    }
}

fn recording_status(full: bool) -> RecordingStatus {
    RecordingStatus {
        armed: true,
        active: full,
        segment: some(full, 1),
        since: some(full, 1_796_284_800_000),
        missing: some(full, 0),
        failure: some(full, "storage_full".into()),
    }
}

fn quality(full: bool) -> ParticipantQuality {
    ParticipantQuality {
        id: "p_karim".into(),
        score: Score::Poor,
        since: 1_796_284_800_000,
        figures: Figures {
            rtt_ms: some(full, 120.0),
            loss: some(full, 0.02),
            jitter_ms: some(full, 8.0),
            in_kbps: some(full, 900.0),
            out_kbps: some(full, 700.0),
            fps: some(full, 24.0),
        },
        presence: Presence {
            visible: true,
            focused: false,
            camera: true,
            hidden_since: some(full, 1_796_284_700_000),
            unfocused_since: some(full, 1_796_284_700_000),
        },
        reasons: list(full, "rtt_high".into()),
    }
}

fn difficulty(full: bool) -> Difficulty {
    Difficulty {
        id: "r_1".into(),
        session_id: "s_1".into(),
        author: me(),
        text: "Le son coupe.".into(),
        status: DifficultyStatus::Answered,
        created_at: 1_796_284_800_000,
        answer: some(full, "Nous avons relancé le serveur audio.".into()),
        answered_at: some(full, 1_796_288_400_000),
        closed_at: some(full, 1_796_288_500_000),
    }
}

fn server_messages(full: bool) -> Vec<ServerMessage> {
    vec![
        ServerMessage::Welcome {
            protocol: 1,
            connection_id: "c_1".into(),
            you: me(),
            session: session_info(full),
            roster: list(full, peer()),
            ice_servers: list(
                full,
                IceServer {
                    urls: vec!["turn:127.0.0.1:3478".into()],
                    username: some(full, "1796284800:p_karim".into()),
                    credential: some(full, "secret".into()),
                },
            ),
            ice_policy: IcePolicy::Loopback,
            heartbeat_interval_ms: 10_000,
            server_time: 1_796_284_800_000,
            slots: list(
                full,
                SlotStatus {
                    slot: "2026-12-03.am".into(),
                    start: 1_796_284_800_000,
                    end: 1_796_297_400_000,
                    signin_closes_at: some(full, 1_796_286_600_000),
                    signed_at: some(full, 1_796_285_000_000),
                    countersigned_at: some(full, 1_796_285_100_000),
                },
            ),
            consents: consents(full),
            recording: recording_status(full),
            notice: some(full, notice(full)),
            people: list(full, me()),
            media: MediaRoute::Forwarded,
            chat: list(full, chat_line(full)),
            hands: list(full, raised_hand()),
            spotlight: some(full, "p_karim".into()),
            poll: some(full, poll(full)),
            screen: screen_share(full),
            quiz: some(full, quiz(full)),
        },
        ServerMessage::Screen {
            screen: screen_share(full),
            change: ShareChange::Replaced,
            by: "p_claire".into(),
        },
        ServerMessage::Poll { poll: poll(full) },
        ServerMessage::Quiz {
            quiz: Box::new(quiz(full)),
        },
        ServerMessage::Spotlight {
            id: some(full, "p_karim".into()),
            by: "p_claire".into(),
        },
        ServerMessage::Chat {
            line: chat_line(full),
        },
        ServerMessage::Hands {
            raised: list(full, raised_hand()),
            change: HandChange {
                id: "p_karim".into(),
                raised: true,
                by: "p_karim".into(),
            },
        },
        ServerMessage::Reaction {
            id: "p_karim".into(),
            reaction: Reaction::Applause,
            at: 1_796_284_800_000,
        },
        ServerMessage::Muted {
            by: "p_claire".into(),
            everyone: true,
        },
        ServerMessage::UnmuteAsked {
            by: "p_claire".into(),
        },
        ServerMessage::IceServers {
            ice_servers: list(
                full,
                IceServer {
                    urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
                    username: some(full, "1796292000:p_karim".into()),
                    credential: some(full, "T+2dGmf56DA3aCWSJ4oqF/j34Oo=".into()),
                },
            ),
            expires_at: 1_796_292_000_000,
        },
        ServerMessage::PeerJoined { peer: peer() },
        ServerMessage::PeerLeft {
            id: "p_claire".into(),
            reason: LeaveReason::Timeout,
        },
        ServerMessage::PeerMedia {
            id: "p_claire".into(),
            camera: false,
            microphone: true,
        },
        ServerMessage::Signal {
            from: "p_claire".into(),
            data: opaque(json!({ "description": { "type": "offer", "sdp": "v=0" } })),
        },
        ServerMessage::SigninOpen {
            slot: "2026-12-03.am".into(),
            closes_at: 1_796_286_600_000,
        },
        ServerMessage::Signed {
            slot: "2026-12-03.am".into(),
            at: 1_796_285_000_000,
            receipt: some(full, "eyJ.eyJ.sig".into()),
        },
        ServerMessage::Countersigned {
            slot: "2026-12-03.am".into(),
            participant: "p_karim".into(),
            at: 1_796_285_100_000,
        },
        ServerMessage::SigninStatus {
            slot: "2026-12-03.am".into(),
            signed: list(full, ("p_karim".into(), 1_796_285_000_000)),
            countersigned: list(full, "p_karim".into()),
        },
        ServerMessage::Evidence {
            entries: list(full, "{\"v\":1}".into()),
        },
        ServerMessage::EvidenceRecorded {
            entry: "{\"v\":1}".into(),
        },
        ServerMessage::ConsentRecorded {
            consent: RECORDING.into(),
            granted: true,
            at: 1_796_285_000_000,
        },
        ServerMessage::SessionState {
            notice: notice(full),
            participant: some(full, "p_karim".into()),
        },
        ServerMessage::Quality {
            people: list(full, quality(full)),
        },
        ServerMessage::Alert {
            alert: Alert {
                rule: "group_poor".into(),
                message: "La connexion de plusieurs participants est médiocre.".into(),
                people: list(full, quality(full)),
                since: 1_796_284_800_000,
                suggested: "suspend".into(),
                at: 1_796_284_830_000,
            },
        },
        ServerMessage::AlertCleared {
            rule: "group_poor".into(),
            at: 1_796_284_900_000,
        },
        ServerMessage::Difficulty {
            difficulty: difficulty(full),
        },
        ServerMessage::ActionChanged {
            change: action_change(),
        },
        ServerMessage::RecordingState {
            recording: recording_status(full),
        },
        ServerMessage::RecorderSignal {
            segment: 1,
            data: opaque(json!({ "type": "answer", "sdp": "v=0" })),
        },
        ServerMessage::MediaRoute {
            route: MediaRoute::Forwarded,
            at: 1_796_284_800_000,
        },
        ServerMessage::Forward {
            side: ForwardSide::Subscribe,
            data: opaque(json!({ "type": "offer", "sdp": "v=0" })),
        },
        ServerMessage::ForwardFailed {
            side: ForwardSide::Publish,
        },
        ServerMessage::ForwardRefused {
            id: "p_karim".into(),
        },
        ServerMessage::Receipt {
            tree_head: "eyJ.eyJ.sig".into(),
        },
        ServerMessage::HeartbeatAck {
            server_time: 1_796_284_800_000,
        },
        ServerMessage::Error {
            code: ErrorCode::InvalidInput,
            message: "text: must not be empty".into(),
            about: some(full, "report".into()),
        },
        ServerMessage::Closing {
            reason: LeaveReason::Replaced,
            message: "opened in another tab".into(),
        },
    ]
}

fn client_messages(full: bool) -> Vec<ClientMessage> {
    vec![
        ClientMessage::Signal {
            to: "p_claire".into(),
            data: opaque(json!({ "description": { "type": "offer", "sdp": "v=0" } })),
        },
        ClientMessage::Heartbeat {
            client_time: some(full, 1_796_284_800_000),
        },
        ClientMessage::MediaState {
            camera: true,
            microphone: false,
        },
        ClientMessage::Leave,
        ClientMessage::Presence {
            visible: false,
            focused: false,
            client_time: some(full, 1_796_284_800_000),
        },
        ClientMessage::SignIn {
            slot: "2026-12-03.am".into(),
            signature: some(full, vec![vec![[10, 20, 0], [30, 40, 16]]]),
            client_time: some(full, 1_796_284_800_000),
        },
        ClientMessage::OpenSignin,
        ClientMessage::Countersign {
            slot: "2026-12-03.am".into(),
            participant: "p_karim".into(),
        },
        ClientMessage::GetEvidence,
        ClientMessage::Consent {
            consent: SPONSOR_SHARE.into(),
            granted: false,
            text_sha256: "ab".repeat(32),
        },
        ClientMessage::Recording { armed: true },
        ClientMessage::Control {
            action: ControlAction::Remove,
            reason: "Propos déplacés.".into(),
            start: some(full, "2026-12-10T09:00".into()),
            end: some(full, "2026-12-10T12:30".into()),
            participant: some(full, "p_karim".into()),
        },
        ClientMessage::Stats {
            stats: ConnectionStats {
                connection: "connected".into(),
                peers: list(
                    full,
                    PeerStats {
                        peer: "p_claire".into(),
                        rtt_ms: some(full, 40.0),
                        loss: some(full, 0.0),
                        jitter_ms: some(full, 3.0),
                        in_kbps: some(full, 800.0),
                        out_kbps: some(full, 600.0),
                        fps: some(full, 30.0),
                    },
                ),
            },
        },
        ClientMessage::Difficulty {
            text: "Le son coupe.".into(),
        },
        ClientMessage::RecorderSignal {
            segment: 1,
            data: opaque(json!({ "type": "offer", "sdp": "v=0" })),
        },
        ClientMessage::Forward {
            side: ForwardSide::Publish,
            data: opaque(json!({ "type": "offer", "sdp": "v=0" })),
        },
        ClientMessage::ForwardView {
            views: list(
                full,
                CameraView {
                    id: "p_claire".to_owned(),
                    quality: VideoQuality::High,
                },
            ),
        },
        ClientMessage::Chat {
            text: "Bonjour à tous".into(),
            to: some(full, "p_claire".into()),
        },
        ClientMessage::Hand {
            raised: false,
            participant: some(full, "p_karim".into()),
        },
        ClientMessage::React {
            reaction: Reaction::Question,
        },
        ClientMessage::Mute {
            participant: some(full, "p_karim".into()),
        },
        ClientMessage::AskUnmute {
            participant: "p_karim".into(),
        },
        ClientMessage::Spotlight {
            participant: some(full, "p_karim".into()),
        },
        ClientMessage::Poll {
            question: "Une pause ?".into(),
            choices: vec!["Oui".into(), "Non".into()],
        },
        ClientMessage::Answer { poll: 1, choice: 0 },
        ClientMessage::ClosePoll { poll: 1 },
        ClientMessage::Share {
            sharing: true,
            audio: full,
            participant: some(full, "p_karim".into()),
        },
        ClientMessage::SharePolicy {
            participant: some(full, "p_karim".into()),
            allowed: some(full, true),
            takeover: some(full, true),
        },
        ClientMessage::Quiz {
            title: "Module 2".into(),
            questions: vec![NewQuizQuestion {
                text: "Quel outil ?".into(),
                choices: vec!["Le backlog".into(), "Le burndown".into()],
                multiple: full,
                correct: vec![0],
            }],
        },
        ClientMessage::SubmitQuiz {
            quiz: "q_1".into(),
            answers: vec![vec![0]],
        },
        ClientMessage::CloseQuiz { quiz: "q_1".into() },
    ]
}

fn screen_share(full: bool) -> ScreenShare {
    ScreenShare {
        sharer: some(full, "p_claire".into()),
        audio: full,
        since: some(full, 1_796_284_800_000),
        allowed: list(full, "p_karim".into()),
        takeover: full,
    }
}

fn questionnaire_form(full: bool) -> QuestionnaireForm {
    QuestionnaireForm {
        title: "Votre avis".into(),
        questions: vec![Question {
            text: "Le rythme était".into(),
            kind: if full {
                QuestionKind::Choice
            } else {
                QuestionKind::Scale
            },
            choices: list(full, "adapté".into()),
        }],
        about: "Gestion de projet".into(),
        answered: full,
        expires_at: "2027-01-02T12:00:00Z".into(),
    }
}

fn quiz(full: bool) -> Quiz {
    Quiz {
        id: "q_1".into(),
        title: "Module 2".into(),
        questions: vec![QuizQuestion {
            text: "Quel outil ?".into(),
            choices: vec!["Le backlog".into(), "Le burndown".into()],
            multiple: false,
        }],
        by: "p_claire".into(),
        open: false,
        submitted: 1,
        mine: some(
            full,
            QuizMine {
                answers: vec![vec![0]],
                score: some(full, 1),
            },
        ),
        correct: some(full, vec![vec![0]]),
        results: some(
            full,
            QuizResults {
                people: vec![QuizResult {
                    id: "p_karim".into(),
                    name: "Karim Benali".into(),
                    answers: vec![vec![0]],
                    score: 1,
                }],
                right: vec![1],
                mean: some(full, 1.0),
            },
        ),
    }
}

fn chat_line(full: bool) -> ChatLine {
    ChatLine {
        seq: 1,
        from: "p_karim".into(),
        name: "Karim Benali".into(),
        text: "Bonjour à tous".into(),
        at: 1_796_284_800_000,
        to: some(full, "p_claire".into()),
    }
}

fn poll(full: bool) -> Poll {
    Poll {
        id: 1,
        question: "Une pause ?".into(),
        choices: vec!["Oui".into(), "Non".into()],
        by: "p_claire".into(),
        open: false,
        counts: some(full, vec![2, 1]),
        answered: 3,
        you_answered: true,
    }
}

fn raised_hand() -> RaisedHand {
    RaisedHand {
        id: "p_karim".into(),
        at: 1_796_284_800_000,
    }
}

fn lobby(full: bool) -> Lobby {
    Lobby {
        session: session_info(full),
        you: me(),
        ws_path: "/ws/s_1".into(),
        server_time: 1_796_284_800_000,
        consent_texts: list(
            full,
            ConsentText {
                consent: RECORDING.into(),
                lang: "fr".into(),
                text: "J'accepte que cette séance soit enregistrée.".into(),
                sha256: "ab".repeat(32),
            },
        ),
        consents: consents(full),
        removal: some(
            full,
            StateNotice {
                state: SessionState::Running,
                action: ControlAction::Remove,
                reason: "Propos déplacés".into(),
                by: "Claire Martin".into(),
                at: 1_796_284_900_000,
                planned_start: some(full, "2026-12-10T08:00:00Z".into()),
                planned_end: some(full, "2026-12-10T11:30:00Z".into()),
            },
        ),
        action_changes: list(full, action_change()),
        notice: some(
            full,
            EvidenceNotice {
                evidence_kept_years: 3,
                recording_retention_days: 30,
                contact: some(full, "dpo@example.org".into()),
                media: MediaMode::Auto,
            },
        ),
        full: some(full, 30),
    }
}

fn action_change() -> ActionChange {
    ActionChange {
        id: "c_1".into(),
        action_id: "a_1".into(),
        beneficiary_id: "b_1".into(),
        kind: ActionChangeKind::Paused,
        reason: "Congé maladie".into(),
        by: "organiser".into(),
        at: "2026-12-03T08:00:00.000Z".into(),
    }
}

fn sponsor_view(full: bool) -> SponsorView {
    SponsorView {
        session: SponsorSession {
            title: "Gestion de projet".into(),
            kind: SessionKind::Intervention,
            organisation: "Organisme".into(),
            sponsor: some(full, "Entreprise cliente".into()),
            planned_start: "2026-12-03T08:00:00Z".into(),
            planned_end: "2026-12-03T11:30:00Z".into(),
            time_zone: "Europe/Paris".into(),
        },
        generated_at: 1_796_371_200_000,
        expires_at: 1_798_963_200_000,
        half_days: list(
            full,
            SponsorHalfDay {
                slot: "2026-12-03.am".into(),
                planned_start: 1_796_284_800_000,
                planned_end: 1_796_297_400_000,
                expected: 4,
                present: 3,
                signed: 3,
                average_completion: 0.9,
            },
        ),
        totals: SponsorTotals {
            expected: 4,
            average_completion: 0.8,
        },
        named: list(
            full,
            NamedAttendance {
                name: "Nadia Leroy".into(),
                role: Role::Participant,
                half_days: list(
                    full,
                    NamedHalfDay {
                        slot: "2026-12-03.am".into(),
                        present_seconds: 12_300,
                        completion: 0.97,
                        signed: true,
                    },
                ),
                completion: 0.95,
            },
        ),
        anonymous_count: 2,
        withheld: some(full, "aggregates are withheld".into()),
        course: list(
            full,
            CourseEvent {
                action: ControlAction::Postpone,
                at: 1_796_290_000_000,
                planned_start: some(full, "2026-12-10T08:00:00Z".into()),
                planned_end: some(full, "2026-12-10T11:30:00Z".into()),
            },
        ),
    }
}

fn recordings(full: bool) -> Recordings {
    Recordings {
        segments: list(
            full,
            RecordingSegment {
                segment: 1,
                started_at: 1_796_284_800_000,
                closed_at: some(full, 1_796_284_900_000),
                reason: some(full, "consent_withdrawn".into()),
                participants: list(full, "p_karim".into()),
                purged_at: some(full, 1_798_963_200_000),
                files: list(
                    full,
                    RecordingFile {
                        participant: "p_karim".into(),
                        track: "video".into(),
                        file: "p_karim-video.ivf".into(),
                        bytes: 123_456,
                        sha256: "cd".repeat(32),
                        origin_at: some(full, 1_796_284_800_100),
                        url: some(
                            full,
                            "/api/sessions/s_1/recordings/1/p_karim-video.ivf".into(),
                        ),
                    },
                ),
                playable: list(
                    full,
                    PlayableFile {
                        kind: "person".into(),
                        participant: some(full, "p_karim".into()),
                        source: some(full, "camera".into()),
                        publication: some(full, 1),
                        file: "p_karim.webm".into(),
                        bytes: 130_000,
                        sha256: "ab".repeat(32),
                        duration_ms: some(full, 60_000),
                        url: some(full, "/api/sessions/s_1/recordings/1/p_karim.webm".into()),
                    },
                ),
                playable_status: some(full, "ready".into()),
                unavailable: list(full, "p_anne.webm".into()),
            },
        ),
    }
}

fn consistency(full: bool) -> Consistency {
    Consistency {
        typ: "cadre.consistency".into(),
        v: 1,
        sid: "s_1".into(),
        from: 3,
        to: 8,
        path: list(full, "ef".repeat(32)),
    }
}

fn entry(full: bool) -> Entry {
    Entry {
        v: 1,
        sid: "s_1".into(),
        seq: 7,
        ts: 1_796_284_800_000,
        kind: "visibility".into(),
        actor: "p_karim".into(),
        payload: serde_json::value::RawValue::from_string("{\"visible\":false}".into())
            .expect("raw JSON"),
        client_ts: some(full, 1_796_284_799_900),
        salt: "01".repeat(16),
    }
}
