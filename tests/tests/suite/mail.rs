//! Invitations and reminders by e-mail, through a real SMTP server
//! (Debian's aiosmtpd, started by each test on loopback): what people
//! receive (their own link, which joins; the equipment check; the dates in
//! the session's zone; the evidence notice; the `.ics`), what the queue
//! shows, and what happens when the SMTP server is down, comes back after
//! a restart of cadre, or refuses a recipient for good. The join link is
//! never in the queue's table, in the API's view of it, or in the logs.

use crate::reports::cadre_binary;
use cadre_protocol::Role;
use cadre_protocol::api::SessionView;
use cadre_server::Config;
use cadre_server::mail::MailSettings;
use cadre_tests::smtp::{TestSmtp, free_port, smtp_url};
use cadre_tests::{TestServer, WAIT, person, session_body};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const FROM: &str = "Organisme de formation <noreply@cadre.test>";

/// The mail settings of these tests: quick polls and retries, no reminder
/// unless a test asks.
fn mail(url: String, reminders: Vec<Duration>) -> impl FnOnce(&mut Config) {
    move |config| {
        let mut m = MailSettings::new(url, FROM);
        m.reminders = reminders;
        m.poll = Duration::from_millis(200);
        m.schedule_every = Duration::from_millis(200);
        m.retry_first = Duration::from_millis(100);
        m.retry_cap = Duration::from_millis(400);
        m.timeout = Duration::from_secs(5);
        config.mail = Some(m);
    }
}

/// Claire (facilitator), Karim and Sophie; `emails` gives their addresses
/// in that order (none: no address).
async fn three_people(server: &TestServer, zone: &str, emails: [Option<&str>; 3]) -> SessionView {
    let mut body = session_body(&[
        ("Claire Martin", Role::Facilitator),
        ("Karim Benali", Role::Participant),
        ("Sophie Dubois", Role::Participant),
    ]);
    body.time_zone = Some(zone.to_owned());
    for (p, email) in body.people.iter_mut().zip(emails) {
        p.email = email.map(str::to_owned);
    }
    server.create_session_body(&body).await
}

async fn mails(server: &TestServer, sid: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/api/sessions/{sid}/mails")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("a list of mails").clone()
}

/// Waits (bounded) until the session's mails satisfy `done`, described by
/// `what`; returns them.
async fn wait_mails(
    server: &TestServer,
    sid: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    loop {
        let got = mails(server, sid).await;
        if done(&got) {
            return got;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("waited {:?} for {what}; the mails are {got:#?}", WAIT * 2);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_in(state: &'static str, count: usize) -> impl Fn(&[Value]) -> bool {
    move |ms| ms.len() == count && ms.iter().all(|m| m["state"] == state)
}

async fn invite(server: &TestServer, sid: &str, body: Value) -> (StatusCode, Value) {
    server
        .post(&format!("/api/sessions/{sid}/invitations"), &body)
        .await
}

fn text_of(m: &Value) -> &str {
    m["text"].as_str().expect("a plain text part")
}

fn message_to<'a>(messages: &'a [Value], email: &str) -> &'a Value {
    messages
        .iter()
        .find(|m| m["rcpt_tos"][0] == email)
        .unwrap_or_else(|| panic!("no message to {email} in {messages:#?}"))
}

/// The `.ics` attached to a message, unfolded, checked to be well formed:
/// one VCALENDAR holding one VEVENT, every line `NAME[;PARAMS]:VALUE`.
fn ics_of(m: &Value) -> String {
    let attachments = m["attachments"].as_array().expect("attachments");
    let ics = attachments
        .iter()
        .find(|a| a["filename"] == "invitation.ics")
        .unwrap_or_else(|| panic!("no invitation.ics attached: {attachments:#?}"));
    // The part's method is the calendar's: an invitation, or a
    // cancellation's withdrawal.
    let kind = ics["content_type"].as_str().unwrap_or_default();
    let method = kind
        .replace('"', "")
        .split("method=")
        .nth(1)
        .and_then(|m| m.split(';').next())
        .unwrap_or_default()
        .to_owned();
    assert!(
        kind.starts_with("text/calendar") && ["REQUEST", "CANCEL"].contains(&method.as_str()),
        "{kind}"
    );
    let text = ics["content"]
        .as_str()
        .expect("the calendar's text")
        .replace("\r\n ", "")
        .replace("\n ", "");
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.first(), Some(&"BEGIN:VCALENDAR"), "{text}");
    assert!(
        lines.contains(&format!("METHOD:{method}").as_str()),
        "{kind} but {text}"
    );
    assert_eq!(lines.last(), Some(&"END:VCALENDAR"), "{text}");
    let mut depth = 0i32;
    for line in &lines {
        let (name, _) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("not a content line: {line:?}"));
        let name = name.split(';').next().unwrap_or_default();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "bad property name in {line:?}"
        );
        if name == "BEGIN" {
            depth += 1;
        } else if name == "END" {
            depth -= 1;
        }
        assert!(depth >= 0, "END before BEGIN at {line:?}");
    }
    assert_eq!(depth, 0, "unbalanced calendar: {text}");
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 1, "{text}");
    text
}

