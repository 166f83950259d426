//! The class around the pictures: the chat (to everyone, privately to a
//! facilitator, kept for latecomers and new tabs, never in the ledger),
//! raised hands (in order, lowered by the person or a facilitator) and
//! reactions; and what each refuses.

use cadre_protocol::Role;
use cadre_protocol::api::SessionView;
use cadre_tests::{Client, PEOPLE, TestServer, person};
use serde_json::{Value, json};
use std::time::Duration;

/// A server, a session of [`PEOPLE`], and the three of them connected.
async fn class_of_three() -> (TestServer, SessionView, Client, Client, Client) {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let claire = server.join(&session, "Claire Martin").await;
    let karim = server.join(&session, "Karim Benali").await;
    let sophie = server.join(&session, "Sophie Dubois").await;
    (server, session, claire, karim, sophie)
}

async fn say(client: &Client, text: &str) {
    client
        .send_json(&json!({"type": "chat", "text": text}))
        .await;
}

/// The next chat message `client` receives (other messages skipped), and
/// the messages skipped on the way.
async fn next_chat(client: &mut Client) -> (Value, Vec<Value>) {
    client
        .skip_until("a chat message", |m| m["type"] == "chat")
        .await
}

/// The next error about `about` (other messages skipped).
async fn next_error(client: &mut Client, about: &str) -> Value {
    let (error, _) = client
        .skip_until("an error", |m| m["type"] == "error" && m["about"] == about)
        .await;
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_reaches_everyone_in_order_and_comes_back_to_latecomers_but_never_to_the_ledger() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    // Text as written, markup and direction controls included: the page
    // shows it as text.
    let tricky = "Bonjour <b>à tous</b> \u{202E}ça marche ?\nOui.";
    say(&karim, tricky).await;
    let karim_id = karim.id.clone();
    for c in [&mut claire, &mut karim] {
        let (line, _) = next_chat(c).await;
        assert_eq!(line["seq"], 1, "{line}");
        assert_eq!(line["from"], karim_id.as_str());
        assert_eq!(line["name"], "Karim Benali");
        assert_eq!(line["text"], tricky);
        assert!(line["at"].as_i64().is_some_and(|t| t > 0));
        assert!(line.get("to").is_none(), "{line}");
    }
    say(&claire, "Bienvenue, Karim.").await;
    let (line, _) = next_chat(&mut karim).await;
    assert_eq!(
        (line["seq"].as_u64(), line["text"].as_str()),
        (Some(2), Some("Bienvenue, Karim."))
    );

    // Sophie arrives late: her welcome holds the chat so far, in order.
    let sophie = server.join(&session, "Sophie Dubois").await;
    let chat = sophie.welcome["chat"].as_array().expect("the chat so far");
    let texts: Vec<&str> = chat.iter().filter_map(|l| l["text"].as_str()).collect();
    assert_eq!(texts, vec![tricky, "Bienvenue, Karim."]);

    // Everyone leaves for lunch and comes back: the chat is still there.
    for c in [claire, karim, sophie] {
        c.leave().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let back = server.join(&session, "Karim Benali").await;
    assert_eq!(
        back.welcome["chat"].as_array().map(Vec::len),
        Some(2),
        "{}",
        back.welcome
    );

    // Not evidence: nothing of it in the session's log.
    let log = server.ledger_export(&session.id).await;
    assert!(
        !log.contains("Bienvenue") && !log.contains("à tous"),
        "the chat is in the ledger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_message_reaches_its_two_people_only_and_a_participant_writes_privately_only_to_a_facilitator()
 {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let other = server
        .create_session(&[
            ("Paul Durand", Role::Facilitator),
            ("Léa Petit", Role::Participant),
        ])
        .await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let mut sophie = server.join(&session, "Sophie Dubois").await;
    let claire_id = claire.id.clone();
    karim
        .send_json(&json!({"type": "chat", "text": "Je dois partir à 16 h.", "to": claire_id}))
        .await;
    for c in [&mut claire, &mut karim] {
        let (line, _) = next_chat(c).await;
        assert_eq!(line["to"], claire_id.as_str(), "{line}");
        assert_eq!(line["text"], "Je dois partir à 16 h.");
    }
    // A participant to a participant, to someone of another session, to
    // oneself: refused, and nobody receives anything.
    let sophie_id = sophie.id.clone();
    karim
        .send_json(&json!({"type": "chat", "text": "psst", "to": sophie_id}))
        .await;
    next_error(&mut karim, "chat").await;
    let stranger = person(&other, "Léa Petit").id.clone();
    karim
        .send_json(&json!({"type": "chat", "text": "psst", "to": stranger}))
        .await;
    let refused = next_error(&mut karim, "chat").await;
    assert_eq!(refused["code"], "unknown_peer", "{refused}");
    // A facilitator may answer privately.
    let karim_id = karim.id.clone();
    claire
        .send_json(&json!({"type": "chat", "text": "Entendu.", "to": karim_id}))
        .await;
    let (line, _) = next_chat(&mut karim).await;
    assert_eq!(
        (line["text"].as_str(), line["to"].as_str()),
        (Some("Entendu."), Some(karim_id.as_str()))
    );
    // Sophie saw none of it: the first chat she gets is the public one.
    say(&claire, "On reprend.").await;
    let (line, _) = next_chat(&mut sophie).await;
    assert_eq!(
        line["text"], "On reprend.",
        "Sophie got a private message: {line}"
    );
    assert_eq!(line["seq"], 3, "the refused ones took no number");
    // A new tab of Sophie's holds only the public line; one of Karim's, his
    // two private ones too.
    let again = server.join(&session, "Sophie Dubois").await;
    assert_eq!(
        again.welcome["chat"].as_array().map(Vec::len),
        Some(1),
        "{}",
        again.welcome
    );
    let karim_again = server.join(&session, "Karim Benali").await;
    assert_eq!(
        karim_again.welcome["chat"].as_array().map(Vec::len),
        Some(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chat_messages_are_refused_and_a_flood_is_cut_while_the_others_are_served() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    for (bad, code) in [
        (json!({"type": "chat", "text": "   "}), "invalid_input"),
        (
            json!({"type": "chat", "text": "é".repeat(1001)}),
            "invalid_input",
        ),
        (
            json!({"type": "chat", "text": "a\u{1b}[31mrouge"}),
            "invalid_input",
        ),
        (json!({"type": "chat"}), "malformed_message"),
        (json!({"type": "chat", "text": 42}), "malformed_message"),
    ] {
        karim.send_json(&bad).await;
        let refused = karim.recv_error(code).await;
        assert!(
            refused["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{refused}"
        );
    }
    // Eight at once: five go through, the others are refused as too fast.
    for i in 0..8 {
        say(&karim, &format!("message {i}")).await;
    }
    let mut taken = Vec::new();
    let mut refused = 0;
    while taken.len() + refused < 8 {
        let m = karim.recv().await;
        match m["type"].as_str() {
            Some("chat") => taken.push(m["text"].as_str().unwrap_or_default().to_owned()),
            Some("error") => {
                assert_eq!(m["code"], "rate_limited", "{m}");
                assert_eq!(m["about"], "chat", "{m}");
                refused += 1;
            }
            _ => {}
        }
    }
    assert_eq!(
        taken,
        (0..5).map(|i| format!("message {i}")).collect::<Vec<_>>()
    );
    // Claire still writes and receives.
    say(&claire, "Doucement !").await;
    let (line, skipped) = claire
        .skip_until("Claire's message", |m| m["text"] == "Doucement !")
        .await;
    assert_eq!(
        skipped.iter().filter(|m| m["type"] == "chat").count(),
        5,
        "Claire received Karim's five"
    );
    assert_eq!(line["text"], "Doucement !");
    assert_eq!(line["seq"], 6, "nothing refused took a number");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hands_go_up_in_order_and_only_their_owner_or_a_facilitator_lowers_them() {
    let (server, session, mut claire, mut karim, mut sophie) = class_of_three().await;
    let (k, s, c) = (karim.id.clone(), sophie.id.clone(), claire.id.clone());
    let hands = |m: &Value| -> Vec<String> {
        m["raised"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Karim first, then Sophie once Karim's is seen.
    karim
        .send_json(&json!({"type": "hand", "raised": true}))
        .await;
    claire.skip_until("hands", |m| m["type"] == "hands").await;
    sophie
        .send_json(&json!({"type": "hand", "raised": true}))
        .await;
    let (last, _) = claire.skip_until("hands", |m| m["type"] == "hands").await;
    assert_eq!(
        hands(&last),
        vec![k.clone(), s.clone()],
        "in the order raised"
    );
    assert_eq!(last["change"], json!({"id": s, "raised": true, "by": s}));

    // Sophie may not lower Karim's hand, nor anyone raise it for him.
    sophie
        .refused_about(
            json!({"type": "hand", "raised": false, "participant": k}),
            "hand",
            "forbidden",
        )
        .await;
    claire
        .refused_about(
            json!({"type": "hand", "raised": true, "participant": s}),
            "hand",
            "forbidden",
        )
        .await;
    // Claire lowers Karim's: everyone sees who did.
    claire
        .send_json(&json!({"type": "hand", "raised": false, "participant": k}))
        .await;
    let (m, _) = karim
        .skip_until("hands", |m| {
            m["type"] == "hands"
                && m["change"]["id"] == k.as_str()
                && m["change"]["raised"] == false
        })
        .await;
    assert_eq!(m["change"]["by"], c.as_str());
    assert_eq!(hands(&m), vec![s.clone()]);
    // A newcomer's welcome shows the hands raised.
    let tab = server.join(&session, "Claire Martin").await;
    assert_eq!(
        hands(&json!({"raised": tab.welcome["hands"]})),
        vec![s.clone()]
    );
    // Sophie leaves: her hand goes down.
    sophie.leave().await;
    let (m, _) = karim
        .skip_until("hands", |m| {
            m["type"] == "hands" && m["change"]["id"] == s.as_str()
        })
        .await;
    assert!(hands(&m).is_empty(), "{m}");
    assert_eq!(m["change"]["by"], "server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_reaches_everyone_and_an_unknown_one_is_refused() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    karim
        .send_json(&json!({"type": "react", "reaction": "applause"}))
        .await;
    let karim_id = karim.id.clone();
    for c in [&mut claire, &mut karim] {
        let (m, _) = c
            .skip_until("a reaction", |m| m["type"] == "reaction")
            .await;
        assert_eq!(m["reaction"], "applause");
        assert_eq!(m["id"], karim_id.as_str());
    }
    karim
        .send_json(&json!({"type": "react", "reaction": "<script>"}))
        .await;
    karim.recv_error("malformed_message").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facilitator_mutes_one_person_or_everyone_and_only_asks_them_to_unmute() {
    let (_server, _session, mut claire, mut karim, mut sophie) = class_of_three().await;
    let (c, k, s) = (claire.id.clone(), karim.id.clone(), sophie.id.clone());
    claire
        .send_json(&json!({"type": "mute", "participant": k}))
        .await;
    let (muted, _) = karim.skip_until("muted", |m| m["type"] == "muted").await;
    assert_eq!(muted["by"], c.as_str());
    assert_eq!(muted["everyone"], false);
    // Everyone: both participants, never the facilitator.
    claire.send_json(&json!({"type": "mute"})).await;
    for p in [&mut karim, &mut sophie] {
        let (muted, _) = p.skip_until("muted", |m| m["type"] == "muted").await;
        assert_eq!(muted["everyone"], true, "{muted}");
    }
    claire
        .send_json(&json!({"type": "ask_unmute", "participant": s}))
        .await;
    let (asked, _) = sophie
        .skip_until("unmute_asked", |m| m["type"] == "unmute_asked")
        .await;
    assert_eq!(asked["by"], c.as_str());
    // A participant may do neither; nobody is asked about someone absent.
    karim
        .refused_about(
            json!({"type": "mute", "participant": s}),
            "mute",
            "forbidden",
        )
        .await;
    karim
        .refused_about(
            json!({"type": "ask_unmute", "participant": c}),
            "ask_unmute",
            "forbidden",
        )
        .await;
    claire
        .refused_about(
            json!({"type": "mute", "participant": "p_nobody"}),
            "mute",
            "unknown_peer",
        )
        .await;
    claire.send_json(&json!({"type": "ask_unmute"})).await;
    claire.recv_error("malformed_message").await;
    // Sophie was muted twice (everyone) and asked once, nothing more: the
    // refused requests reached nobody.
    sophie
        .send_json(&json!({"type": "react", "reaction": "agree"}))
        .await;
    let (_, skipped) = sophie
        .skip_until("her reaction", |m| m["type"] == "reaction")
        .await;
    assert!(
        !skipped
            .iter()
            .any(|m| m["type"] == "muted" || m["type"] == "unmute_asked"),
        "{skipped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facilitator_spotlights_someone_for_everyone_until_stopped_or_gone() {
    let (server, session, mut claire, mut karim, mut sophie) = class_of_three().await;
    let (c, k, s) = (claire.id.clone(), karim.id.clone(), sophie.id.clone());
    // A participant may not; nobody absent may be shown.
    karim
        .refused_about(
            json!({"type": "spotlight", "participant": k}),
            "spotlight",
            "forbidden",
        )
        .await;
    claire
        .refused_about(
            json!({"type": "spotlight", "participant": "p_nobody"}),
            "spotlight",
            "unknown_peer",
        )
        .await;
    claire
        .send_json(&json!({"type": "spotlight", "participant": s}))
        .await;
    for p in [&mut claire, &mut karim, &mut sophie] {
        let (m, _) = p
            .skip_until("spotlight", |m| m["type"] == "spotlight")
            .await;
        assert_eq!(
            (m["id"].as_str(), m["by"].as_str()),
            (Some(s.as_str()), Some(c.as_str()))
        );
    }
    // A new tab learns it from its welcome.
    let tab = server.join(&session, "Karim Benali").await;
    assert_eq!(tab.welcome["spotlight"], s.as_str());
    // Sophie leaves: nobody is shown any more.
    sophie.leave().await;
    let (m, _) = claire
        .skip_until("spotlight", |m| m["type"] == "spotlight")
        .await;
    assert!(m.get("id").is_none(), "{m}");
    assert_eq!(m["by"], "server");
    drop(karim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_poll_counts_answers_once_each_and_shows_them_when_closed() {
    let (server, session, mut claire, mut karim, mut sophie) = class_of_three().await;
    // A participant may not put a poll; a poll needs two to six answers.
    karim
        .refused_about(
            json!({"type": "poll", "question": "Pause ?", "choices": ["oui", "non"]}),
            "poll",
            "forbidden",
        )
        .await;
    claire
        .refused_about(
            json!({"type": "poll", "question": "Pause ?", "choices": ["oui"]}),
            "poll",
            "invalid_input",
        )
        .await;
    claire
        .send_json(&json!({"type": "poll", "question": "On fait une pause à 15 h ?", "choices": ["Oui", "Non", "Plus tard"]}))
        .await;
    let (put, _) = karim.skip_until("the poll", |m| m["type"] == "poll").await;
    let poll = put["poll"]["id"].as_u64().expect("an id");
    assert_eq!(put["poll"]["open"], true);
    assert!(
        put["poll"].get("counts").is_none(),
        "a participant sees no counts while open: {put}"
    );
    karim
        .send_json(&json!({"type": "answer", "poll": poll, "choice": 0}))
        .await;
    // Once each; an answer that does not exist is refused (and spends
    // nothing).
    karim
        .refused_about(
            json!({"type": "answer", "poll": poll, "choice": 1}),
            "answer",
            "conflict",
        )
        .await;
    sophie
        .refused_about(
            json!({"type": "answer", "poll": poll, "choice": 7}),
            "answer",
            "invalid_input",
        )
        .await;
    sophie
        .send_json(&json!({"type": "answer", "poll": poll, "choice": 2}))
        .await;
    // The facilitator sees the counts as they come; nobody sees who chose what.
    let (seen, _) = claire
        .skip_until("both answers", |m| {
            m["type"] == "poll" && m["poll"]["answered"] == 2
        })
        .await;
    assert_eq!(seen["poll"]["counts"], json!([1, 0, 1]));
    assert!(!seen.to_string().contains(&karim.id), "{seen}");
    karim
        .refused_about(
            json!({"type": "close_poll", "poll": poll}),
            "close_poll",
            "forbidden",
        )
        .await;
    claire
        .send_json(&json!({"type": "close_poll", "poll": poll}))
        .await;
    let (closed, _) = sophie
        .skip_until("the results", |m| {
            m["type"] == "poll" && m["poll"]["open"] == false
        })
        .await;
    assert_eq!(closed["poll"]["counts"], json!([1, 0, 1]));
    assert_eq!(closed["poll"]["you_answered"], true);
    sophie
        .refused_about(
            json!({"type": "answer", "poll": poll, "choice": 1}),
            "answer",
            "not_open",
        )
        .await;
    // A newcomer finds the results; nothing of the poll is in the ledger.
    let tab = server.join(&session, "Karim Benali").await;
    assert_eq!(tab.welcome["poll"]["counts"], json!([1, 0, 1]));
    assert_eq!(tab.welcome["poll"]["you_answered"], true);
    let log = server.ledger_export(&session.id).await;
    assert!(!log.contains("pause à 15 h"), "the poll is in the ledger");
}
