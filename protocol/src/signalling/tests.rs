use super::*;

#[test]
fn signal_payload_is_kept_byte_for_byte() {
    let text = r#"{"type":"signal","to":"p_b","data":{"sdp":"v=0\r\n","type":"offer"}}"#;
    let ClientMessage::Signal { to, data } = parse_client_message(text).unwrap() else {
        panic!("not a signal");
    };
    assert_eq!(to, "p_b");
    assert_eq!(data.get(), r#"{"sdp":"v=0\r\n","type":"offer"}"#);
    let relayed = serde_json::to_string(&ServerMessage::Signal {
        from: "p_a".into(),
        data,
    })
    .unwrap();
    assert_eq!(
        relayed,
        r#"{"type":"signal","from":"p_a","data":{"sdp":"v=0\r\n","type":"offer"}}"#
    );
    let back: ServerMessage = serde_json::from_str(&relayed).unwrap();
    assert!(matches!(back, ServerMessage::Signal { .. }));
}

#[test]
fn failures_are_classified() {
    let unknown = parse_client_message(r#"{"type":"dance"}"#).unwrap_err();
    assert_eq!(unknown.code, ErrorCode::UnknownMessageType);
    let missing = parse_client_message(r#"{"type":"signal","to":"x"}"#).unwrap_err();
    assert_eq!(missing.code, ErrorCode::MalformedMessage);
    let garbage = parse_client_message("{nope").unwrap_err();
    assert_eq!(garbage.code, ErrorCode::MalformedMessage);
    let untagged = parse_client_message(r#"{"to":"x"}"#).unwrap_err();
    assert_eq!(untagged.code, ErrorCode::MalformedMessage);
}

/// The Rust names say `difficulty` and `stats`; the wire keeps `report`
/// and the flattened figures, as the web client reads them.
#[test]
fn renamed_variants_keep_their_wire_names() {
    let filed = parse_client_message(r#"{"type":"report","text":"no sound"}"#).unwrap();
    assert!(matches!(&filed, ClientMessage::Difficulty { text } if text == "no sound"));
    assert_eq!(filed.kind(), "report");
    let stats = parse_client_message(r#"{"type":"stats","connection":"connected"}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&stats).unwrap(),
        r#"{"type":"stats","connection":"connected","peers":[]}"#
    );
    let answered = ServerMessage::Difficulty {
        difficulty: Difficulty {
            id: "r_1".into(),
            session_id: "s_1".into(),
            author: Me {
                id: "p_a".into(),
                name: "A".into(),
                role: Role::Participant,
            },
            text: "no sound".into(),
            status: crate::difficulties::DifficultyStatus::Answered,
            created_at: 1,
            answer: Some("fixed".into()),
            answered_at: Some(2),
            closed_at: None,
        },
    };
    let json: serde_json::Value = serde_json::to_value(&answered).unwrap();
    assert_eq!(json["type"], "report");
    assert_eq!(json["report"]["id"], "r_1");
    assert_eq!(json["report"]["status"], "answered");
}

#[test]
fn leave_and_heartbeat_parse() {
    assert!(matches!(
        parse_client_message(r#"{"type":"leave"}"#),
        Ok(ClientMessage::Leave)
    ));
    assert!(matches!(
        parse_client_message(r#"{"type":"heartbeat","client_time":5}"#),
        Ok(ClientMessage::Heartbeat {
            client_time: Some(5)
        })
    ));
}
