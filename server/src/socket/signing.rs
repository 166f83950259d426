//! Sign-in and countersignature: the drawn signature is checked here, the
//! slot and the people against the session's state by the actor, and the
//! entry is written between the two.

use super::Connection;
use crate::evidence::ledger::NewEvent;
use cadre_protocol::evidence::kind;
use cadre_protocol::signalling::ServerMessage;
use cadre_protocol::{ErrorCode, Role};
use tracing::warn;

/// Bounds of a drawn signature: enough for a real signature, not a way to
/// store arbitrary data.
const MAX_STROKES: usize = 64;
const MAX_POINTS: usize = 4_000;
const MAX_STROKE_MS: i64 = 120_000;

impl Connection<'_> {
    pub(super) async fn sign_in(
        &mut self,
        slot: String,
        signature: Option<Vec<Vec<[i64; 3]>>>,
        client_time: Option<i64>,
    ) {
        if let Some(sig) = &signature
            && let Err(why) = check_signature(sig)
        {
            self.out.error(ErrorCode::InvalidInput, &why);
            return;
        }
        if let Err(e) = self.member.sign_begin(slot.clone()).await {
            self.out.error(e.code, &e.message);
            return;
        }
        let payload = serde_json::json!({"slot": slot, "signature": signature});
        let recorded = self.record(kind::SIGNED_IN, payload, client_time).await;
        let at = recorded.as_ref().map(|(at, _)| *at);
        self.member.sign_end(slot.clone(), recorded).await;
        if let Some(at) = at {
            let receipt = self.receipt().await;
            self.out.send(&ServerMessage::Signed { slot, at, receipt });
        }
    }

    /// A facilitator opens the sign-in of the current half-day.
    pub(super) async fn open_signin(&mut self) {
        if let Err(e) = self.member.open_signin().await {
            self.out.error(e.code, &e.message);
        }
    }

    pub(super) async fn countersign(&mut self, slot: String, participant: String) {
        if self.member.role != Role::Facilitator {
            self.out
                .error(ErrorCode::Forbidden, "only a facilitator countersigns");
            return;
        }
        if let Err(e) = self
            .member
            .countersign_begin(slot.clone(), participant.clone())
            .await
        {
            self.out.error(e.code, &e.message);
            return;
        }
        let event = NewEvent {
            sid: self.member.sid.clone(),
            kind: kind::COUNTERSIGNED,
            actor: self.member.id.clone(),
            payload: serde_json::json!({"slot": slot, "participant": participant}),
            client_ts: None,
        };
        // The actor tells both sides once durable; no separate echo here.
        let recorded = match self.ledger.append(event).await {
            Ok(a) => Some((a.ts, a.text)),
            Err(e) => {
                warn!("could not record a countersignature: {e}");
                self.out.error(
                    ErrorCode::Internal,
                    "the countersignature could not be recorded",
                );
                None
            }
        };
        self.member
            .countersign_end(slot, participant, recorded)
            .await;
    }
}

/// Checks a drawn signature's shape: a few strokes of points in the
/// 0..=1000 square, times within a stroke.
fn check_signature(strokes: &[Vec<[i64; 3]>]) -> Result<(), String> {
    if strokes.is_empty() || strokes.len() > MAX_STROKES {
        return Err(format!("a signature has 1 to {MAX_STROKES} strokes"));
    }
    let points: usize = strokes.iter().map(Vec::len).sum();
    if points > MAX_POINTS {
        return Err(format!("a signature has at most {MAX_POINTS} points"));
    }
    let ok = strokes.iter().flatten().all(|[x, y, t]| {
        (0..=1000).contains(x) && (0..=1000).contains(y) && (0..=MAX_STROKE_MS).contains(t)
    });
    if ok {
        Ok(())
    } else {
        Err("signature points are [x, y, t] with x, y in 0..=1000 and t in ms".into())
    }
}
