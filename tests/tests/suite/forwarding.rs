//! Forwarding through the server: the media core of a forwarded session,
//! driven directly (`forwarded_sessions.rs` drives it through the
//! signalling).
//!
//! Three members each publish a camera and a microphone to the server over
//! real UDP on loopback (webrtc-rs publishers) and subscribe to the others
//! (webrtc-rs subscribers answering the server's offers, which come again
//! as each new track arrives). Every member must receive the two others'
//! audio and video, never their own; each forwarded packet's payload,
//! sequence number, timestamp and marker as the publisher sent them; and
//! each publisher must be asked for a keyframe when someone subscribes. A
//! member who leaves disappears from the others' connections.
//!
//! Further tests: simulcast layers per subscriber, codecs and packets the
//! server refuses, a bad network between the server and one subscriber
//! (a relay on loopback, `cadre_tests::relay`: a lost packet, a congested
//! link), and a track whose forwarding panics or stalls.

use cadre_server::forward::{ForwardError, ForwardEvent, Forwarder, Side};
use cadre_tests::media::{PublisherConfig, Received, SyntheticPublisher, SyntheticSubscriber};
use cadre_tests::relay::{Policy, Relay, without_candidates};
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

const MEMBERS: [&str; 3] = ["p_anne", "p_bruno", "p_chloe"];

/// A payload that names its publisher and its number, after a VP8
/// descriptor byte (start of a partition) and a VP8 header byte saying
/// keyframe: the server starts a subscriber's video at a keyframe.
fn payload(publisher: usize, n: u32) -> Vec<u8> {
    let mut p = vec![0x10, 0x00];
    p.extend_from_slice(format!("{publisher}:{n}").as_bytes());
    p
}

fn video_from<'a>(received: &'a [Received], publisher: &str) -> Option<&'a Received> {
    received
        .iter()
        .find(|r| r.stream == publisher && r.kind == "video" && !r.packets.is_empty())
}

/// Every subscribe offer's SDP, by member, and every other event.
type Offers = Arc<std::sync::Mutex<HashMap<String, Vec<String>>>>;
type Others = Arc<std::sync::Mutex<Vec<ForwardEvent>>>;

/// Answers every subscribe offer with the member's subscriber (a member
/// without one is left unanswered) and keeps each offer's SDP.
fn answer_offers(
    forwarder: &Forwarder,
    subscribers: HashMap<String, Arc<SyntheticSubscriber>>,
    events: tokio::sync::mpsc::UnboundedReceiver<ForwardEvent>,
) -> (tokio::task::JoinHandle<()>, Offers) {
    let (pump, offers, _) = answer_offers_keeping(forwarder, subscribers, events);
    (pump, offers)
}

/// [`answer_offers`], keeping the events that are not offers.
fn answer_offers_keeping(
    forwarder: &Forwarder,
    subscribers: HashMap<String, Arc<SyntheticSubscriber>>,
    events: tokio::sync::mpsc::UnboundedReceiver<ForwardEvent>,
) -> (tokio::task::JoinHandle<()>, Offers, Others) {
    let (pump, offers, others, _) = answer_offers_relaying(forwarder, subscribers, &[], events);
    (pump, offers, others)
}

/// The relay in front of each relayed member's subscribe connection.
type Relays = Arc<std::sync::Mutex<HashMap<String, Arc<Relay>>>>;

/// [`answer_offers_keeping`], the subscribe connections of `relayed`
/// going through a [`Relay`] each (made at their first offer).
fn answer_offers_relaying(
    forwarder: &Forwarder,
    subscribers: HashMap<String, Arc<SyntheticSubscriber>>,
    relayed: &[&str],
    mut events: tokio::sync::mpsc::UnboundedReceiver<ForwardEvent>,
) -> (tokio::task::JoinHandle<()>, Offers, Others, Relays) {
    let offers = Offers::default();
    let others = Others::default();
    let relays = Relays::default();
    let relayed: Vec<String> = relayed.iter().map(|m| (*m).to_owned()).collect();
    let (forwarder, kept, other, made) = (
        forwarder.clone(),
        Arc::clone(&offers),
        Arc::clone(&others),
        Arc::clone(&relays),
    );
    let pump = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let ForwardEvent::Offer {
                member,
                mut description,
            } = event
            else {
                other.lock().expect("events").push(event);
                continue;
            };
            kept.lock()
                .expect("offers")
                .entry(member.clone())
                .or_default()
                .push(description["sdp"].as_str().unwrap_or_default().to_owned());
            let Some(subscriber) = subscribers.get(&member) else {
                continue;
            };
            let relay = if relayed.contains(&member) {
                let known = made.lock().expect("relays").get(&member).cloned();
                let relay = match known {
                    Some(relay) => relay,
                    None => Arc::new(Relay::in_front_of(&description).await),
                };
                made.lock()
                    .expect("relays")
                    .insert(member.clone(), Arc::clone(&relay));
                description = relay.rewrite(&description);
                true
            } else {
                false
            };
            let mut answer = subscriber.answer(&description).await;
            if relay {
                answer = without_candidates(&answer);
            }
            forwarder
                .answer(&member, &answer)
                .await
                .expect("the answer is taken");
        }
    });
    (pump, offers, others, relays)
}

