//! People and sessions added after the fact, from the console: a person
//! added by hand to a session, a beneficiary enrolled late in an action
//! (and so in each of its sessions that has not ended), a session
//! duplicated to other dates with the same people.
//!
//! A session's live room read its people when it started: each person
//! added is told to it, so that they are known when they join.

use crate::app::App;
use crate::directory::catalog::Person;
use crate::error::ApiError;
use cadre_protocol::Role;
use cadre_protocol::action::{ActionView, NewActionSession, NewBeneficiary, NewFacilitator};
use cadre_protocol::api::{DuplicateSession, NewPerson, NewSession, SessionView};
use cadre_protocol::session::Me;

impl App {
    /// Adds a person by hand to a session that has not ended; answers the
    /// session with everyone's links.
    pub async fn add_person(&self, sid: &str, new: NewPerson) -> Result<SessionView, ApiError> {
        let app = self.clone();
        let s = sid.to_owned();
        let (person, _) = self
            .catalog()
            .run(move |c| {
                c.add_person(&s, &new, |x| app.link_window(x), |p, l| app.link_seal(p, l))
            })
            .await?;
        tracing::info!(sid, pid = %person.id, "person added");
        self.tell_live(&person).await;
        self.session_view(sid).await
    }

    /// Enrols a new beneficiary in an action and in each of its sessions
    /// that has not ended; answers the action.
    pub async fn add_beneficiary(
        &self,
        aid: &str,
        new: NewBeneficiary,
    ) -> Result<ActionView, ApiError> {
        let app = self.clone();
        let a = aid.to_owned();
        let (beneficiary, sessions) = self
            .catalog()
            .run(move |c| {
                c.add_beneficiary(&a, &new, |x| app.link_window(x), |p, l| app.link_seal(p, l))
            })
            .await?;
        tracing::info!(aid, bid = %beneficiary.id, sessions = sessions.len(), "beneficiary added");
        let bid = beneficiary.id.clone();
        let places = self.catalog().run(move |c| c.places_of(&bid)).await?;
        for person in &places {
            if sessions.contains(&person.session_id) {
                self.tell_live(person).await;
            }
        }
        self.action_view(aid).await
    }

    /// A new session like `sid` at other dates: same title, kind,
    /// organisation, sponsor, media and people (except those whose link
    /// was revoked), each with a new link. A session of an action stays
    /// in it, its participants being the action's beneficiaries now.
    pub async fn duplicate_session(
        &self,
        sid: &str,
        dates: DuplicateSession,
    ) -> Result<SessionView, ApiError> {
        let s = sid.to_owned();
        let (detail, action) = self
            .catalog()
            .run(move |c| Ok((c.session_detail(&s)?, c.action_of_session(&s)?)))
            .await?;
        let source = detail.session;
        let kept: Vec<Person> = detail
            .people
            .into_iter()
            .filter(|(_, link)| link.revoked_at.is_none())
            .map(|(person, _)| person)
            .collect();
        let time_zone = Some(
            dates
                .time_zone
                .unwrap_or_else(|| source.time_zone.name().to_owned()),
        );
        let copy = match action {
            Some(action) => {
                let facilitators = kept
                    .into_iter()
                    .filter(|p| p.role == Role::Facilitator)
                    .map(|p| NewFacilitator {
                        name: p.name,
                        email: p.email,
                    })
                    .collect();
                let new = NewActionSession {
                    title: Some(source.title),
                    kind: Some(source.kind),
                    planned_start: dates.planned_start,
                    planned_end: dates.planned_end,
                    time_zone,
                    media: source.media,
                    facilitators,
                };
                self.add_action_session(&action.id, new).await?
            }
            None => {
                let new = NewSession {
                    title: source.title,
                    kind: source.kind,
                    organisation: source.organisation,
                    planned_start: dates.planned_start,
                    planned_end: dates.planned_end,
                    time_zone,
                    sponsor: source.sponsor,
                    media: source.media,
                    people: kept
                        .into_iter()
                        .map(|p| NewPerson {
                            name: p.name,
                            email: p.email,
                            role: p.role,
                            lang: p.lang,
                            time_zone: p.time_zone.map(|z| z.name().to_owned()),
                        })
                        .collect(),
                };
                self.create_session(new).await?
            }
        };
        tracing::info!(from = sid, sid = %copy.id, "session duplicated");
        Ok(copy)
    }

    /// Tells the person's session's live room of them: added, or their
    /// name corrected.
    pub(super) async fn tell_live(&self, person: &Person) {
        let me = Me {
            id: person.id.clone(),
            name: person.name.clone(),
            role: person.role,
        };
        self.registry().enrolled(&person.session_id, me).await;
        self.tell_other_nodes(super::live_events::LiveEvent::Enrolled {
            sid: person.session_id.clone(),
            id: person.id.clone(),
            name: person.name.clone(),
            role: person.role,
        })
        .await;
    }
}
