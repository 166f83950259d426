//! How the person is there: camera and microphone, the tab's visibility
//! and focus, and connection figures for the quality score. Changes are
//! recorded, repeats are not.

use super::Connection;
use cadre_protocol::ErrorCode;
use cadre_protocol::evidence::kind;
use std::time::Duration;
use tokio::time::Instant;

impl Connection<'_> {
    pub(super) async fn media_state(&mut self, camera: bool, microphone: bool) {
        self.member.media(camera, microphone).await;
        if self.seen.media != Some((camera, microphone)) {
            self.seen.media = Some((camera, microphone));
            let payload = serde_json::json!({
                "connection_id": self.member.connection_id, "camera": camera, "microphone": microphone,
            });
            self.record(kind::MEDIA, payload, None).await;
        }
    }

    pub(super) async fn presence(
        &mut self,
        visible: bool,
        focused: bool,
        client_time: Option<i64>,
    ) {
        if self.seen.visible != Some(visible) || self.seen.focused != Some(focused) {
            self.member.presence(visible, focused).await;
        }
        if self.seen.visible != Some(visible) {
            self.seen.visible = Some(visible);
            let payload =
                serde_json::json!({"connection_id": self.member.connection_id, "visible": visible});
            self.record(kind::VISIBILITY, payload, client_time).await;
        }
        if self.seen.focused != Some(focused) {
            self.seen.focused = Some(focused);
            let payload =
                serde_json::json!({"connection_id": self.member.connection_id, "focused": focused});
            self.record(kind::FOCUS, payload, client_time).await;
        }
    }

    /// Connection figures: checked, at most one a second, then scored by
    /// the session.
    pub(super) async fn stats(&mut self, report: cadre_protocol::quality::ConnectionStats) {
        let now = Instant::now();
        if self
            .seen
            .last_stats
            .is_some_and(|t| now.duration_since(t) < Duration::from_millis(900))
        {
            self.out.error(
                ErrorCode::RateLimited,
                "stats are taken at most once a second; this one was dropped",
            );
            return;
        }
        if let Err(why) = report.validate() {
            self.out.error(ErrorCode::InvalidInput, &why);
            return;
        }
        self.seen.last_stats = Some(now);
        self.member.stats(report).await;
    }
}
