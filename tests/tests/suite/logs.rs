//! The log of the real `cadre serve --log-format json`: after joins of
//! people with names and e-mail addresses, refused tokens, organiser REST
//! calls (with the right token and a wrong one), a lobby read and a
//! relay, every line on stderr is a JSON object, and none holds a
//! person's name, an e-mail address, a join token, the organiser token or
//! a forged token. A join's lines share the request id its upgrade
//! answered with, and a refused request's id is in the line that says so.

use crate::reports::cadre_binary;
use cadre_protocol::Role;
use cadre_protocol::api::SessionView;
use cadre_tests::{WAIT, claims_of, header_of, other_ed25519_key, session_body, sign_eddsa};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use tokio_tungstenite::tungstenite::Message;

const ORGANISER_TOKEN: &str = "organiser-token-of-the-log-test-5f2c9a";

/// People whose names and addresses must never reach the log.
const PEOPLE: [(&str, &str, Role); 2] = [
    (
        "Amélie Rousseau-Vasseur",
        "amelie.rousseau@example.org",
        Role::Facilitator,
    ),
    (
        "Bertrand Lefebvre-Quintin",
        "bertrand.lq@example.org",
        Role::Participant,
    ),
];

/// The server process, ended by its PID when dropped.
struct Serve {
    child: std::process::Child,
    stderr: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Serve {
    /// Stops the server with SIGTERM (as systemd does) and returns every
    /// line it wrote on stderr.
    fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.stderr
            .take()
            .expect("stderr is read once")
            .join()
            .expect("the stderr reader")
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

/// Starts `cadre serve --log-format json` in a fresh data directory and
/// returns it with its URL.
fn serve(data_dir: &std::path::Path) -> (Serve, String) {
    let mut child = Command::new(cadre_binary())
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--bind", "127.0.0.1:0", "--json-ready"])
        .args(["--log-format", "json", "--media-mode", "peer"])
        .args(["--organiser-token", ORGANISER_TOKEN])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cadre serve");
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ready = String::new();
    stdout
        .read_line(&mut ready)
        .expect("read the --json-ready line");
    let ready: Value = serde_json::from_str(&ready)
        .unwrap_or_else(|e| panic!("the ready line is not JSON ({e}): {ready:?}"));
    let url = ready["url"].as_str().expect("the url").to_owned();
    (
        Serve {
            child,
            stderr: Some(reader),
        },
        url,
    )
}

fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an x-request-id header")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_parse_and_name_no_one_and_carry_no_token() {
    let dir = tempfile::tempdir().expect("a data directory");
    let (server, url) = serve(dir.path());
    let http = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("an HTTP client");

    // The organiser creates a session of two named people with addresses.
    let mut body = session_body(&PEOPLE.map(|(name, _, role)| (name, role)));
    for (person, (_, email, _)) in body.people.iter_mut().zip(PEOPLE) {
        person.email = Some(email.to_owned());
    }
    let created = http
        .post(format!("{url}/api/sessions"))
        .bearer_auth(ORGANISER_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("POST /api/sessions");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let session: SessionView = created.json().await.expect("the session");
    let tokens: Vec<String> = session
        .people
        .iter()
        .map(|p| p.link.token.clone())
        .collect();

    // A wrong organiser token: refused, and its request id is logged.
    let refused = http
        .get(format!("{url}/api/sessions/{}", session.id))
        .bearer_auth("not-the-organiser-token")
        .send()
        .await
        .expect("GET with a wrong token");
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let refused_id = request_id(&refused);
    // The right one, reading every link back.
    let detail = http
        .get(format!("{url}/api/sessions/{}", session.id))
        .bearer_auth(ORGANISER_TOKEN)
        .send()
        .await
        .expect("GET the session");
    assert_eq!(detail.status(), reqwest::StatusCode::OK);
    // A person's lobby, with their token in the query.
    let lobby = http
        .get(format!("{url}/api/join?token={}", tokens[1]))
        .send()
        .await
        .expect("GET the lobby");
    assert_eq!(lobby.status(), reqwest::StatusCode::OK);

    // Both join; the facilitator signals the participant; both leave.
    let ws = url.replacen("http://", "ws://", 1);
    let mut sockets = Vec::new();
    let mut join_ids = Vec::new();
    for token in &tokens {
        let (mut socket, response) =
            tokio_tungstenite::connect_async(format!("{ws}/ws/{}?token={token}", session.id))
                .await
                .expect("join");
        join_ids.push(
            response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .expect("the upgrade's x-request-id")
                .to_owned(),
        );
        let welcome = next_of_type(&mut socket, "welcome").await;
        assert_eq!(welcome["type"], "welcome");
        sockets.push(socket);
    }
    let karim_id = session.people[1].id.clone();
    sockets[0]
        .send(Message::text(
            json!({"type": "signal", "to": karim_id, "data": {"sdp": "v=0"}}).to_string(),
        ))
        .await
        .expect("send a signal");
    next_of_type(&mut sockets[1], "signal").await;

    // Tokens that are refused: forged, cut short, garbage.
    let kid = header_of(&tokens[1])["kid"]
        .as_str()
        .expect("a kid")
        .to_owned();
    let forged = sign_eddsa(&kid, &claims_of(&tokens[1]), &other_ed25519_key());
    let cut = tokens[1][..tokens[1].len() - 5].to_owned();
    for bad in [&forged, &cut, &"garbage.garbage.garbage".to_owned()] {
        let refused =
            tokio_tungstenite::connect_async(format!("{ws}/ws/{}?token={bad}", session.id)).await;
        assert!(refused.is_err(), "a bad token was let in");
    }

    for mut socket in sockets {
        let _ = socket
            .send(Message::text(json!({"type": "leave"}).to_string()))
            .await;
        // Read to the server's close, so the departure is logged.
        while let Some(Ok(frame)) = tokio::time::timeout(WAIT, socket.next())
            .await
            .ok()
            .flatten()
        {
            if frame.is_close() {
                break;
            }
        }
    }

    let lines = server.stop();
    assert!(lines.len() >= 5, "too few log lines: {lines:#?}");
    let mut secrets: Vec<String> = vec![ORGANISER_TOKEN.to_owned(), forged.clone(), cut.clone()];
    secrets.extend(tokens.iter().cloned());
    for (name, email, _) in PEOPLE {
        secrets.push(name.to_owned());
        secrets.push(email.to_owned());
        // A family or given name alone is a name too.
        secrets.extend(name.split([' ', '-']).map(str::to_owned));
    }
    // A token's signature alone would do: look for pieces of every token.
    for token in tokens.iter().chain([&forged]) {
        secrets.extend(token.split('.').map(str::to_owned));
    }
    let mut parsed = Vec::new();
    for line in &lines {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        assert!(
            value.is_object(),
            "a log line that is not an object: {line}"
        );
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a log line holds {secret:?}: {line}"
            );
        }
        parsed.push(value);
    }

    // A join's lines carry the id its upgrade answered with.
    for id in &join_ids {
        let of_join: Vec<&Value> = parsed
            .iter()
            .filter(|l| l["span"]["request_id"] == id.as_str())
            .collect();
        let messages: Vec<&str> = of_join
            .iter()
            .filter_map(|l| l["fields"]["message"].as_str())
            .collect();
        assert!(
            messages.contains(&"joined") && messages.contains(&"connection closed"),
            "the join {id} logged {messages:?}"
        );
    }
    // The refused organiser call is logged with its request id and status.
    assert!(
        parsed.iter().any(|l| l["span"]["request_id"] == refused_id.as_str()
            && l["fields"]["status"] == 401),
        "no line for the refused request {refused_id}: {lines:#?}"
    );
}

/// The next text message of `kind` on `socket`, skipping others.
async fn next_of_type<S>(socket: &mut S, kind: &str) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = tokio::time::timeout(left, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} within {WAIT:?}"));
        match frame {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).expect("a JSON message");
                if value["type"] == kind {
                    return value;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("the socket ended while waiting for {kind}: {other:?}"),
        }
    }
}
