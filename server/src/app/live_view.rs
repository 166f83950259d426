//! Staff's live view of one session (`GET /api/sessions/{sid}/live`): who
//! is connected now, asked of the session's actor (the only one that
//! knows), and who signed in and which alerts were raised, read from the
//! ledger (durable, so still true after a restart of the server).

use super::App;
use crate::error::ApiError;
use cadre_protocol::api::{LiveAlert, LivePerson, LiveSignin, LiveView};
use cadre_protocol::evidence::kind;
use std::collections::HashMap;

/// Most alerts the view carries: the page shows the latest ones.
const MAX_ALERTS: usize = 20;

impl App {
    /// The live view of session `sid` (`not_found` when there is none).
    pub async fn live_view(&self, sid: &str) -> Result<LiveView, ApiError> {
        let view = self.session_view(sid).await?;
        let connected: HashMap<String, crate::live::session::Connected> = self
            .registry()
            .connected(sid)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        let entries = self.log(sid, u64::MAX).await?;
        let mut signins: HashMap<String, Vec<LiveSignin>> = HashMap::new();
        let mut alerts = Vec::new();
        for entry in entries {
            if entry.kind == kind::SIGNED_IN {
                let payload = entry.payload_value();
                let slot = payload["slot"].as_str().unwrap_or_default().to_owned();
                signins
                    .entry(entry.actor.clone())
                    .or_default()
                    .push(LiveSignin { slot, at: entry.ts });
            } else if entry.kind == kind::ALERT {
                let payload = entry.payload_value();
                alerts.push(LiveAlert {
                    at: entry.ts,
                    rule: payload["rule"].as_str().unwrap_or_default().to_owned(),
                    message: payload["message"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
        alerts.reverse();
        alerts.truncate(MAX_ALERTS);
        let people = view
            .people
            .into_iter()
            .map(|p| {
                let now = connected.get(&p.id);
                LivePerson {
                    connected_since: now.map(|c| c.since),
                    camera: now.is_some_and(|c| c.camera),
                    microphone: now.is_some_and(|c| c.microphone),
                    signins: signins.remove(&p.id).unwrap_or_default(),
                    id: p.id,
                    name: p.name,
                    role: p.role,
                }
            })
            .collect();
        Ok(LiveView {
            session: view.id,
            state: view.state,
            server_time: chrono::Utc::now().timestamp_millis(),
            people,
            alerts,
        })
    }
}