/// The relay in front of `member`'s subscribe connection, once made.
async fn relay_of(relays: &Relays, member: &str) -> Arc<Relay> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(relay) = relays.lock().expect("relays").get(member) {
            return Arc::clone(relay);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{member} was never offered anything"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The payload type `sdp` gives VP8.
fn vp8_payload_type(sdp: &str) -> u8 {
    sdp.lines()
        .find_map(|l| {
            let (pt, codec) = l.strip_prefix("a=rtpmap:")?.split_once(' ')?;
            codec.starts_with("VP8/").then(|| pt.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no VP8 in {sdp}"))
}

/// Anne and Bruno joined; Bruno's subscriber answers every offer; Anne
/// publishes nothing yet.
struct AnneToBruno {
    forwarder: Forwarder,
    bruno: Arc<SyntheticSubscriber>,
    pump: tokio::task::JoinHandle<()>,
    offers: Offers,
}

async fn anne_to_bruno() -> AnneToBruno {
    let (forwarder, events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    forwarder.join("p_anne").await.expect("join");
    forwarder.join("p_bruno").await.expect("join");
    let bruno = Arc::new(SyntheticSubscriber::new().await);
    let (pump, offers) = answer_offers(
        &forwarder,
        HashMap::from([("p_bruno".to_owned(), Arc::clone(&bruno))]),
        events,
    );
    AnneToBruno {
        forwarder,
        bruno,
        pump,
        offers,
    }
}

/// The layer mark (`layer_payload`) of every video packet `subscriber`
/// received, in order.
fn video_layers(subscriber: &SyntheticSubscriber) -> Vec<u8> {
    subscriber
        .received()
        .into_iter()
        .filter(|r| r.kind == "video")
        .flat_map(|r| r.packets)
        .map(|(_, _, _, d)| layer_of(&d))
        .collect()
}

/// Waits (at most 20 s) for `wanted` among the events that are not offers.
async fn wait_event(others: &Others, wanted: &ForwardEvent) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !others.lock().expect("events").contains(wanted) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {wanted:?} among {:?}",
            others.lock().expect("events")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Tracks of Anne's (`p_anne`) an offer sends.
fn sending_anne(sdp: &str) -> usize {
    sdp.split("\r\nm=")
        .filter(|m| m.contains("msid:p_anne ") && m.contains("a=sendonly"))
        .count()
}

/// `publisher` publishes as `id` (candidates in its offer) and is
/// connected.
async fn publish(
    forwarder: &Forwarder,
    id: &str,
    publisher: SyntheticPublisher,
) -> SyntheticPublisher {
    let offer = publisher.complete_offer().await;
    let answer = forwarder.publish(id, &offer).await.expect("publish");
    publisher.accept_answer(&answer).await;
    publisher.wait_connected(Duration::from_secs(10)).await;
    publisher
}

/// Sends Anne's video (publisher 0) until every one of `subscribers`
/// receives it; the next packet number.
async fn until_received(anne: &SyntheticPublisher, subscribers: &[&SyntheticSubscriber]) -> u32 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0u32;
    while subscribers
        .iter()
        .any(|s| video_from(&s.received(), "p_anne").is_none())
    {
        anne.send_video(n as u16, 3000 * n, true, payload(0, n))
            .await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "Anne's video did not reach everyone"
        );
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_member_receives_the_others_as_sent_and_a_leaver_goes() {
    let (forwarder, events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut subscribers = HashMap::new();
    for id in MEMBERS {
        forwarder.join(id).await.expect("join");
        subscribers.insert(id.to_owned(), Arc::new(SyntheticSubscriber::new().await));
    }
    assert!(matches!(
        forwarder.join(MEMBERS[0]).await,
        Err(ForwardError::AlreadyMember(_))
    ));
    let (pump, offers) = answer_offers(&forwarder, subscribers.clone(), events);

    let mut publishers = Vec::new();
    for id in MEMBERS {
        publishers.push(publish(&forwarder, id, SyntheticPublisher::new().await).await);
    }
    // Bad input changes nothing.
    assert!(matches!(
        forwarder
            .publish("p_nobody", &json!({"type": "offer", "sdp": "v=0"}))
            .await,
        Err(ForwardError::UnknownMember(_))
    ));
    assert!(matches!(
        forwarder
            .publish(MEMBERS[0], &json!({"type": "answer", "sdp": "v=0"}))
            .await,
        Err(ForwardError::BadDescription(_))
    ));
    assert!(matches!(
        forwarder
            .answer(MEMBERS[0], &json!({"type": "answer", "sdp": "not an sdp"}))
            .await,
        Err(ForwardError::BadDescription(_) | ForwardError::NoOffer)
    ));

    // Send until everyone receives both others' video, at most 20 s.
    let bases: Vec<(u16, u32)> = (0..MEMBERS.len())
        .map(|i| (1000 * i as u16 + 7, 90_000 * i as u32 + 11))
        .collect();
    let mut sent = 0u32;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        for (i, publisher) in publishers.iter().enumerate() {
            let (seq, ts) = bases[i];
            let n = sent;
            publisher
                .send_video(
                    seq.wrapping_add(n as u16),
                    ts.wrapping_add(3000 * n),
                    n % 2 == 1,
                    payload(i, n),
                )
                .await;
            publisher
                .send_audio(
                    seq.wrapping_add(n as u16),
                    ts.wrapping_add(960 * n),
                    payload(i, n),
                )
                .await;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let everyone = MEMBERS.iter().all(|me| {
            let received = subscribers[*me].received();
            MEMBERS
                .iter()
                .filter(|other| *other != me)
                .all(|other| video_from(&received, other).is_some_and(|r| r.packets.len() >= 30))
        });
        if everyone {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not everyone receives the others after {sent} packets each: {:?}",
            MEMBERS
                .iter()
                .map(|m| (
                    m,
                    subscribers[*m]
                        .received()
                        .iter()
                        .map(|r| (r.stream.clone(), r.kind.clone(), r.packets.len()))
                        .collect::<Vec<_>>()
                ))
                .collect::<Vec<_>>()
        );
    }

    for me in MEMBERS {
        let received = subscribers[me].received();
        assert!(
            received.iter().all(|r| r.stream != me),
            "{me} receives its own media"
        );
        for (i, other) in MEMBERS.iter().enumerate() {
            if *other == me {
                continue;
            }
            let video = video_from(&received, other).expect("video");
            let (seq, ts) = bases[i];
            let mut previous: Option<u32> = None;
            for (got_seq, got_ts, marker, data) in &video.packets {
                let text = std::str::from_utf8(&data[2..]).expect("a payload as sent");
                let (from, n) = text.split_once(':').expect("publisher:number");
                let n: u32 = n.parse().expect("number");
                assert_eq!(from, i.to_string(), "{me} got {other}'s track with {text}");
                assert_eq!(*data, payload(i, n), "payload intact");
                assert_eq!(*got_seq, seq.wrapping_add(n as u16), "sequence number kept");
                assert_eq!(*got_ts, ts.wrapping_add(3000 * n), "timestamp kept");
                assert_eq!(*marker, n % 2 == 1, "marker kept");
                if let Some(p) = previous {
                    assert!(n > p, "{me} got {other}'s packets out of order");
                }
                previous = Some(n);
            }
            let audio = received
                .iter()
                .find(|r| r.stream == *other && r.kind == "audio")
                .expect("audio from the other");
            assert!(!audio.packets.is_empty(), "{me} hears {other}");
        }
    }
    for (i, publisher) in publishers.iter().enumerate() {
        assert!(
            publisher.keyframe_requests() >= 1,
            "{} was not asked for a keyframe when the others subscribed",
            MEMBERS[i]
        );
    }

    // Anne leaves: Bruno and Chloé get an offer without her tracks.
    for other in &MEMBERS[1..] {
        let offered = offers.lock().expect("offers")[*other].last().cloned();
        assert_eq!(
            sending_anne(&offered.unwrap_or_default()),
            2,
            "{other}'s latest offer sends Anne's audio and video"
        );
    }
    let before: HashMap<String, usize> = offers
        .lock()
        .expect("offers")
        .iter()
        .map(|(k, v)| (k.clone(), v.len()))
        .collect();
    forwarder.leave(MEMBERS[0]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for other in &MEMBERS[1..] {
        loop {
            let latest = offers
                .lock()
                .expect("offers")
                .get(*other)
                .filter(|v| v.len() > before[*other])
                .and_then(|v| v.last().cloned());
            if let Some(sdp) = latest {
                assert_eq!(
                    sending_anne(&sdp),
                    0,
                    "{other} is still offered Anne's tracks:\n{sdp}"
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{other} got no new offer after Anne left"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(matches!(
        forwarder
            .publish(MEMBERS[0], &json!({"type": "offer", "sdp": "v=0"}))
            .await,
        Err(ForwardError::UnknownMember(_))
    ));

    forwarder.close().await;
    pump.abort();
    for p in &publishers {
        p.close().await;
    }
    for s in subscribers.values() {
        s.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_who_vanishes_is_taken_off_the_others_connections() {
    // Anne's publishing peer goes away without a word (its connection
    // closes on her side only): once ICE gives up on it, Bruno is offered
    // his connection without her tracks, and keeps it.
    let (forwarder, events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let bruno = Arc::new(SyntheticSubscriber::new().await);
    forwarder.join("p_anne").await.expect("join");
    forwarder.join("p_bruno").await.expect("join");
    let subscribers = HashMap::from([("p_bruno".to_owned(), Arc::clone(&bruno))]);
    let (pump, offers, others) = answer_offers_keeping(&forwarder, subscribers, events);
    let bruno_offers = || offers.lock().expect("offers")["p_bruno"].clone();
    let anne = publish(&forwarder, "p_anne", SyntheticPublisher::new().await).await;
    until_received(&anne, &[&bruno]).await;
    let offered = bruno_offers().len();
    assert!(sending_anne(&bruno_offers()[offered - 1]) > 0);
    anne.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let latest = {
            let offers = bruno_offers();
            (offers.len() > offered).then(|| offers[offers.len() - 1].clone())
        };
        if let Some(sdp) = latest {
            assert_eq!(
                sending_anne(&sdp),
                0,
                "Anne's tracks are still offered:\n{sdp}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Bruno was not offered a connection without Anne's tracks"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        offers.lock().expect("offers").len(),
        1,
        "only Bruno subscribes to anything"
    );
    // The owner is told, to have her publish again.
    wait_event(
        &others,
        &ForwardEvent::ConnectionFailed {
            member: "p_anne".into(),
            side: Side::Publish,
        },
    )
    .await;
    // Anne is still a member and may publish again.
    let again = SyntheticPublisher::new().await;
    let offer = again.complete_offer().await;
    assert!(forwarder.publish("p_anne", &offer).await.is_ok());
    forwarder.close().await;
    pump.abort();
    again.close().await;
    bruno.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_candidates_are_held_until_their_description_is_set() {
    // Browsers trickle their candidates: Anne's arrive before her offer is
    // handed over, Bruno's after the answer; both connect. A candidate that
    // is not one, or one too many before the offer, is refused clearly.
    let (forwarder, _events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    forwarder.join("p_anne").await.expect("join");
    forwarder.join("p_bruno").await.expect("join");

    let anne = SyntheticPublisher::new().await;
    let offer = anne.offer().await;
    assert!(
        !offer["sdp"]
            .as_str()
            .unwrap_or_default()
            .contains("a=candidate"),
        "a trickling offer has no candidate"
    );
    // The same offer made larger than any browser's is refused for its
    // size, and nothing is published.
    let mut huge = offer.clone();
    huge["sdp"] = json!(format!(
        "{}a=x-padding:{}\r\n",
        offer["sdp"].as_str().unwrap_or_default(),
        "x".repeat(130 * 1024)
    ));
    match forwarder.publish("p_anne", &huge).await {
        Err(ForwardError::BadDescription(why)) => assert!(why.contains("at most"), "{why}"),
        other => panic!("a 130 KiB offer was not refused for its size: {other:?}"),
    }
    for candidate in anne.candidates().await {
        forwarder
            .add_candidate("p_anne", Side::Publish, &candidate)
            .await
            .expect("held");
    }
    forwarder
        .add_candidate("p_anne", Side::Publish, &json!({"candidate": ""}))
        .await
        .expect("the end of candidates is accepted");
    let answer = forwarder.publish("p_anne", &offer).await.expect("publish");
    anne.accept_answer(&answer).await;
    anne.wait_connected(Duration::from_secs(10)).await;

    let bruno = SyntheticPublisher::new().await;
    let offer = bruno.offer().await;
    let answer = forwarder.publish("p_bruno", &offer).await.expect("publish");
    bruno.accept_answer(&answer).await;
    for candidate in bruno.candidates().await {
        forwarder
            .add_candidate("p_bruno", Side::Publish, &candidate)
            .await
            .expect("applied at once");
    }
    bruno.wait_connected(Duration::from_secs(10)).await;

    for bad in [
        json!(42),
        json!({"candidate": 7}),
        json!("candidate:1 1 udp"),
    ] {
        assert!(
            matches!(
                forwarder.add_candidate("p_anne", Side::Publish, &bad).await,
                Err(ForwardError::BadCandidate(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        forwarder
            .add_candidate("p_nobody", Side::Publish, &json!({"candidate": ""}))
            .await,
        Err(ForwardError::UnknownMember(_))
    ));
    // Before any subscribe answer, candidates wait; the 65th is refused.
    let candidate = json!({
        "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0
    });
    for _ in 0..64 {
        forwarder
            .add_candidate("p_anne", Side::Subscribe, &candidate)
            .await
            .expect("held");
    }
    assert!(matches!(
        forwarder
            .add_candidate("p_anne", Side::Subscribe, &candidate)
            .await,
        Err(ForwardError::BadCandidate(_))
    ));
    forwarder.close().await;
    anne.close().await;
    bruno.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_camera_on_one_connection_is_not_forwarded() {
    // One camera and one microphone per member: Anne's connection carries
    // a second video track, which nobody receives; her first one goes on.
    let AnneToBruno {
        forwarder,
        bruno,
        pump,
        ..
    } = anne_to_bruno().await;
    let anne = SyntheticPublisher::with_config(cadre_tests::media::PublisherConfig {
        second_video: true,
        ..Default::default()
    })
    .await;
    let offer = anne.complete_offer().await;
    assert_eq!(
        offer["sdp"]
            .as_str()
            .unwrap_or_default()
            .matches("m=video")
            .count(),
        2,
        "the offer carries two cameras"
    );
    let answer = forwarder.publish("p_anne", &offer).await.expect("publish");
    anne.accept_answer(&answer).await;
    anne.wait_connected(Duration::from_secs(10)).await;
    let mut n = until_received(&anne, &[&bruno]).await;
    // Now both cameras send.
    for k in 0..50u32 {
        anne.send_second_video(k as u16, 3000 * k, payload(9, k))
            .await;
        anne.send_video(n as u16, 3000 * n, true, payload(0, n))
            .await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = bruno.received();
    let videos: Vec<&Received> = received
        .iter()
        .filter(|r| r.stream == "p_anne" && r.kind == "video")
        .collect();
    assert_eq!(videos.len(), 1, "one camera of Anne's is offered");
    let first_only = videos[0]
        .packets
        .iter()
        .all(|(_, _, _, data)| data.starts_with(&payload(0, 0)[..3]));
    assert!(first_only, "the second camera's packets reached Bruno");
    let (_, _, _, last) = videos[0].packets.last().expect("packets");
    assert!(
        videos[0].packets.len() > 40 && *last == payload(0, n - 1),
        "the first camera goes on: {} packets, last {:?}",
        videos[0].packets.len(),
        String::from_utf8_lossy(last)
    );
    pump.abort();
    forwarder.close().await;
    anne.close().await;
    bruno.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_who_vanishes_holds_nobody_up() {
    // Bruno's subscribing peer goes away without a word while Anne keeps
    // sending: the server goes on writing to a connection nobody reads,
    // and Chloé receives every packet Anne sends, in order.
    let (forwarder, events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut subscribers = HashMap::new();
    for id in ["p_anne", "p_bruno", "p_chloe"] {
        forwarder.join(id).await.expect("join");
        subscribers.insert(id.to_owned(), Arc::new(SyntheticSubscriber::new().await));
    }
    let (pump, _offers, others) = answer_offers_keeping(&forwarder, subscribers.clone(), events);
    let anne = publish(&forwarder, "p_anne", SyntheticPublisher::new().await).await;
    let mut n = until_received(&anne, &[&subscribers["p_bruno"], &subscribers["p_chloe"]]).await;
    subscribers["p_bruno"].close().await;
    let first = n;
    for _ in 0..100 {
        anne.send_video(n as u16, 3000 * n, true, payload(0, n))
            .await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let received = subscribers["p_chloe"].received();
        let numbers: Vec<u32> = video_from(&received, "p_anne")
            .expect("Chloé's track")
            .packets
            .iter()
            .filter_map(|(_, _, _, data)| {
                std::str::from_utf8(&data[2..])
                    .ok()
                    .and_then(|t| t.split_once(':'))
                    .and_then(|(_, k)| k.parse().ok())
            })
            .filter(|k| *k >= first)
            .collect();
        if numbers.len() == 100 {
            assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Chloé got {} of Anne's 100 packets after Bruno vanished",
            numbers.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Once ICE gives up on Bruno's connection, the owner is told.
    wait_event(
        &others,
        &ForwardEvent::ConnectionFailed {
            member: "p_bruno".into(),
            side: Side::Subscribe,
        },
    )
    .await;
    pump.abort();
    forwarder.close().await;
    anne.close().await;
    subscribers["p_chloe"].close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribers_keyframe_request_reaches_the_publisher_at_a_bounded_rate() {
    // Bruno's decoder lost its place and asks the server for a keyframe:
    // only Anne can make one, so the request goes to her. A burst of
    // requests (from Bruno, or from a whole class at once) reaches her as
    // one, plus the one sent at the end of the interval (three if the
    // burst straddles two intervals on a stalled machine), never twenty.
    let AnneToBruno {
        forwarder,
        bruno,
        pump,
        ..
    } = anne_to_bruno().await;
    let anne = publish(&forwarder, "p_anne", SyntheticPublisher::new().await).await;
    until_received(&anne, &[&bruno]).await;
    // Past the subscription's own request and its interval.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = anne.keyframe_requests();
    assert!(before >= 1, "asked on subscription");

    assert!(bruno.request_keyframe("p_anne").await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while anne.keyframe_requests() == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Bruno's keyframe request never reached Anne"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_one = anne.keyframe_requests();
    for _ in 0..20 {
        assert!(bruno.request_keyframe("p_anne").await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let burst = anne.keyframe_requests() - after_one;
    assert!(
        (1..=3).contains(&burst),
        "20 requests at once reached Anne as {burst}"
    );
    pump.abort();
    forwarder.close().await;
    anne.close().await;
    bruno.close().await;
}

/// The layer (0, 1, 2), whether it starts a keyframe, and the frame number
/// of a simulcast test payload: descriptor, VP8 header (P clear on a
/// keyframe), layer, number.
fn layer_payload(layer: u8, key: bool, n: u32) -> Vec<u8> {
    let mut p = vec![0x10, if key { 0x00 } else { 0x01 }, layer];
    p.extend_from_slice(&n.to_be_bytes());
    p
}

fn layer_of(data: &[u8]) -> u8 {
    data[2]
}

/// A publisher whose camera sends three simulcast layers.
async fn simulcast() -> SyntheticPublisher {
    SyntheticPublisher::with_config(PublisherConfig {
        simulcast: true,
        ..Default::default()
    })
    .await
}

/// Sends `frames` frames of each of the three layers, 20 ms apart; each
/// layer has a keyframe every 10th frame, the layers at different frames.
async fn send_frames(
    anne: &SyntheticPublisher,
    clocks: &mut [(u16, u32)],
    n: &mut u32,
    frames: u32,
) {
    for _ in 0..frames {
        for (layer, clock) in clocks.iter_mut().enumerate() {
            let (seq, ts) = *clock;
            *clock = (seq.wrapping_add(1), ts.wrapping_add(3000));
            let key = (*n + 3 * layer as u32).is_multiple_of(10);
            anne.send_layer(layer, seq, ts, true, layer_payload(layer as u8, key, *n))
                .await;
        }
        *n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulcast_camera_reaches_each_subscriber_in_the_layer_wished_with_continuous_numbers() {
    use cadre_protocol::signalling::VideoQuality;
    let AnneToBruno {
        forwarder,
        bruno,
        pump,
        ..
    } = anne_to_bruno().await;
    let anne = publish(&forwarder, "p_anne", simulcast().await).await;
    let ssrcs = anne.layer_ssrcs();

    // Three encodings, each with its own numbering; a keyframe every 10th
    // frame of each, at different frames.
    let mut clocks: Vec<(u16, u32)> = vec![(100, 1_000), (30_000, 500_000), (65_000, 9_000_000)];
    let mut n = 0u32;
    // Bruno sees the lowest layer at first (a thumbnail).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let received = |bruno: &SyntheticSubscriber| -> Vec<(u16, u32, bool, Vec<u8>)> {
        bruno
            .received()
            .into_iter()
            .filter(|r| r.kind == "video")
            .flat_map(|r| r.packets)
            .collect()
    };
    while received(&bruno).len() < 20 {
        send_frames(&anne, &mut clocks, &mut n, 1).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "no video reached Bruno"
        );
    }
    assert!(
        received(&bruno).iter().all(|(_, _, _, d)| layer_of(d) == 0),
        "only the lowest layer before Bruno says more"
    );

    // Bruno's tile grows: the highest layer, from its next keyframe, which
    // the server asks Anne for.
    let asked_before = anne.keyframe_ssrcs().len();
    forwarder
        .view("p_bruno", &[("p_anne".to_owned(), VideoQuality::High)])
        .await
        .expect("view");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !received(&bruno).iter().any(|(_, _, _, d)| layer_of(d) == 2) {
        send_frames(&anne, &mut clocks, &mut n, 1).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the high layer never came"
        );
    }
    assert!(
        anne.keyframe_ssrcs()[asked_before..].contains(&ssrcs[2]),
        "a keyframe of the high layer was asked for: {:?} (layers {ssrcs:?})",
        anne.keyframe_ssrcs()
    );
    // Paused (tile off screen), then back to a thumbnail.
    send_frames(&anne, &mut clocks, &mut n, 10).await;
    forwarder
        .view("p_bruno", &[("p_anne".to_owned(), VideoQuality::Off)])
        .await
        .expect("view");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let paused_at = received(&bruno).len();
    send_frames(&anne, &mut clocks, &mut n, 15).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        received(&bruno).len(),
        paused_at,
        "nothing while off screen"
    );
    forwarder
        .view("p_bruno", &[("p_anne".to_owned(), VideoQuality::Low)])
        .await
        .expect("view");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while received(&bruno).len() < paused_at + 10 {
        send_frames(&anne, &mut clocks, &mut n, 1).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the thumbnail never came back"
        );
    }

    // One stream for Bruno: every packet one after the other, timestamps
    // moving forward, each layer change at a keyframe.
    let packets = received(&bruno);
    for pair in packets.windows(2) {
        let ((s0, t0, _, d0), (s1, t1, _, d1)) = (&pair[0], &pair[1]);
        assert_eq!(
            s1.wrapping_sub(*s0),
            1,
            "sequence numbers follow each other"
        );
        assert!(
            t1.wrapping_sub(*t0) > 0 && t1.wrapping_sub(*t0) < 0x8000_0000,
            "timestamps move forward ({t0} → {t1})"
        );
        if layer_of(d0) != layer_of(d1) {
            assert_eq!(d1[1], 0x00, "a switch lands on a keyframe");
        }
    }
    let layers_seen: Vec<u8> = packets.iter().map(|(_, _, _, d)| layer_of(d)).collect();
    assert!(
        layers_seen.contains(&0) && layers_seen.contains(&2),
        "{layers_seen:?}"
    );
    assert_eq!(
        *layers_seen.last().expect("packets"),
        0,
        "back to the thumbnail"
    );
    pump.abort();
    forwarder.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_in_a_codec_not_offered_is_refused_and_the_microphone_goes_on() {
    let AnneToBruno {
        forwarder,
        bruno,
        pump,
        offers,
    } = anne_to_bruno().await;
    // Anne's browser can only send its camera in H.264.
    let anne = SyntheticPublisher::with_config(PublisherConfig {
        h264_only: true,
        ..Default::default()
    })
    .await;
    let offer = anne.complete_offer().await;
    assert!(offer["sdp"].as_str().unwrap_or_default().contains("H264"));
    let answer = forwarder
        .publish("p_anne", &offer)
        .await
        .expect("the microphone is taken");
    // The answer refuses the camera's section (port 0), takes the sound.
    let sdp = answer["sdp"].as_str().unwrap_or_default();
    assert!(
        sdp.contains("\r\nm=video 0 "),
        "the camera is refused: {sdp}"
    );
    assert!(sdp.contains("opus/48000"), "the microphone is taken: {sdp}");
    anne.accept_answer(&answer).await;
    anne.wait_connected(Duration::from_secs(10)).await;
    // Anne's sound reaches Bruno; no picture of hers is ever offered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0u32;
    while !bruno
        .received()
        .iter()
        .any(|r| r.stream == "p_anne" && r.kind == "audio" && r.count > 10)
    {
        anne.send_audio(n as u16, 960 * n, vec![0xf8, 0xff, 0xfe])
            .await;
        // Sent on a refused section: it goes nowhere.
        anne.send_video(n as u16, 3000 * n, true, payload(0, n))
            .await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "Anne's sound never came"
        );
    }
    assert!(
        bruno
            .received()
            .iter()
            .all(|r| !(r.stream == "p_anne" && r.kind == "video")),
        "no video of Anne's"
    );
    let sdps = offers.lock().expect("offers")["p_bruno"].clone();
    let last = sdps.last().expect("an offer");
    assert!(
        !last
            .split("\r\nm=")
            .any(|m| m.starts_with("video") && m.contains("msid:p_anne ")),
        "Bruno is offered no camera of Anne's"
    );
    pump.abort();
    forwarder.close().await;
}

/// The three joined; Anne and Chloé publish a simulcast camera each;
/// Bruno's subscriber answers every offer.
struct AnneAndChloeToBruno {
    forwarder: Forwarder,
    pump: tokio::task::JoinHandle<()>,
    bruno: Arc<SyntheticSubscriber>,
    anne: SyntheticPublisher,
    chloe: SyntheticPublisher,
}

async fn anne_and_chloe_to_bruno() -> AnneAndChloeToBruno {
    let (forwarder, events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    for id in MEMBERS {
        forwarder.join(id).await.expect("join");
    }
    let bruno = Arc::new(SyntheticSubscriber::new().await);
    let (pump, _) = answer_offers(
        &forwarder,
        HashMap::from([("p_bruno".to_owned(), Arc::clone(&bruno))]),
        events,
    );
    let anne = publish(&forwarder, "p_anne", simulcast().await).await;
    let chloe = publish(&forwarder, "p_chloe", simulcast().await).await;
    AnneAndChloeToBruno {
        forwarder,
        pump,
        bruno,
        anne,
        chloe,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_unannounced_and_replayed_packets_reach_nobody() {
    let AnneAndChloeToBruno {
        forwarder,
        pump,
        bruno,
        anne,
        chloe,
    } = anne_and_chloe_to_bruno().await;
    let chloe_ssrc = chloe.layer_ssrcs()[0];
    // Marks in the payload: Anne's own, Chloé's own, forged, replayed.
    let (own_a, own_c, forged, replayed) = (0xA, 0xC, 0xF, 0xE);
    let packet = |mark: u8, n: u32| {
        let mut p = vec![0x10, 0x00, mark];
        p.extend_from_slice(&n.to_be_bytes());
        p
    };
    let from = |stream: &str| -> Vec<(u16, Vec<u8>)> {
        bruno
            .received()
            .into_iter()
            .filter(|r| r.stream == stream && r.kind == "video")
            .flat_map(|r| r.packets.into_iter().map(|(seq, _, _, d)| (seq, d)))
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0u32;
    while from("p_anne").len() < 40 || from("p_chloe").len() < 40 {
        let (seq, ts) = (1000u16.wrapping_add(n as u16), 3000 * n);
        anne.send_layer(0, seq, ts, true, packet(own_a, n)).await;
        chloe.send_layer(0, seq, ts, true, packet(own_c, n)).await;
        // Anne claims Chloé's encoding, an encoding nobody announced (with
        // a known RID and with an unknown one), and sends her own packet
        // again with other content.
        anne.send_forged(chloe_ssrc, "q", seq, ts, packet(forged, n))
            .await;
        anne.send_forged(0x0bad_beef, "q", seq, ts, packet(forged, n))
            .await;
        anne.send_forged(0x0bad_c0de, "z", seq, ts, packet(forged, n))
            .await;
        anne.send_layer(0, seq, ts, true, packet(replayed, n)).await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "Bruno does not receive both cameras: {} / {}",
            from("p_anne").len(),
            from("p_chloe").len()
        );
    }
    let anne_got = from("p_anne");
    let chloe_got = from("p_chloe");
    assert!(
        anne_got.iter().all(|(_, d)| d[2] == own_a),
        "only Anne's own packets on her track: {:?}",
        anne_got.iter().map(|(_, d)| d[2]).collect::<Vec<_>>()
    );
    assert!(
        chloe_got.iter().all(|(_, d)| d[2] == own_c),
        "nothing of Anne's on Chloé's track: {:?}",
        chloe_got.iter().map(|(_, d)| d[2]).collect::<Vec<_>>()
    );
    let mut seqs: Vec<u16> = anne_got.iter().map(|(s, _)| *s).collect();
    let all = seqs.len();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), all, "no packet twice");
    pump.abort();
    forwarder.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_lost_on_the_way_to_a_subscriber_is_sent_again_from_the_servers_cache() {
    let (forwarder, events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    forwarder.join("p_anne").await.expect("join");
    forwarder.join("p_bruno").await.expect("join");
    let bruno = Arc::new(SyntheticSubscriber::new().await);
    let (pump, offers, _, relays) = answer_offers_relaying(
        &forwarder,
        HashMap::from([("p_bruno".to_owned(), Arc::clone(&bruno))]),
        &["p_bruno"],
        events,
    );
    let anne = publish(&forwarder, "p_anne", SyntheticPublisher::new().await).await;
    let mut n = until_received(&anne, &[&bruno]).await;
    let relay = relay_of(&relays, "p_bruno").await;
    let vp8 = vp8_payload_type(&offers.lock().expect("offers")["p_bruno"][0]);

    // The relay loses one of Anne's video packets on its way to Bruno; his
    // connection asks for it again (NACK) and the server, which keeps what
    // it sent for a while, sends it once more.
    relay.set(Policy::DropOnce {
        payload_type: vp8,
        nth: 10,
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let lost = loop {
        anne.send_video(n as u16, 3000 * n, true, payload(0, n))
            .await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let seen = relay.seen();
        if let Some(lost) = seen.iter().find(|s| s.dropped).copied()
            && seen
                .iter()
                .any(|s| !s.dropped && s.ssrc == lost.ssrc && s.sequence == lost.sequence)
        {
            break lost;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the packet lost was never sent again: {:?}",
            relay
                .seen()
                .iter()
                .filter(|s| s.dropped)
                .collect::<Vec<_>>()
        );
    };
    for _ in 0..10 {
        anne.send_video(n as u16, 3000 * n, true, payload(0, n))
            .await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Bruno has every packet from his first to his last, the lost one
    // included, each with what Anne sent.
    let received = bruno.received();
    let video = video_from(&received, "p_anne").expect("Anne's video");
    let lost_packet = video
        .packets
        .iter()
        .find(|(seq, ..)| *seq == lost.sequence)
        .unwrap_or_else(|| panic!("Bruno never got packet {}", lost.sequence));
    let numbers: Vec<u32> = video
        .packets
        .iter()
        .map(|(_, _, _, d)| {
            std::str::from_utf8(&d[2..])
                .ok()
                .and_then(|t| t.strip_prefix("0:"))
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("not Anne's payload: {d:?}"))
        })
        .collect();
    let (first, last) = (numbers[0], *numbers.last().expect("packets"));
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted,
        (first..=last).collect::<Vec<_>>(),
        "every packet from {first} to {last}"
    );
    let resent = numbers[video
        .packets
        .iter()
        .position(|p| p == lost_packet)
        .expect("found")];
    let (_, ts, _, _) = lost_packet;
    assert_eq!(*ts, 3000 * resent, "the packet sent again is the one lost");
    pump.abort();
    forwarder.close().await;
    anne.close().await;
    bruno.close().await;
}

/// Three members; Bruno and Chloé subscribe, Bruno through a relay.
struct Relayed {
    forwarder: Forwarder,
    pump: tokio::task::JoinHandle<()>,
    others: Others,
    relays: Relays,
    bruno: Arc<SyntheticSubscriber>,
    chloe: Arc<SyntheticSubscriber>,
}

async fn bruno_relayed_chloe_direct() -> Relayed {
    let (forwarder, events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    for id in MEMBERS {
        forwarder.join(id).await.expect("join");
    }
    let bruno = Arc::new(SyntheticSubscriber::new().await);
    let chloe = Arc::new(SyntheticSubscriber::new().await);
    let (pump, _, others, relays) = answer_offers_relaying(
        &forwarder,
        HashMap::from([
            ("p_bruno".to_owned(), Arc::clone(&bruno)),
            ("p_chloe".to_owned(), Arc::clone(&chloe)),
        ]),
        &["p_bruno"],
        events,
    );
    Relayed {
        forwarder,
        pump,
        others,
        relays,
        bruno,
        chloe,
    }
}

/// Simulcast frames of a realistic weight: one packet per layer and
/// frame, 50 frames a second, about 60, 200 and 440 kbit/s of payload; a
/// keyframe every 10th frame of each layer, the layers at different frames.
struct SizedFrames {
    clocks: [(u16, u32); 3],
    n: u32,
}

impl Default for SizedFrames {
    fn default() -> Self {
        SizedFrames {
            clocks: [(100, 1_000), (30_000, 500_000), (65_000, 9_000_000)],
            n: 0,
        }
    }
}

impl SizedFrames {
    const SIZES: [usize; 3] = [150, 500, 1100];

    /// One frame of every layer from each of `publishers`, then 20 ms.
    async fn send(&mut self, publishers: &[&SyntheticPublisher]) {
        for (layer, clock) in self.clocks.iter_mut().enumerate() {
            let (seq, ts) = *clock;
            *clock = (seq.wrapping_add(1), ts.wrapping_add(3000));
            let key = (self.n + 3 * layer as u32).is_multiple_of(10);
            let mut p = layer_payload(layer as u8, key, self.n);
            p.resize(Self::SIZES[layer], 0);
            for publisher in publishers {
                publisher.send_layer(layer, seq, ts, true, p.clone()).await;
            }
        }
        self.n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_congested_subscriber_is_sent_a_lower_layer_and_nobody_else_is() {
    use cadre_protocol::signalling::VideoQuality;
    let Relayed {
        forwarder,
        pump,
        others,
        relays,
        bruno,
        chloe,
    } = bruno_relayed_chloe_direct().await;
    let anne = publish(&forwarder, "p_anne", simulcast().await).await;
    for member in ["p_bruno", "p_chloe"] {
        forwarder
            .view(member, &[("p_anne".to_owned(), VideoQuality::High)])
            .await
            .expect("view");
    }
    let mut frames = SizedFrames::default();
    // Both are sent the high layer.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ![&bruno, &chloe]
        .iter()
        .all(|s| video_layers(s).last() == Some(&2))
    {
        frames.send(&[&anne]).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the high layer never reached both: {:?} / {:?}",
            video_layers(&bruno).last(),
            video_layers(&chloe).last()
        );
    }

    // Bruno's downlink carries 250 kbit/s from now on: the high layer no
    // longer fits. His reports of loss bring him down a layer; Chloé's
    // link is clean and she keeps the high one.
    let relay = relay_of(&relays, "p_bruno").await;
    relay.set(Policy::Police {
        bits_per_second: 250_000,
    });
    let (bruno_from, chloe_from) = (video_layers(&bruno).len(), video_layers(&chloe).len());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !video_layers(&bruno)[bruno_from..].iter().any(|l| *l < 2) {
        frames.send(&[&anne]).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "Bruno was never sent less over a congested link"
        );
    }
    for _ in 0..100 {
        frames.send(&[&anne]).await;
    }
    let chloe_since = &video_layers(&chloe)[chloe_from..];
    assert!(
        chloe_since.len() > 100,
        "Chloé kept receiving: {}",
        chloe_since.len()
    );
    assert!(
        chloe_since.iter().all(|l| *l == 2),
        "Chloé stays on the high layer"
    );
    // What the server heard of each downlink.
    let downlink = |member: &str| -> f64 {
        others
            .lock()
            .expect("events")
            .iter()
            .filter_map(|e| match e {
                ForwardEvent::Conditions {
                    member: m,
                    downlink_loss,
                    ..
                } if m == member => *downlink_loss,
                _ => None,
            })
            .fold(0.0, f64::max)
    };
    assert!(downlink("p_bruno") > 0.05, "{}", downlink("p_bruno"));
    assert!(downlink("p_chloe") < 0.05, "{}", downlink("p_chloe"));
    pump.abort();
    forwarder.close().await;
    anne.close().await;
}

/// The layer marks of `stream`'s video packets that `subscriber` received,
/// in order, and their payload bytes in all.
fn layers_of(subscriber: &SyntheticSubscriber, stream: &str) -> (Vec<u8>, usize) {
    let packets: Vec<Vec<u8>> = subscriber
        .received()
        .into_iter()
        .filter(|r| r.stream == stream && r.kind == "video")
        .flat_map(|r| r.packets.into_iter().map(|(_, _, _, d)| d))
        .collect();
    (
        packets.iter().map(|d| layer_of(d)).collect(),
        packets.iter().map(Vec::len).sum(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_estimate_that_only_follows_what_a_subscriber_receives_does_not_hold_a_camera_back() {
    // It follows a rate over seconds: not beside a cluster of nodes.
    let _alone = cadre_tests::heavy().await;
    use cadre_protocol::signalling::VideoQuality;
    let AnneAndChloeToBruno {
        forwarder,
        pump,
        bruno,
        anne,
        chloe,
    } = anne_and_chloe_to_bruno().await;
    forwarder
        .view(
            "p_bruno",
            &[
                ("p_anne".to_owned(), VideoQuality::High),
                ("p_chloe".to_owned(), VideoQuality::High),
            ],
        )
        .await
        .expect("view");
    let mut frames = SizedFrames::default();
    let both_high = |bruno: &SyntheticSubscriber, from: (usize, usize)| {
        let (anne, _) = layers_of(bruno, "p_anne");
        let (chloe, _) = layers_of(bruno, "p_chloe");
        anne.len() > from.0 + 20
            && chloe.len() > from.1 + 20
            && anne.last() == Some(&2)
            && chloe.last() == Some(&2)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !both_high(&bruno, (0, 0)) {
        frames.send(&[&anne, &chloe]).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "both high layers never reached Bruno"
        );
    }

    // Bruno's downlink is congested: he estimates 100 kbit/s, well below
    // the two high layers he is sent, and is sent less.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let lowered = |bruno: &SyntheticSubscriber| {
        let (anne, _) = layers_of(bruno, "p_anne");
        let (chloe, _) = layers_of(bruno, "p_chloe");
        (anne.len(), chloe.len())
    };
    let mut at = lowered(&bruno);
    loop {
        assert!(bruno.send_estimate(100_000).await, "an estimate sent");
        for _ in 0..10 {
            frames.send(&[&anne, &chloe]).await;
        }
        let now = lowered(&bruno);
        let (anne, _) = layers_of(&bruno, "p_anne");
        let (chloe, _) = layers_of(&bruno, "p_chloe");
        // Lowered: neither is on its high layer any more, or one of them
        // is paused (one low layer is all that fits).
        let anne_high = now.0 > at.0 && anne[at.0..].iter().all(|l| *l == 2);
        let chloe_high = now.1 > at.1 && chloe[at.1..].iter().all(|l| *l == 2);
        if !anne_high && !chloe_high {
            break;
        }
        at = now;
        assert!(
            tokio::time::Instant::now() < deadline,
            "an estimate below what Bruno is sent never lowered it"
        );
    }

    // From now on Bruno's estimate does what a browser's does: it follows
    // what arrives, at most half as much again and 10 kbit/s. Were it a
    // bound, a camera paused to fit 100 kbit/s would never come back: it
    // is not sent, so the estimate never makes room for it. Both come
    // back, on their high layers, as the server probes upwards.
    let from = lowered(&bruno);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last = (
        tokio::time::Instant::now(),
        layers_of(&bruno, "p_anne").1 + layers_of(&bruno, "p_chloe").1,
    );
    while !both_high(&bruno, from) {
        for _ in 0..10 {
            frames.send(&[&anne, &chloe]).await;
        }
        let bytes = layers_of(&bruno, "p_anne").1 + layers_of(&bruno, "p_chloe").1;
        let seconds = last.0.elapsed().as_secs_f64();
        let incoming = ((bytes - last.1) as f64 * 8.0 / seconds) as u64;
        last = (tokio::time::Instant::now(), bytes);
        bruno.send_estimate(incoming * 3 / 2 + 10_000).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "a camera held back by an estimate that follows what arrives: Anne's last layers {:?}, Chloé's {:?}",
            layers_of(&bruno, "p_anne")
                .0
                .iter()
                .rev()
                .take(5)
                .collect::<Vec<_>>(),
            layers_of(&bruno, "p_chloe")
                .0
                .iter()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
        );
    }
    pump.abort();
    forwarder.close().await;
    anne.close().await;
    chloe.close().await;
}

/// Packets of `stream`'s `kind` that `subscriber` received.
fn count(subscriber: &SyntheticSubscriber, stream: &str, kind: &str) -> u64 {
    subscriber
        .received()
        .iter()
        .filter(|r| r.stream == stream && r.kind == kind)
        .map(|r| r.count)
        .sum()
}

/// Waits (at most 20 s) until `subscriber` has `more` packets of
/// `stream`'s `kind` beyond `from`.
async fn until_more(
    subscriber: &SyntheticSubscriber,
    stream: &str,
    kind: &str,
    from: u64,
    more: u64,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(subscriber, stream, kind) < from + more {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{stream}'s {kind} stopped: {} packets, {from} before",
            count(subscriber, stream, kind)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_track_whose_forwarding_fails_or_stalls_harms_nothing_else() {
    use cadre_server::forward::Fault;
    // Two sessions on one server: Anne to Bruno, Chloé to David.
    let mut sessions = Vec::new();
    for (publisher, subscriber) in [("p_anne", "p_bruno"), ("p_chloe", "p_david")] {
        let (forwarder, events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
        forwarder.join(publisher).await.expect("join");
        forwarder.join(subscriber).await.expect("join");
        let receiver = Arc::new(SyntheticSubscriber::new().await);
        let (pump, offers) = answer_offers(
            &forwarder,
            HashMap::from([(subscriber.to_owned(), Arc::clone(&receiver))]),
            events,
        );
        let sender = publish(&forwarder, publisher, SyntheticPublisher::new().await).await;
        sender.start_media();
        sessions.push((forwarder, pump, offers, sender, receiver));
    }
    let (anne_session, chloe_session) = (&sessions[0], &sessions[1]);
    let (bruno, david) = (&anne_session.4, &chloe_session.4);
    for kind in ["audio", "video"] {
        until_more(bruno, "p_anne", kind, 0, 10).await;
        until_more(david, "p_chloe", kind, 0, 10).await;
    }

    // Forwarding Anne's camera meets a bug: her camera is taken off
    // Bruno's connection (no picture frozen for good), her microphone
    // still reaches him, and the other session never notices.
    let offered = anne_session.2.lock().expect("offers")["p_bruno"].len();
    anne_session.0.plan_fault("p_anne", "video", Fault::Panic);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let offers = anne_session.2.lock().expect("offers")["p_bruno"].clone();
        if offers.len() > offered
            && let Some(last) = offers.last()
            && !last.split("\r\nm=").any(|m| {
                m.starts_with("video") && m.contains("msid:p_anne ") && m.contains("a=sendonly")
            })
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Anne's camera stayed on Bruno's connection after its forwarding failed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (audio, video) = (
        count(bruno, "p_anne", "audio"),
        count(david, "p_chloe", "video"),
    );
    until_more(bruno, "p_anne", "audio", audio, 25).await;
    until_more(david, "p_chloe", "video", video, 10).await;

    // Forwarding Chloé's camera gets stuck: her microphone still reaches
    // David, and Anne's still reaches Bruno.
    chloe_session.0.plan_fault("p_chloe", "video", Fault::Stall);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stuck_at = count(david, "p_chloe", "video");
    let (anne_audio, chloe_audio) = (
        count(bruno, "p_anne", "audio"),
        count(david, "p_chloe", "audio"),
    );
    until_more(david, "p_chloe", "audio", chloe_audio, 25).await;
    until_more(bruno, "p_anne", "audio", anne_audio, 25).await;
    assert_eq!(
        count(david, "p_chloe", "video"),
        stuck_at,
        "the stalled camera sends nothing"
    );

    // Each session ends, the stuck one too (within its grace).
    for (forwarder, pump, _, sender, receiver) in &sessions {
        pump.abort();
        tokio::time::timeout(Duration::from_secs(20), forwarder.close())
            .await
            .expect("a forwarder closes even with a task stuck");
        sender.close().await;
        receiver.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_measures_each_members_round_trip_and_the_jitter_of_their_sound() {
    let Relayed {
        forwarder,
        pump,
        others,
        relays,
        bruno,
        chloe: _,
    } = bruno_relayed_chloe_direct().await;
    let anne = publish(&forwarder, "p_anne", SyntheticPublisher::new().await).await;
    anne.start_media();
    until_more(&bruno, "p_anne", "audio", 0, 10).await;
    // What reaches Bruno from the server takes 400 ms more from now on.
    relay_of(&relays, "p_bruno")
        .await
        .set(Policy::Delay { ms: 400 });
    let since = others.lock().expect("events").len();
    // The last round trip (`rtt`) or jitter the server measured of `member`.
    let latest = |member: &str, rtt: bool| -> Option<f64> {
        others.lock().expect("events")[since..]
            .iter()
            .rev()
            .find_map(|e| match e {
                ForwardEvent::Conditions {
                    member: m,
                    rtt_ms,
                    jitter_ms,
                    ..
                } if m == member => {
                    if rtt {
                        *rtt_ms
                    } else {
                        *jitter_ms
                    }
                }
                _ => None,
            })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !latest("p_bruno", true).is_some_and(|rtt| rtt >= 350.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never measured Bruno's long way round: {:?}",
            latest("p_bruno", true)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let chloe_rtt = latest("p_chloe", true);
    assert!(
        chloe_rtt.is_some_and(|rtt| rtt < 100.0),
        "Chloé is next door: {chloe_rtt:?}"
    );
    // Anne's sound arrives every 20 ms on loopback: a little jitter (the
    // timer's), far below the 50 ms that would make her poor. Read in the
    // wrong unit it would be some 50 times too large (48 kHz clock ticks
    // as ms) or 1,000 times too small.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while latest("p_anne", false).is_none_or(|j| j == 0.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no jitter measured of Anne's sound"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let jitter = latest("p_anne", false);
    assert!(
        jitter.is_some_and(|j| (0.01..20.0).contains(&j)),
        "Anne's jitter: {jitter:?} ms"
    );
    pump.abort();
    forwarder.close().await;
    anne.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_group_hears_the_last_five_to_speak_without_a_gap_in_anyones_numbering() {
    // Seven microphones (more than the five a group hears) and a listener.
    let speakers: Vec<String> = (0..7).map(|i| format!("p_speaker{i}")).collect();
    let (forwarder, events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    for id in speakers.iter().map(String::as_str).chain(["p_listener"]) {
        forwarder.join(id).await.expect("join");
    }
    let listener = Arc::new(SyntheticSubscriber::new().await);
    let (pump, _) = answer_offers(
        &forwarder,
        HashMap::from([("p_listener".to_owned(), Arc::clone(&listener))]),
        events,
    );
    let mut publishers = Vec::new();
    for id in &speakers {
        let config = PublisherConfig {
            audio_level: true,
            ..Default::default()
        };
        let publisher = SyntheticPublisher::with_config(config).await;
        publishers.push(publish(&forwarder, id, publisher).await);
    }
    // Every 20 ms each microphone sends a packet at its level: 30 dBov
    // (speech) for those speaking, 127 (silence) for the others.
    let mut n = 0u32;
    let mut speak = async |loud: &[usize], packets: u32| {
        for _ in 0..packets {
            for (i, p) in publishers.iter().enumerate() {
                let level = if loud.contains(&i) { 30 } else { 127 };
                p.send_audio_at(n as u16, 960 * n, level).await;
            }
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let heard = |listener: &SyntheticSubscriber| -> Vec<u64> {
        speakers
            .iter()
            .map(|id| count(listener, id, "audio"))
            .collect()
    };
    // Nobody has spoken yet: silence is not forwarded. Then the first five
    // speak in turn, and each is heard.
    speak(&[], 25).await;
    for i in 0..5 {
        speak(&[i], 5).await;
    }
    speak(&[], 10).await;
    let before = heard(&listener);
    speak(&[], 25).await;
    let after = heard(&listener);
    for i in 0..5 {
        assert!(
            after[i] >= before[i] + 20,
            "speaker {i} is heard while the five last to speak are: {before:?} → {after:?}"
        );
    }
    for i in 5..7 {
        assert_eq!(
            after[i], 0,
            "speaker {i}, who never spoke, is not forwarded: {after:?}"
        );
    }

    // The sixth speaks: heard at once, in place of the one quiet longest
    // (the first).
    speak(&[5], 10).await;
    speak(&[], 5).await;
    let before = heard(&listener);
    speak(&[], 25).await;
    let after = heard(&listener);
    assert!(after[5] >= before[5] + 20, "{before:?} → {after:?}");
    assert!(
        after[0] <= before[0] + 2,
        "the first speaker, quiet longest, is no longer forwarded: {before:?} → {after:?}"
    );
    assert!(after[1] >= before[1] + 20, "{before:?} → {after:?}");

    // The first speaks again after their pause: the listener's stream of
    // them goes on where it stopped, every number following the one before.
    speak(&[0], 25).await;
    let received = listener.received();
    let first = received
        .iter()
        .find(|r| r.stream == speakers[0] && r.kind == "audio")
        .expect("the first speaker's microphone");
    let mut seqs: Vec<u16> = first.packets.iter().map(|(s, ..)| *s).collect();
    assert!(seqs.len() > 40, "{}", seqs.len());
    let arrived = seqs.clone();
    seqs.dedup();
    for pair in seqs.windows(2) {
        assert_eq!(
            pair[1].wrapping_sub(pair[0]),
            1,
            "no gap in the first speaker's numbering across the pause: {arrived:?}"
        );
    }
    // Their timestamps went on by the time the pause took.
    let stamps: Vec<u32> = first.packets.iter().map(|(_, t, ..)| *t).collect();
    let jump = stamps
        .windows(2)
        .map(|w| w[1].wrapping_sub(w[0]))
        .max()
        .expect("stamps");
    assert!(
        jump >= 960 * 10,
        "the pause shows in the timestamps: {jump}"
    );
    pump.abort();
    forwarder.close().await;
    for p in &publishers {
        p.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_in_more_encodings_than_allowed_is_forwarded_from_three() {
    use cadre_protocol::signalling::VideoQuality;
    let AnneToBruno {
        forwarder,
        bruno,
        pump,
        ..
    } = anne_to_bruno().await;
    let anne = SyntheticPublisher::with_config(PublisherConfig {
        simulcast: true,
        fourth_layer: true,
        ..Default::default()
    })
    .await;
    let anne = publish(&forwarder, "p_anne", anne).await;
    assert_eq!(
        anne.layer_ssrcs().len(),
        4,
        "the camera announces four encodings"
    );
    // Every frame in all four encodings, the unknown one first (a camera
    // that would have it taken for its lowest layer), each a keyframe now
    // and then; the fourth marked 3.
    let mut clocks: Vec<(u16, u32)> =
        vec![(100, 1_000), (30_000, 500_000), (65_000, 9_000_000), (5, 7)];
    let mut n = 0u32;
    let mut frames = async |anne: &SyntheticPublisher, until: &dyn Fn(&[u8]) -> bool| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let start = n;
        while !until(&video_layers(&bruno)) || n < start + 50 {
            for layer in [3, 0, 1, 2] {
                let clock = &mut clocks[layer];
                let (seq, ts) = *clock;
                *clock = (seq.wrapping_add(1), ts.wrapping_add(3000));
                let key = (n + 3 * layer as u32).is_multiple_of(10);
                anne.send_layer(layer, seq, ts, true, layer_payload(layer as u8, key, n))
                    .await;
            }
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(
                tokio::time::Instant::now() < deadline,
                "Bruno never got what he asked for: {:?}",
                video_layers(&bruno)
            );
        }
    };
    // A thumbnail: the lowest layer, `q`, not the unknown encoding.
    frames(&anne, &|got| !got.is_empty()).await;
    assert!(
        video_layers(&bruno).iter().all(|l| *l == 0),
        "{:?}",
        video_layers(&bruno)
    );
    // Asked for the highest: `f`.
    forwarder
        .view("p_bruno", &[("p_anne".to_owned(), VideoQuality::High)])
        .await
        .expect("view");
    frames(&anne, &|got| got.contains(&2)).await;
    // The three first encodings are Anne's camera; the fourth reaches
    // nobody, even asked for the highest quality.
    assert!(
        !video_layers(&bruno).contains(&3),
        "a fourth encoding was forwarded"
    );
    pump.abort();
    forwarder.close().await;
    anne.close().await;
}
