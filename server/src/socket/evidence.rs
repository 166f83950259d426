//! What this connection writes to the ledger about its person, and what it
//! hands back: the echo of each durable entry, receipts (signed tree
//! heads), the person's own evidence, heartbeat summaries, the departure.

use super::{Connection, HEARTBEAT_SUMMARY_MS};
use crate::evidence::ledger::{Appended, LedgerError, NewEvent};
use crate::live::session::now_ms;
use cadre_protocol::ErrorCode;
use cadre_protocol::attendance::ProofScope;
use cadre_protocol::evidence::{Entry, kind};
use cadre_protocol::signalling::{LeaveReason, ServerMessage};
use tracing::warn;

impl Connection<'_> {
    /// Counts a heartbeat (summarised in the ledger every
    /// [`HEARTBEAT_SUMMARY_MS`], never one entry each) and answers it.
    pub(super) async fn heartbeat(&mut self) {
        let now = now_ms();
        let due = {
            let mut t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
            let hb = t.heartbeats.get_or_insert((now, now, 0));
            hb.1 = now;
            hb.2 += 1;
            if now - hb.0 >= HEARTBEAT_SUMMARY_MS {
                t.heartbeats.take()
            } else {
                None
            }
        };
        if let Some(ev) = heartbeat_event(
            &self.member.sid,
            &self.member.id,
            &self.member.connection_id,
            due,
        ) {
            self.record_event(ev).await;
        }
        let ack = ServerMessage::HeartbeatAck { server_time: now };
        self.out.send(&ack);
    }

    /// Appends an event about this person; once durable, the person sees it.
    pub(super) async fn record(
        &mut self,
        kind: &'static str,
        payload: serde_json::Value,
        client_ts: Option<i64>,
    ) -> Option<(i64, String)> {
        let event = NewEvent {
            sid: self.member.sid.clone(),
            kind,
            actor: self.member.id.clone(),
            payload,
            client_ts,
        };
        self.record_event(event).await
    }

    pub(super) async fn record_event(&mut self, event: NewEvent) -> Option<(i64, String)> {
        let written = self.ledger.append(event).await;
        self.recorded(written)
    }

    /// Echoes a durable entry to its author, or says it was not recorded.
    pub(super) fn recorded(
        &mut self,
        written: Result<Appended, LedgerError>,
    ) -> Option<(i64, String)> {
        match written {
            Ok(a) => {
                self.out.send(&ServerMessage::EvidenceRecorded {
                    entry: a.text.clone(),
                });
                Some((a.ts, a.text))
            }
            Err(e) => {
                warn!("could not record evidence: {e}");
                self.out.error(
                    ErrorCode::Internal,
                    "this could not be recorded; nothing was recorded, please try again",
                );
                None
            }
        }
    }

    /// A signed tree head covering everything recorded so far.
    pub(super) async fn receipt(&mut self) -> Option<String> {
        match self.ledger.tree_head(&self.member.sid).await {
            Ok(head) => Some(head.jws),
            Err(e) => {
                warn!("could not sign a tree head: {e}");
                None
            }
        }
    }

    /// Everything the ledger holds about this person, as their proof
    /// selects it ([`ProofScope`]): their own events, those that name them
    /// (a countersignature, their removal), the session's course
    /// (suspensions, postponements, sign-in windows, server runs) and the
    /// recording segments they were in. Nothing about anyone else.
    pub(super) async fn send_evidence(&mut self) {
        let entries = match self.ledger.entries(&self.member.sid).await {
            Ok(e) => e,
            Err(e) => {
                warn!("could not read the ledger: {e}");
                self.out
                    .error(ErrorCode::Internal, "the evidence cannot be read right now");
                return;
            }
        };
        let parsed: Vec<(Entry, String)> = entries
            .into_iter()
            .filter_map(|e| Entry::parse(&e.text).ok().map(|entry| (entry, e.text)))
            .collect();
        let all: Vec<Entry> = parsed.iter().map(|(entry, _)| entry.clone()).collect();
        let scope = ProofScope::new(&all, &self.member.id);
        let mine: Vec<String> = parsed
            .into_iter()
            .filter(|(entry, _)| scope.contains(entry))
            .map(|(_, text)| text)
            .collect();
        self.out.send(&ServerMessage::Evidence { entries: mine });
    }

    /// Records the departure, hands over a receipt covering it, then lets
    /// the writer close (queued messages go out before the close frame).
    pub(super) async fn leave(&mut self) {
        let heartbeats = {
            let mut t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
            t.close_recorded = true;
            t.heartbeats.take()
        };
        let mut events = Vec::with_capacity(2);
        if let Some(ev) = heartbeat_event(
            &self.member.sid,
            &self.member.id,
            &self.member.connection_id,
            heartbeats,
        ) {
            events.push(ev);
        }
        events.push(NewEvent {
            sid: self.member.sid.clone(),
            kind: kind::CONNECTION_CLOSED,
            actor: self.member.id.clone(),
            payload: serde_json::json!({
                "connection_id": self.member.connection_id,
                "reason": LeaveReason::Left,
                "last_seen": now_ms(),
            }),
            client_ts: None,
        });
        for ev in events {
            self.record_event(ev).await;
        }
        if let Some(tree_head) = self.receipt().await {
            self.out.send(&ServerMessage::Receipt { tree_head });
        }
        self.out.control.close(LeaveReason::Left);
    }
}

pub(super) fn heartbeat_event(
    sid: &str,
    id: &str,
    connection_id: &str,
    heartbeats: Option<(i64, i64, u64)>,
) -> Option<NewEvent> {
    let (from, to, count) = heartbeats?;
    Some(NewEvent {
        sid: sid.to_owned(),
        kind: kind::HEARTBEATS,
        actor: id.to_owned(),
        payload: serde_json::json!({
            "connection_id": connection_id, "from": from, "to": to, "count": count,
        }),
        client_ts: None,
    })
}
