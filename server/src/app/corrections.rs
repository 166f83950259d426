//! Corrections from the console (see `directory::corrections`): the
//! catalogue changes in one transaction, then the session's live room, if
//! it has one, hears of it so that whoever joins next reads the new title
//! or name.

use crate::app::App;
use crate::error::ApiError;
use cadre_protocol::action::ActionView;
use cadre_protocol::api::{PersonCorrection, SessionView};

impl App {
    /// Corrects a session's title; answers the session and what changed
    /// (for the audit log).
    pub async fn retitle_session(
        &self,
        sid: &str,
        title: String,
    ) -> Result<(SessionView, Vec<String>), ApiError> {
        let s = sid.to_owned();
        let (before, after) = self
            .catalog()
            .run(move |c| c.retitle_session(&s, &title))
            .await?;
        let changes = if before == after.title {
            Vec::new()
        } else {
            tracing::info!(sid, "title corrected");
            self.registry().retitled(sid, after.title.clone()).await;
            self.tell_other_nodes(super::live_events::LiveEvent::Retitled {
                sid: sid.to_owned(),
                title: after.title.clone(),
            })
            .await;
            vec![format!("title: « {before} » → « {} »", after.title)]
        };
        Ok((self.session_view(sid).await?, changes))
    }

    /// Corrects a person of a session (a beneficiary on each of their
    /// places); answers the session and what changed.
    pub async fn correct_person(
        &self,
        sid: &str,
        pid: &str,
        correction: PersonCorrection,
    ) -> Result<(SessionView, Vec<String>), ApiError> {
        let (s, p) = (sid.to_owned(), pid.to_owned());
        let corrected = self
            .catalog()
            .run(move |c| c.correct_person(&s, &p, &correction))
            .await?;
        self.tell_renamed(&corrected).await;
        Ok((self.session_view(sid).await?, corrected.changes))
    }

    /// Corrects a beneficiary of an action on it and each of their places;
    /// answers the action and what changed.
    pub async fn correct_beneficiary(
        &self,
        aid: &str,
        bid: &str,
        correction: PersonCorrection,
    ) -> Result<(ActionView, Vec<String>), ApiError> {
        let (a, b) = (aid.to_owned(), bid.to_owned());
        let corrected = self
            .catalog()
            .run(move |c| c.correct_beneficiary(&a, &b, &correction))
            .await?;
        self.tell_renamed(&corrected).await;
        Ok((self.action_view(aid).await?, corrected.changes))
    }

    async fn tell_renamed(&self, corrected: &crate::directory::corrections::Corrected) {
        if !corrected.renamed {
            return;
        }
        tracing::info!(people = corrected.people.len(), "name corrected");
        for person in &corrected.people {
            self.tell_live(person).await;
        }
    }
}