fn ics_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn planned(view: &SessionView) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("an RFC 3339 time")
            .with_timezone(&chrono::Utc)
    };
    (parse(&view.planned_start), parse(&view.planned_end))
}

/// `cadre serve` (the real binary) on a data directory, with JSON logs.
struct Serve {
    child: std::process::Child,
    log: Option<std::thread::JoinHandle<Vec<String>>>,
    url: String,
}

impl Serve {
    /// Starts it with `args` after the usual ones and `env` set; returns
    /// once it printed its ready line.
    fn start(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
        use std::io::{BufRead as _, BufReader};
        let mut child = std::process::Command::new(cadre_binary())
            .arg("--data-dir")
            .arg(dir)
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--json-ready",
                "--no-turn",
            ])
            .args(["--log-format", "json", "--organiser-token", ORGANISER_TOKEN])
            .args(args)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start cadre serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        let mut ready = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut ready)
            .expect("the ready line");
        let ready: Value = serde_json::from_str(&ready)
            .unwrap_or_else(|e| panic!("cadre serve is not ready ({e}): {ready:?}"));
        Serve {
            child,
            log: Some(log),
            url: ready["url"].as_str().expect("the url").to_owned(),
        }
    }

    /// Stops it with SIGTERM; returns its log lines.
    fn stop(mut self) -> Vec<String> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        self.log
            .take()
            .expect("the log is read once")
            .join()
            .expect("the log reader")
    }

    /// Creates a session of two people with addresses.
    async fn two_people(&self, emails: [&str; 2]) -> SessionView {
        let mut body = session_body(&[
            ("Amélie Rousseau-Vasseur", Role::Facilitator),
            ("Bertrand Lefebvre-Quintin", Role::Participant),
        ]);
        for (p, email) in body.people.iter_mut().zip(emails) {
            p.email = Some(email.to_owned());
        }
        reqwest::Client::new()
            .post(format!("{}/api/sessions", self.url))
            .bearer_auth(ORGANISER_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("POST /api/sessions")
            .json()
            .await
            .expect("the session")
    }

    /// `GET /api/sessions/{sid}/mails`.
    async fn mails(&self, sid: &str) -> Vec<Value> {
        let list: Value = reqwest::Client::new()
            .get(format!("{}/api/sessions/{sid}/mails", self.url))
            .bearer_auth(ORGANISER_TOKEN)
            .send()
            .await
            .expect("GET mails")
            .json()
            .await
            .expect("JSON");
        list.as_array().expect("a list").clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const ORGANISER_TOKEN: &str = "organiser-token-of-the-mail-test-93b1";

/// Every value of every column of the catalogue's mail table, as text.
fn mails_table(server: &TestServer) -> String {
    let db = rusqlite::Connection::open_with_flags(
        server.data_file("cadre.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the catalogue");
    let mut stmt = db.prepare("SELECT * FROM mails").expect("the mails table");
    let columns = stmt.column_count();
    let mut out = String::new();
    let mut rows = stmt.query([]).expect("read the mails");
    while let Some(row) = rows.next().expect("a row") {
        for i in 0..columns {
            let v: rusqlite::types::Value = row.get(i).expect("a value");
            out.push_str(&format!("{v:?}|"));
        }
        out.push('\n');
    }
    out
}

/// Three people, one without an address: two invitations arrive, each
/// with its own link (which joins), the equipment check, the dates in the
/// session's zone (Tokyo: no daylight saving to guess), the notice and a
/// well-formed `.ics`; the third person is skipped and named. No link is
/// in the queue's table or its view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_reach_each_person_with_their_link_the_dates_and_the_ics() {
    let smtp = TestSmtp::start(free_port()).await;
    let server = TestServer::start_with(mail(smtp.url(), Vec::new())).await;
    let session = three_people(
        &server,
        "Asia/Tokyo",
        [Some("claire@cadre.test"), Some("karim@cadre.test"), None],
    )
    .await;
    let sid = &session.id;
    let (status, queued) = invite(&server, sid, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(
        queued["queued"].as_array().map(Vec::len),
        Some(2),
        "{queued}"
    );
    let sophie = person(&session, "Sophie Dubois");
    assert_eq!(
        queued["skipped"],
        json!([{"person": sophie.id, "name": "Sophie Dubois", "reason": "no_email"}])
    );

    let messages = smtp.wait_messages(2).await;
    assert_eq!(messages.len(), 2);
    let (start, end) = planned(&session);
    let tokyo = chrono::FixedOffset::east_opt(9 * 3600).expect("UTC+9");
    for (name, email) in [
        ("Claire Martin", "claire@cadre.test"),
        ("Karim Benali", "karim@cadre.test"),
    ] {
        let m = message_to(&messages, email);
        let me = person(&session, name);
        let token = &me.link.token;
        let text = text_of(m);
        let html = m["html"].as_str().expect("an HTML part");
        assert!(
            m["from"]
                .as_str()
                .unwrap_or_default()
                .contains("noreply@cadre.test")
        );
        assert!(
            m["subject"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Invitation : Gestion de projet"),
            "{}",
            m["subject"]
        );
        assert!(text.contains(&format!("Bonjour {name},")), "{text}");
        // Their own link, and only theirs.
        assert!(text.contains(&me.link.url), "{text}");
        assert!(
            html.contains(&format!("href=\"{}\"", me.link.url)),
            "{html}"
        );
        for other in &session.people {
            if other.id != me.id {
                assert!(
                    !text.contains(&other.link.token),
                    "{name} got {}'s link",
                    other.name
                );
            }
        }
        assert!(
            text.contains(&format!("{}/e/{token}", server.public_url())),
            "{text}"
        );
        // The dates in the session's zone, named.
        for t in [start, end] {
            let local = t.with_timezone(&tokyo).format("%H:%M").to_string();
            assert!(text.contains(&local), "{local} (Tokyo) not in {text}");
        }
        assert!(text.contains("(heure de Asia/Tokyo, UTC+09:00)"), "{text}");
        // The lobby's evidence notice.
        assert!(
            text.contains("Ce que la séance enregistre, et pourquoi"),
            "{text}"
        );
        assert!(text.contains("Jamais le contenu des échanges"), "{text}");
        // The calendar invitation.
        let ics = ics_of(m);
        for line in [
            "METHOD:REQUEST".to_owned(),
            format!("UID:{sid}@cadre"),
            format!("DTSTART:{}", ics_time(start)),
            format!("DTEND:{}", ics_time(end)),
            "SEQUENCE:0".to_owned(),
            format!("URL:{}", me.link.url),
        ] {
            assert!(ics.lines().any(|l| l == line), "{line} not in {ics}");
        }
        assert!(ics.contains(&format!(":mailto:{email}")), "{ics}");
        // The link in the mail joins.
        let url = text
            .lines()
            .find(|l| l.starts_with(&format!("{}/j/", server.public_url())))
            .expect("a join link on its own line");
        let from_mail = url.rsplit('/').next().expect("the token");
        let client = server
            .connect(sid, from_mail)
            .await
            .unwrap_or_else(|(s, e)| panic!("the mailed link of {name} is refused: {s} {e:?}"));
        assert_eq!(client.welcome["type"], "welcome");
        assert_eq!(
            client.welcome["you"]["id"],
            me.id.as_str(),
            "{}",
            client.welcome
        );
    }

    let list = wait_mails(&server, sid, "both mails sent", all_in("sent", 2)).await;
    for m in &list {
        assert_eq!(m["kind"], "invitation");
        assert_eq!(m["attempts"], 1);
        assert!(
            m["smtp_reply"]
                .as_str()
                .unwrap_or_default()
                .starts_with("250"),
            "{m}"
        );
        assert!(m["sent_at"].is_string() && m["last_error"].is_null(), "{m}");
    }
    // Never the link: not in the API's view, not in the table.
    let shown = serde_json::to_string(&list).expect("json");
    let table = mails_table(&server);
    assert!(
        table.contains("invitation"),
        "the table holds the mails: {table}"
    );
    for p in &session.people {
        assert!(!shown.contains(&p.link.token) && !table.contains(&p.link.token));
    }
    assert!(!shown.contains("/j/") && !table.contains("/j/"), "{table}");
}

/// The SMTP server is down: the mails stay pending with the error shown
/// and are retried; cadre restarts in between and loses nothing; the SMTP
/// server comes up and each person gets exactly one mail (a further
/// invitation, sent after, shows the sender has gone round again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_for_the_smtp_server_across_a_restart_and_goes_once() {
    let port = free_port();
    let server = TestServer::start_with(mail(smtp_url(port), Vec::new())).await;
    let session = three_people(
        &server,
        "Europe/Paris",
        [Some("claire@cadre.test"), Some("karim@cadre.test"), None],
    )
    .await;
    let sid = session.id.clone();
    let (status, queued) = invite(&server, &sid, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let pending = wait_mails(&server, &sid, "two failed tries of each mail", |ms| {
        ms.len() == 2
            && ms.iter().all(|m| {
                m["state"] == "pending"
                    && m["attempts"].as_u64().unwrap_or(0) >= 2
                    && m["last_error"].as_str().is_some_and(|e| !e.is_empty())
                    && m["next_attempt"].is_string()
            })
    })
    .await;
    assert!(pending.iter().all(|m| m["sent_at"].is_null()));

    server.stop().await;
    let server = server.restart_with(mail(smtp_url(port), Vec::new())).await;
    let after = mails(&server, &sid).await;
    assert_eq!(after.len(), 2, "nothing lost: {after:#?}");
    assert!(after.iter().all(|m| m["state"] == "pending"), "{after:#?}");

    let smtp = TestSmtp::start(port).await;
    let sent = wait_mails(
        &server,
        &sid,
        "both mails sent once the server is up",
        all_in("sent", 2),
    )
    .await;
    for m in &sent {
        assert!(m["attempts"].as_u64().unwrap_or(0) >= 3, "{m}");
        assert!(m["last_error"].is_null(), "{m}");
    }
    // Once more for Claire alone: when it has arrived, the sender has
    // taken the queue again after the first two.
    let claire = person(&session, "Claire Martin");
    let (status, again) = invite(&server, &sid, json!({"people": [claire.id]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    let messages = smtp.wait_messages(3).await;
    wait_mails(&server, &sid, "the third mail sent", all_in("sent", 3)).await;
    let messages_now = smtp.messages();
    assert_eq!(messages_now.len(), 3, "no mail went twice: {messages:#?}");
    let to: Vec<&str> = messages_now
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        to.iter().filter(|t| **t == "karim@cadre.test").count(),
        1,
        "{to:?}"
    );
    assert_eq!(
        to.iter().filter(|t| **t == "claire@cadre.test").count(),
        2,
        "{to:?}"
    );
    let ids: BTreeSet<&str> = messages_now
        .iter()
        .map(|m| m["message_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids.len(), 3, "each mail its own Message-ID: {ids:?}");
    smtp.stop();
}

/// A recipient the SMTP server refuses for good (550): that mail is
/// failed after one try with the server's answer shown, and never tried
/// again; the other person's mail goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_fails_the_mail_and_says_why() {
    let smtp = TestSmtp::start(free_port()).await;
    let server = TestServer::start_with(mail(smtp.url(), Vec::new())).await;
    let session = three_people(
        &server,
        "Europe/Paris",
        [
            Some("claire@cadre.test"),
            Some("refuse.karim@cadre.test"),
            None,
        ],
    )
    .await;
    let sid = &session.id;
    invite(&server, sid, json!({})).await;
    let list = wait_mails(&server, sid, "one mail sent and one failed", |ms| {
        ms.len() == 2 && ms.iter().all(|m| m["state"] != "pending")
    })
    .await;
    let karim = person(&session, "Karim Benali");
    let failed = list
        .iter()
        .find(|m| m["person"] == karim.id.as_str())
        .expect("Karim's mail");
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 1, "{failed}");
    let why = failed["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("550") && why.contains("refused"), "{why}");
    assert!(failed["next_attempt"].is_null() && failed["sent_at"].is_null());
    let other = list
        .iter()
        .find(|m| m["person"] != karim.id.as_str())
        .expect("Claire's mail");
    assert_eq!(other["state"], "sent", "{other}");
    // A later invitation to Claire goes; Karim's failed mail stays as it is.
    let claire = person(&session, "Claire Martin");
    invite(&server, sid, json!({"people": [claire.id]})).await;
    smtp.wait_messages(2).await;
    let later = wait_mails(&server, sid, "Claire's second mail sent", |ms| {
        ms.iter().filter(|m| m["state"] == "sent").count() == 2
    })
    .await;
    let failed_later = later
        .iter()
        .find(|m| m["id"] == failed["id"])
        .expect("still listed");
    assert_eq!(failed_later, failed);
    assert!(
        smtp.messages()
            .iter()
            .all(|m| m["rcpt_tos"][0] == "claire@cadre.test")
    );
}

/// A session of three with an address each, in `zone`, of which Claire and
/// Karim were invited by mail (both invitations received).
async fn two_of_three_invited(zone: &str) -> (TestSmtp, TestServer, SessionView) {
    let smtp = TestSmtp::start(free_port()).await;
    let server = TestServer::start_with(mail(smtp.url(), Vec::new())).await;
    let session = three_people(
        &server,
        zone,
        [
            Some("claire@cadre.test"),
            Some("karim@cadre.test"),
            Some("sophie@cadre.test"),
        ],
    )
    .await;
    let invited: Vec<&str> = ["Claire Martin", "Karim Benali"]
        .iter()
        .map(|n| person(&session, n).id.as_str())
        .collect();
    invite(&server, &session.id, json!({"people": invited})).await;
    smtp.wait_messages(2).await;
    (smtp, server, session)
}

/// A facilitator postpones the session: everyone invited by mail is sent
/// the new dates, with the same calendar event (same UID, next SEQUENCE).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postponement_mails_the_new_dates_to_the_people_invited() {
    // Sophie is not invited by mail: she gets no postponement mail either.
    let (smtp, server, session) = two_of_three_invited("Asia/Tokyo").await;
    let sid = &session.id;

    let mut claire = server.join(&session, "Claire Martin").await;
    let now = chrono::Utc::now();
    let new_start = now - chrono::Duration::nanoseconds(now.timestamp_subsec_nanos().into())
        + chrono::Duration::minutes(20);
    let new_end = new_start + chrono::Duration::minutes(90);
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    claire
        .send_json(&json!({
            "type": "control", "action": "postpone", "reason": "Coupure réseau chez la formatrice",
            "start": rfc3339(new_start), "end": rfc3339(new_end),
        }))
        .await;
    claire.session_notice("postpone").await;

    let messages = smtp.wait_messages(4).await;
    let tokyo = chrono::FixedOffset::east_opt(9 * 3600).expect("UTC+9");
    let postponed: Vec<&Value> = messages[2..].iter().collect();
    let to: BTreeSet<&str> = postponed
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        to,
        BTreeSet::from(["claire@cadre.test", "karim@cadre.test"])
    );
    for m in postponed {
        let subject = m["subject"].as_str().unwrap_or_default();
        assert!(subject.starts_with("Séance reportée : "), "{subject}");
        let text = text_of(m);
        for t in [new_start, new_end] {
            let local = t.with_timezone(&tokyo).format("%H:%M").to_string();
            assert!(text.contains(&local), "{local} not in {text}");
        }
        assert!(text.contains("Coupure réseau chez la formatrice"), "{text}");
        let ics = ics_of(m);
        for line in [
            format!("UID:{sid}@cadre"),
            "SEQUENCE:1".to_owned(),
            format!("DTSTART:{}", ics_time(new_start)),
            format!("DTEND:{}", ics_time(new_end)),
        ] {
            assert!(ics.lines().any(|l| l == line), "{line} not in {ics}");
        }
    }
    let list = wait_mails(&server, sid, "the postponement mails sent", |ms| {
        ms.iter()
            .filter(|m| m["kind"] == "postponement" && m["state"] == "sent")
            .count()
            == 2
    })
    .await;
    assert_eq!(list.len(), 4, "{list:#?}");
}

/// Staff cancel the session: everyone invited by mail is told why, and
/// the calendar event is withdrawn (same UID, next SEQUENCE, CANCEL);
/// nobody is invited to it any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_mails_the_people_invited_and_withdraws_the_event() {
    let (smtp, server, session) = two_of_three_invited("Europe/Paris").await;
    let sid = &session.id;

    let (status, body) = server
        .post(
            &format!("/api/sessions/{sid}/cancel"),
            &json!({"reason": "Trop peu d’inscrits"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let messages = smtp.wait_messages(4).await;
    let cancelled: Vec<&Value> = messages[2..].iter().collect();
    let to: BTreeSet<&str> = cancelled
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        to,
        BTreeSet::from(["claire@cadre.test", "karim@cadre.test"])
    );
    for m in cancelled {
        let subject = m["subject"].as_str().unwrap_or_default();
        assert!(subject.starts_with("Séance annulée : "), "{subject}");
        let text = text_of(m);
        assert!(text.contains("Trop peu d’inscrits"), "{text}");
        assert!(
            !text.contains("/j/"),
            "no link to a session that will not be: {text}"
        );
        let ics = ics_of(m);
        for line in [
            format!("UID:{sid}@cadre"),
            "METHOD:CANCEL".to_owned(),
            "STATUS:CANCELLED".to_owned(),
            "SEQUENCE:1".to_owned(),
        ] {
            assert!(ics.lines().any(|l| l == line), "{line} not in {ics}");
        }
    }
    let list = wait_mails(&server, sid, "the cancellation mails sent", |ms| {
        ms.iter()
            .filter(|m| m["kind"] == "cancellation" && m["state"] == "sent")
            .count()
            == 2
    })
    .await;
    assert_eq!(list.len(), 4, "{list:#?}");
    // Nobody is invited any more to a session that will not be.
    let sophie = person(&session, "Sophie Dubois").id.as_str();
    let (status, body) = invite(&server, sid, json!({"people": [sophie]})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(mails(&server, sid).await.len(), 4, "nothing queued");
    assert_eq!(smtp.messages().len(), 4, "nothing more sent");
}

/// Each person is written to in their language (the server's default,
/// French here, when none was chosen) with the dates in their time zone
/// (the session's when none), and a mail not sent yet follows a corrected
/// address; an address removed gives it up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_person_is_written_to_in_their_language_and_zone_at_their_corrected_address() {
    let port = free_port();
    let server = TestServer::start_with(mail(smtp_url(port), Vec::new())).await;
    let session = three_people(
        &server,
        "Europe/Paris",
        [
            Some("claire@cadre.test"),
            Some("karim@old.example"),
            Some("sophie@cadre.test"),
        ],
    )
    .await;
    let sid = &session.id;
    let (status, queued) = invite(&server, sid, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    // The mail server is down: the mails wait, and the office corrects
    // Karim's address and language, and removes Claire's.
    wait_mails(&server, sid, "three mails tried once", |ms| {
        ms.len() == 3 && ms.iter().all(|m| m["attempts"].as_u64().unwrap_or(0) >= 1)
    })
    .await;
    let correct = async |pid: &str, body: Value| {
        server
            .patch(&format!("/api/sessions/{sid}/people/{pid}"), &body)
            .await
    };
    let karim = person(&session, "Karim Benali").id.clone();
    let claire = person(&session, "Claire Martin").id.clone();
    let (status, body) = correct(
        &karim,
        json!({"email": "karim@cadre.test", "lang": "en", "time_zone": "America/Martinique"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = correct(&claire, json!({"email": ""})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let now = mails(&server, sid).await;
    let of = |pid: &str| {
        now.iter()
            .find(|m| m["person"] == pid)
            .unwrap_or_else(|| panic!("{pid}'s mail in {now:#?}"))
            .clone()
    };
    assert_eq!(of(&karim)["to"], "karim@cadre.test");
    assert_eq!(of(&claire)["state"], "failed");

    let smtp = TestSmtp::start(port).await;
    let messages = smtp.wait_messages(2).await;
    wait_mails(&server, sid, "two mails sent", |ms| {
        ms.iter().filter(|m| m["state"] == "sent").count() == 2
    })
    .await;
    let to_karim = message_to(&messages, "karim@cadre.test");
    let subject = to_karim["subject"].as_str().unwrap_or_default();
    assert!(subject.starts_with("Invitation: "), "{subject}");
    assert!(
        text_of(to_karim).contains("Hello Karim Benali,"),
        "{}",
        text_of(to_karim)
    );
    // His dates on his own clock, named (the session is Paris's).
    let (start, _) = planned(&session);
    let martinique = chrono::FixedOffset::west_opt(4 * 3600).expect("UTC-4");
    let local = start.with_timezone(&martinique).format("%H:%M").to_string();
    assert!(
        text_of(to_karim).contains(&local) && text_of(to_karim).contains("America/Martinique"),
        "{local} (Martinique) not in {}",
        text_of(to_karim)
    );
    let to_sophie = message_to(&messages, "sophie@cadre.test");
    assert!(
        text_of(to_sophie).contains("Bonjour Sophie Dubois,"),
        "{}",
        text_of(to_sophie)
    );
    assert!(
        !messages
            .iter()
            .any(|m| m["rcpt_tos"][0] == "karim@old.example"),
        "nothing to the old address"
    );
    assert_eq!(smtp.messages().len(), 2, "nothing to Claire: {messages:#?}");
    smtp.stop();
}

/// A reminder before the session goes once to each person invited, at
/// the configured delay (here 3 s before a session starting in 6 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_goes_once_before_the_session() {
    let smtp = TestSmtp::start(free_port()).await;
    let server = TestServer::start_with(mail(smtp.url(), vec![Duration::from_secs(3)])).await;
    let mut body = session_body(&[
        ("Claire Martin", Role::Facilitator),
        ("Karim Benali", Role::Participant),
    ]);
    let start = chrono::Utc::now() + chrono::Duration::seconds(7);
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    body.planned_start = rfc3339(start);
    body.planned_end = rfc3339(start + chrono::Duration::hours(1));
    body.people[0].email = Some("claire@cadre.test".into());
    body.people[1].email = Some("karim@cadre.test".into());
    let session = server.create_session_body(&body).await;
    let sid = &session.id;
    invite(&server, sid, json!({})).await;
    let messages = smtp.wait_messages(4).await;
    let reminders: Vec<&Value> = messages
        .iter()
        .filter(|m| {
            m["subject"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Rappel : ")
        })
        .collect();
    assert_eq!(reminders.len(), 2, "{messages:#?}");
    for m in &reminders {
        let text = text_of(m);
        let me = session
            .people
            .iter()
            .find(|p| Some(m["rcpt_tos"][0].as_str().unwrap_or_default()) == p.email.as_deref())
            .expect("a reminder to someone of the session");
        assert!(text.contains(&me.link.url), "{text}");
    }
    // Past the start, no reminder is due any more: still one each.
    let (planned_start, _) = planned(&session);
    while chrono::Utc::now() < planned_start + chrono::Duration::seconds(1) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = mails(&server, sid).await;
    let kinds: Vec<(&str, &str)> = list
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap_or_default(),
                m["person"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    for p in &session.people {
        assert_eq!(
            kinds
                .iter()
                .filter(|(k, who)| *k == "reminder" && *who == p.id)
                .count(),
            1,
            "{list:#?}"
        );
    }
}

/// A half-day's sign-in was open and one participant did not sign: once
/// its planned part is over, that participant (and no one else) gets one
/// mail about that half-day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_who_did_not_sign_a_half_day_is_reminded_once() {
    let smtp = TestSmtp::start(free_port()).await;
    let server = TestServer::start_with(mail(smtp.url(), Vec::new())).await;
    let mut body = session_body(&[
        ("Claire Martin", Role::Facilitator),
        ("Karim Benali", Role::Participant),
        ("Sophie Dubois", Role::Participant),
    ]);
    let now = chrono::Utc::now();
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    body.planned_start = rfc3339(now - chrono::Duration::minutes(1));
    body.planned_end = rfc3339(now + chrono::Duration::seconds(5));
    for (p, email) in
        body.people
            .iter_mut()
            .zip(["claire@cadre.test", "karim@cadre.test", "sophie@cadre.test"])
    {
        p.email = Some(email.to_owned());
    }
    let session = server.create_session_body(&body).await;
    let sid = &session.id;
    invite(&server, sid, json!({})).await;
    smtp.wait_messages(3).await;

    // Karim signs the half-day in progress; Sophie never comes.
    let _claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let slot = karim.welcome["slots"][0]["slot"]
        .as_str()
        .expect("a half-day in progress")
        .to_owned();
    karim
        .send_json(&json!({"type": "sign_in", "slot": slot}))
        .await;
    karim.recv_evidence_type("signed").await;

    let messages = smtp.wait_messages(4).await;
    let reminder = &messages[3];
    assert_eq!(
        reminder["rcpt_tos"][0], "sophie@cadre.test",
        "{messages:#?}"
    );
    let subject = reminder["subject"].as_str().unwrap_or_default();
    assert!(subject.starts_with("Émargement : "), "{subject}");
    let text = text_of(reminder);
    assert!(text.contains("Vous n’avez pas émargé pour"), "{text}");
    assert!(
        text.contains(&person(&session, "Sophie Dubois").link.url),
        "{text}"
    );
    let list = wait_mails(&server, sid, "the sign-in reminder sent", |ms| {
        ms.iter()
            .any(|m| m["kind"] == "signin_reminder" && m["state"] == "sent")
    })
    .await;
    let sophie = &person(&session, "Sophie Dubois").id;
    let reminders: Vec<&Value> = list
        .iter()
        .filter(|m| m["kind"] == "signin_reminder")
        .collect();
    assert_eq!(reminders.len(), 1, "{list:#?}");
    assert_eq!(reminders[0]["person"], sophie.as_str());
}

/// Bad requests: a clear error each time, and nothing queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_invitation_requests_are_refused_and_queue_nothing() {
    // No SMTP configured: said, not queued silently.
    let plain = TestServer::start().await;
    let session = three_people(
        &plain,
        "Europe/Paris",
        [Some("claire@cadre.test"), Some("karim@cadre.test"), None],
    )
    .await;
    let (status, body) = invite(&plain, &session.id, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "not_open");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("mail is not configured"),
        "{body}"
    );
    assert_eq!(mails(&plain, &session.id).await, Vec::<Value>::new());

    // Configured (nothing needs to answer: nothing may be queued).
    let server = TestServer::start_with(mail(smtp_url(free_port()), Vec::new())).await;
    let one = three_people(
        &server,
        "Europe/Paris",
        [Some("claire@cadre.test"), Some("karim@cadre.test"), None],
    )
    .await;
    let other = three_people(
        &server,
        "Europe/Paris",
        [Some("claire2@cadre.test"), Some("karim2@cadre.test"), None],
    )
    .await;
    let stranger = person(&other, "Karim Benali").id.clone();
    let claire = person(&one, "Claire Martin").id.clone();
    let cases: Vec<(String, String, StatusCode, &str, &str)> = vec![
        (
            "/api/sessions/s_nothing/invitations".into(),
            "{}".into(),
            StatusCode::NOT_FOUND,
            "not_found",
            "s_nothing",
        ),
        (
            format!("/api/sessions/{}/invitations", one.id),
            json!({"people": [claire, stranger]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "is not a person of session",
        ),
        (
            format!("/api/sessions/{}/invitations", one.id),
            json!({"people": ["p_unknown"]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "p_unknown",
        ),
        (
            format!("/api/sessions/{}/invitations", one.id),
            json!({"people": "everyone"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "invalid invitations",
        ),
        (
            format!("/api/sessions/{}/invitations", one.id),
            json!({"persons": [claire]}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "unknown field",
        ),
        (
            format!("/api/sessions/{}/invitations", one.id),
            "{\"people\": [".into(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "invalid invitations",
        ),
    ];
    for (path, body, status, code, needle) in cases {
        let (got, answer) = server
            .send(
                server
                    .http()
                    .post(server.url(&path))
                    .bearer_auth(server.organiser_token())
                    .header("content-type", "application/json")
                    .body(body.clone()),
            )
            .await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert_eq!(answer["code"], code, "{path} {body}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{path} {body}: {answer} lacks {needle}"
        );
    }
    // Without the organiser's token.
    let (got, answer) = server
        .send(
            server
                .http()
                .post(server.url(&format!("/api/sessions/{}/invitations", one.id)))
                .body("{}"),
        )
        .await;
    assert_eq!(got, StatusCode::UNAUTHORIZED, "{answer}");
    let (got, _) = server
        .get_public(&format!("/api/sessions/{}/mails", one.id))
        .await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);
    let (got, answer) = server.get("/api/sessions/s_nothing/mails").await;
    assert_eq!(got, StatusCode::NOT_FOUND, "{answer}");
    for s in [&one, &other] {
        assert_eq!(
            mails(&server, &s.id).await,
            Vec::<Value>::new(),
            "nothing queued"
        );
    }
    assert_eq!(mails_table(&server), "", "the table is empty");
}

/// The real `cadre serve` with the mail flags and JSON logs, and `cadre
/// session invite` on its data directory: the mails queued by the command
/// line are sent by the server, `cadre session mails` shows them sent, and
/// no log line holds a join link, an address or a name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_queues_what_the_server_sends_and_logs_carry_no_link() {
    use std::process::Command;
    let smtp = TestSmtp::start(free_port()).await;
    let dir = tempfile::tempdir().expect("a data directory");
    let server = Serve::start(
        dir.path(),
        &["--smtp-url", &smtp.url(), "--mail-from", FROM],
        &[],
    );
    let session = server
        .two_people(["amelie.rousseau@cadre.test", "bertrand.lq@cadre.test"])
        .await;
    let cli = |args: &[&str]| {
        Command::new(cadre_binary())
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("run cadre")
    };
    let out = cli(&["session", "invite", &session.id, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let queued: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        queued["queued"].as_array().map(Vec::len),
        Some(2),
        "{queued}"
    );
    let bad = cli(&["session", "invite", "s_nothing"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no session s_nothing"));

    let messages = smtp.wait_messages(2).await;
    for p in &session.people {
        let m = message_to(&messages, p.email.as_deref().expect("an address"));
        assert!(text_of(m).contains(&p.link.url));
    }
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let out = cli(&["session", "mails", &session.id, "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        if list
            .as_array()
            .is_some_and(|l| l.len() == 2 && l.iter().all(|m| m["state"] == "sent"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not shown sent: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lines = server.stop();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("mail accepted by the server")),
        "the log says mails went: {lines:#?}"
    );
    for line in &lines {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for p in &session.people {
            assert!(
                !line.contains(&p.link.token),
                "a join link in the log: {line}"
            );
            assert!(!line.contains(&p.name), "a name in the log: {line}");
            assert!(
                !line.contains(p.email.as_deref().unwrap_or("@")),
                "an address in the log: {line}"
            );
        }
        assert!(!line.contains("/j/"), "{line}");
    }

    // A server without mail on the same directory: the command line says
    // so and queues nothing.
    let plain = Serve::start(dir.path(), &[], &[]);
    let refused = cli(&["session", "invite", &session.id]);
    plain.stop();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("mail is not configured"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = cli(&["session", "mails", &session.id, "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(2),
        "nothing more queued: {list}"
    );
}

/// Mail over TLS, checked: the real binary sends through a server that
/// requires STARTTLS and through one that speaks TLS from the first byte
/// (smtps), each with a certificate from a test CA that the machine's
/// trust store (here `SSL_CERT_FILE`) holds. Without that CA the mail
/// stays pending, the certificate named in its last error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_over_starttls_and_smtps_with_the_certificate_checked() {
    use cadre_tests::smtp::Tls;
    use cadre_tests::tls::{TestCa, Validity};
    let files = tempfile::tempdir().expect("a directory for the certificates");
    let ca = TestCa::new("mail");
    let (cert, key, roots) = (
        files.path().join("cert.pem"),
        files.path().join("key.pem"),
        files.path().join("ca.pem"),
    );
    ca.issue(1, Validity::Current).write(&cert, &key);
    std::fs::write(&roots, ca.pem()).expect("write the CA");
    let trusted = [("SSL_CERT_FILE", roots.to_str().expect("a path"))];
    let emails = ["amelie.rousseau@cadre.test", "bertrand.lq@cadre.test"];
    for (tls, scheme) in [
        (Tls::StartTls, "smtp://localhost:{}?tls=required"),
        (Tls::Implicit, "smtps://localhost:{}"),
    ] {
        let smtp = TestSmtp::start_tls(free_port(), tls, &cert, &key).await;
        let port = smtp.url().rsplit(':').next().expect("a port").to_owned();
        let url = scheme.replace("{}", &port);
        let dir = tempfile::tempdir().expect("a data directory");
        let server = Serve::start(
            dir.path(),
            &["--smtp-url", &url, "--mail-from", FROM],
            &trusted,
        );
        let session = server.two_people(emails).await;
        let status = reqwest::Client::new()
            .post(format!(
                "{}/api/sessions/{}/invitations",
                server.url, session.id
            ))
            .bearer_auth(ORGANISER_TOKEN)
            .send()
            .await
            .expect("POST invitations")
            .status();
        assert_eq!(status, StatusCode::ACCEPTED, "{tls:?}");
        let messages = smtp.wait_messages(2).await;
        for email in emails {
            let m = message_to(&messages, email);
            let me = session
                .people
                .iter()
                .find(|p| p.email.as_deref() == Some(email))
                .expect("the person");
            assert!(text_of(m).contains(&me.link.url), "{tls:?}");
        }
        server.stop();
    }

    // A server whose certificate nobody trusts: nothing goes in clear,
    // the mail waits and says why.
    let smtp = TestSmtp::start_tls(free_port(), Tls::StartTls, &cert, &key).await;
    let port = smtp.url().rsplit(':').next().expect("a port").to_owned();
    let url = format!("smtp://localhost:{port}?tls=required");
    let elsewhere = files.path().join("other-ca.pem");
    std::fs::write(&elsewhere, TestCa::new("other").pem()).expect("write another CA");
    let dir = tempfile::tempdir().expect("a data directory");
    let server = Serve::start(
        dir.path(),
        &["--smtp-url", &url, "--mail-from", FROM],
        &[("SSL_CERT_FILE", elsewhere.to_str().expect("a path"))],
    );
    let session = server.two_people(emails).await;
    reqwest::Client::new()
        .post(format!(
            "{}/api/sessions/{}/invitations",
            server.url, session.id
        ))
        .bearer_auth(ORGANISER_TOKEN)
        .send()
        .await
        .expect("POST invitations");
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    let list = loop {
        let list = server.mails(&session.id).await;
        if list.len() == 2 && list.iter().all(|m| m["last_error"].is_string()) {
            break list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed try shown: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for m in &list {
        assert_eq!(m["state"], "pending", "{m}");
        let why = m["last_error"].as_str().unwrap_or_default().to_lowercase();
        assert!(why.contains("certificate"), "{why}");
    }
    server.stop();
    assert!(smtp.messages().is_empty(), "nothing was delivered");
}
