//! A WebSocket upgrade with a bad join token is refused before the upgrade,
//! with the documented HTTP status and error code, and nobody notices.
//!
//! Each refusal is checked against `docs/protocol.md`: a missing token, a
//! token that is not a JWT (garbage, two segments, bad base64, JSON-less
//! segments, a missing claim), an algorithm other than EdDSA (`none`,
//! HS256 with a random secret, HS256 keyed with the server's own public key),
//! a signature that does not verify (another Ed25519 key under the real
//! `kid`, an unknown `kid`, claims edited after signing), an expired or not
//! yet valid token signed with the real key, and a well-signed token naming
//! a person or session that does not exist. After all of them the member
//! already connected has heard nothing and the server still admits the real
//! link.

use cadre_protocol::{ErrorCode, Role};
use cadre_tests::{
    StatusCode, TestServer, claims_of, header_of, now, other_ed25519_key, person, sign_eddsa,
    sign_hs256, unsigned_token,
};
use serde_json::json;
use std::time::Duration;

/// One refused attempt.
struct Case {
    what: &'static str,
    path: String,
    status: StatusCode,
    code: ErrorCode,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_their_code_and_nobody_notices() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let elsewhere = server
        .create_session(&[("Sophie", Role::Facilitator), ("Hugo", Role::Participant)])
        .await;
    let sid = &session.id;
    let karim_token = person(&session, "Karim").link.token.clone();
    let karim_claims = claims_of(&karim_token);
    let kid = header_of(&karim_token)["kid"]
        .as_str()
        .expect("a real link has a kid")
        .to_owned();
    let (status, jwks) = server.get_public("/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK, "{jwks}");
    let public_x = jwks["keys"][0]["x"]
        .as_str()
        .expect("the JWKS publishes x")
        .to_owned();
    let public_key_bytes = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&public_x)
            .expect("x is base64url")
    };

    let mut claire = server.join(&session, "Claire").await;

    let ws = |token: &str| format!("/ws/{sid}?token={token}");
    let mut tampered = karim_claims.clone();
    tampered["role"] = json!("facilitator");
    let tampered = {
        let mut parts: Vec<String> = karim_token.split('.').map(str::to_owned).collect();
        let edited = unsigned_token(&json!({}), &tampered, "");
        parts[1] = edited.split('.').nth(1).expect("claims segment").to_owned();
        parts.join(".")
    };
    let hugo_id = person(&elsewhere, "Hugo").id.clone();

    let cases = [
        Case {
            what: "no token at all",
            path: format!("/ws/{sid}"),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenMissing,
        },
        Case {
            what: "expired",
            path: ws(&server.forge_token(
                &karim_token,
                json!({"iat": now() - 7200, "nbf": now() - 7200, "exp": now() - 600}),
            )),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenExpired,
        },
        Case {
            what: "not yet valid",
            path: ws(&server.forge_token(
                &karim_token,
                json!({"nbf": now() + 3600, "exp": now() + 7200}),
            )),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenNotYetValid,
        },
        Case {
            what: "signed by another Ed25519 key under the real kid",
            path: ws(&sign_eddsa(&kid, &karim_claims, &other_ed25519_key())),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenSignature,
        },
        Case {
            what: "signed by the real key under an unknown kid",
            path: ws(&sign_eddsa(
                "no-such-key",
                &karim_claims,
                &server.signing_key(),
            )),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenSignature,
        },
        Case {
            what: "claims edited after signing",
            path: ws(&tampered),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenSignature,
        },
        Case {
            what: "garbage",
            path: ws("garbage"),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenMalformed,
        },
        Case {
            what: "two segments",
            path: ws(karim_token.rsplit_once('.').expect("header.claims").0),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenMalformed,
        },
        Case {
            what: "bad base64",
            path: ws("%40%40%40%40.%40%40%40%40.%40%40%40%40"),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenMalformed,
        },
        Case {
            what: "base64 that is not JSON",
            path: ws("bm90IGpzb24.bm90IGpzb24.c2lnbmF0dXJl"),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenMalformed,
        },
        Case {
            what: "well signed but without its sid claim",
            path: ws(&server.forge_token(&karim_token, json!({"sid": null}))),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenMalformed,
        },
        Case {
            what: "alg none",
            path: ws(&unsigned_token(
                &json!({"alg": "none", "typ": "JWT", "kid": kid.as_str()}),
                &karim_claims,
                "",
            )),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenAlgorithm,
        },
        Case {
            what: "HS256 with a random secret",
            path: ws(&sign_hs256(&kid, &karim_claims, b"not the server's secret")),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenAlgorithm,
        },
        Case {
            what: "HS256 keyed with the server's public key",
            path: ws(&sign_hs256(&kid, &karim_claims, &public_key_bytes)),
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::TokenAlgorithm,
        },
        Case {
            what: "well signed for a person of another session",
            path: ws(&server.forge_token(&karim_token, json!({"sub": hugo_id}))),
            status: StatusCode::NOT_FOUND,
            code: ErrorCode::NotFound,
        },
        Case {
            what: "well signed for a person who does not exist",
            path: ws(&server.forge_token(&karim_token, json!({"sub": "p_nobody"}))),
            status: StatusCode::NOT_FOUND,
            code: ErrorCode::NotFound,
        },
        Case {
            what: "well signed for a session that does not exist",
            path: format!(
                "/ws/s_nosuchsession?token={}",
                server.forge_token(&karim_token, json!({"sid": "s_nosuchsession"}))
            ),
            status: StatusCode::NOT_FOUND,
            code: ErrorCode::NotFound,
        },
    ];

    let mut wrong = Vec::new();
    for case in &cases {
        let (status, error) = server.refusal_path(&case.path).await;
        if status != case.status || error.code != case.code {
            wrong.push(format!(
                "{}: expected {} {}, got {status} {} ({:?})",
                case.what, case.status, case.code, error.code, error.message
            ));
        }
        assert!(!error.message.is_empty(), "{}: empty message", case.what);
    }
    assert!(
        wrong.is_empty(),
        "refusals that differ from the protocol:\n{}",
        wrong.join("\n")
    );

    // Claire heard of none of it, and the real link still opens the session.
    claire.expect_no_message(Duration::from_millis(300)).await;
    let karim = server.join(&session, "Karim").await;
    let joined = claire.recv_type("peer_joined").await;
    assert_eq!(joined["peer"]["id"], karim.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_key_signs_what_the_server_accepts() {
    // The forging helper itself must be sound, or the refusals above prove
    // nothing: a token re-signed with the real key and unchanged claims
    // (fresh iat) is admitted.
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator)])
        .await;
    let token = &person(&session, "Claire").link.token;
    let forged = server.forge_token(token, json!({"iat": now() - 3600}));
    assert_ne!(&forged, token);
    let claire = server
        .connect(&session.id, &forged)
        .await
        .unwrap_or_else(|refusal| panic!("a correctly signed token was refused: {refusal:?}"));
    assert_eq!(claire.welcome["you"]["name"], "Claire");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_servers_own_seal_spares_a_link_its_signature_check() {
    // Links are sealed in the catalogue (an HMAC of their text under a key
    // derived from the signing key) so that a first join need not check
    // the signature. Someone who can write the catalogue but not read the
    // key must gain nothing from it, and a link without its seal (a
    // catalogue from before seals) must still open the session.
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let karim_token = person(&session, "Karim").link.token.clone();
    let claire_token = person(&session, "Claire").link.token.clone();
    let jti = |token: &str| claims_of(token)["jti"].as_str().expect("jti").to_owned();
    let catalogue =
        rusqlite::Connection::open(server.data_file("cadre.sqlite3")).expect("the catalogue opens");
    catalogue
        .busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let seal_of = |token: &str| -> Option<Vec<u8>> {
        catalogue
            .query_row(
                "SELECT seal FROM links WHERE jti = ?1",
                [jti(token)],
                |row| row.get(0),
            )
            .expect("the link is in the catalogue")
    };
    for token in [&karim_token, &claire_token] {
        let seal = seal_of(token).expect("a new link is sealed");
        assert_eq!(seal.len(), 32, "an HMAC-SHA-256");
    }
    let kid = header_of(&karim_token)["kid"]
        .as_str()
        .expect("kid")
        .to_owned();

    // A link signed by another key, given a seal of the writer's making:
    // refused for its signature, as without a seal.
    let forged = sign_eddsa(&kid, &claims_of(&karim_token), &other_ed25519_key());
    let written = {
        use sha2::Digest as _;
        sha2::Sha256::digest(forged.as_bytes()).to_vec()
    };
    catalogue
        .execute(
            "UPDATE links SET seal = ?1 WHERE jti = ?2",
            rusqlite::params![written, jti(&karim_token)],
        )
        .expect("the catalogue can be written");
    let (status, error) = server.refusal(&session.id, &forged).await;
    assert_eq!(
        (status, error.code),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenSignature),
        "{error:?}"
    );
    // The real link, its seal now wrong, is checked by its signature.
    let karim = server.join(&session, "Karim").await;
    assert_eq!(karim.welcome["you"]["name"], "Karim");

    // Without a seal at all.
    catalogue
        .execute(
            "UPDATE links SET seal = NULL WHERE jti = ?1",
            [jti(&claire_token)],
        )
        .expect("the catalogue can be written");
    let claire = server.join(&session, "Claire").await;
    assert_eq!(claire.welcome["you"]["name"], "Claire");
    assert_eq!(claire.welcome["roster"][0]["id"], karim.id.as_str());
}
