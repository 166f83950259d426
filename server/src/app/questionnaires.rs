//! Appreciation questionnaires (framework article 2.1.6): defined and
//! attached by the organiser, invited at a session's or an action's end,
//! answered once with a signed link, and given back only as aggregates of
//! at least three answers.
//!
//! The invitation is evidence (`questionnaire_invited`, the person's own
//! entry: the organisation can show it asked for every beneficiary's
//! appreciation), made when the session ends
//! (`directory::questionnaires::invite_due`); the answer is not, and is
//! stored apart from the person.

use super::App;
use crate::directory::keys::random_id;
use crate::directory::links::{ISSUER, QUESTIONNAIRE_AUDIENCE, SponsorClaims};
use crate::directory::questionnaires::Invitation;
use crate::error::ApiError;
use cadre_protocol::ErrorCode;
use cadre_protocol::questionnaire::{
    Answers, InvitationLink, NewQuestionnaire, QuestionnaireForm, QuestionnaireResults,
    QuestionnaireUse, QuestionnaireView, aggregate, answers_refusal,
};
use chrono::{DateTime, SecondsFormat, Utc};
use ring::rand::{SecureRandom, SystemRandom};

impl App {
    /// Defines a questionnaire (organiser).
    pub async fn create_questionnaire(
        &self,
        new: NewQuestionnaire,
    ) -> Result<QuestionnaireView, ApiError> {
        Ok(self
            .catalog()
            .run(move |c| c.create_questionnaire(&new))
            .await?)
    }

    /// Every questionnaire (organiser).
    pub async fn questionnaires(&self) -> Result<Vec<QuestionnaireView>, ApiError> {
        Ok(self.catalog().run(|c| c.questionnaires()).await?)
    }

    /// Attaches a questionnaire to an action or a session (organiser).
    pub async fn attach_questionnaire(
        &self,
        id: &str,
        place: QuestionnaireUse,
    ) -> Result<QuestionnaireView, ApiError> {
        let id = id.to_owned();
        Ok(self
            .catalog()
            .run(move |c| c.attach_questionnaire(&id, &place.target, place.at))
            .await?)
    }

    /// The aggregate of a questionnaire's answers about an action or a
    /// session (organiser): nothing but counts when fewer than three
    /// answered, free texts shuffled.
    pub async fn questionnaire_results(
        &self,
        id: &str,
        scope: &str,
    ) -> Result<QuestionnaireResults, ApiError> {
        let (id, scope) = (id.to_owned(), scope.to_owned());
        let (q, invited, answers) = {
            let (id, scope) = (id.clone(), scope.clone());
            self.catalog()
                .run(move |c| {
                    let q = c.questionnaire(&id)?;
                    let (invited, answers) = c.questionnaire_answers(&id, &scope)?;
                    Ok((q, invited, answers))
                })
                .await?
        };
        let (withheld, mut questions) = aggregate(&q.questions, &answers);
        for question in &mut questions {
            shuffle(&mut question.texts)?;
        }
        Ok(QuestionnaireResults {
            questionnaire: id,
            title: q.title,
            scope,
            invited,
            answers: answers.len(),
            withheld,
            questions,
        })
    }

    fn invitation_link(
        &self,
        invitation: &Invitation,
        title: &str,
        about: &str,
    ) -> Result<InvitationLink, ApiError> {
        let now = Utc::now();
        let claims = SponsorClaims {
            iss: ISSUER.to_owned(),
            aud: QUESTIONNAIRE_AUDIENCE.to_owned(),
            sub: invitation.id.clone(),
            nbf: now.timestamp(),
            exp: invitation.expires_at.timestamp(),
            iat: now.timestamp(),
            jti: format!(
                "ql_{}",
                random_id(9).map_err(|e| ApiError::internal("randomness", e))?
            ),
        };
        let token = self.signer().mint_questionnaire(&claims)?;
        Ok(InvitationLink {
            title: title.to_owned(),
            about: about.to_owned(),
            url: format!("{}/q/{}", self.public_url(), token),
            expires_at: rfc3339(invitation.expires_at),
        })
    }

    /// The links of a person's invitations not answered yet (their join
    /// link opens them after the session).
    pub async fn open_invitations(
        &self,
        sid: &str,
        pid: &str,
    ) -> Result<Vec<InvitationLink>, ApiError> {
        let (s, p) = (sid.to_owned(), pid.to_owned());
        let found = self
            .catalog()
            .run(move |c| {
                c.open_invitations(&s, &p)?
                    .into_iter()
                    .map(|i| {
                        let q = c.questionnaire(&i.questionnaire)?;
                        let about = about(c, &i.scope)?;
                        Ok((i, q.title, about))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        found
            .iter()
            .map(|(i, title, about)| self.invitation_link(i, title, about))
            .collect()
    }

    /// What an invitation link opens.
    pub async fn questionnaire_form(&self, token: &str) -> Result<QuestionnaireForm, ApiError> {
        let claims = self.signer().verify_questionnaire(token)?;
        let found = self
            .catalog()
            .run(move |c| {
                let i = c.invitation(&claims.sub)?;
                let q = c.questionnaire(&i.questionnaire)?;
                let about = about(c, &i.scope)?;
                Ok((i, q, about))
            })
            .await?;
        let (invitation, q, about) = found;
        Ok(QuestionnaireForm {
            title: q.title,
            questions: q.questions,
            about,
            answered: invitation.answered,
            expires_at: rfc3339(invitation.expires_at),
        })
    }

    /// Answers with an invitation link, once.
    pub async fn answer_questionnaire(
        &self,
        token: &str,
        answers: Answers,
    ) -> Result<(), ApiError> {
        let claims = self.signer().verify_questionnaire(token)?;
        let found = self
            .catalog()
            .run(move |c| {
                let i = c.invitation(&claims.sub)?;
                let q = c.questionnaire(&i.questionnaire)?;
                Ok((i, q))
            })
            .await?;
        let (invitation, q) = found;
        if invitation.expires_at <= Utc::now() {
            return Err(ApiError::new(
                ErrorCode::TokenExpired,
                "this invitation has expired",
            ));
        }
        if let Some(why) = answers_refusal(&q.questions, &answers.answers) {
            return Err(ApiError::new(ErrorCode::InvalidInput, why));
        }
        Ok(self
            .catalog()
            .run(move |c| c.answer_questionnaire(&invitation.id, &answers.answers))
            .await?)
    }
}

/// The title of the session or action a scope names.
fn about(
    c: &crate::directory::catalog::Catalog,
    scope: &str,
) -> crate::directory::catalog::CatalogResult<String> {
    if scope.starts_with("a_") {
        Ok(c.action(scope)?.action.title)
    } else {
        Ok(c.session(scope)?.title)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Shuffles `items` (Fisher–Yates): the order of free texts would
/// otherwise follow the order of answering.
fn shuffle(items: &mut [String]) -> Result<(), ApiError> {
    let rng = SystemRandom::new();
    for i in (1..items.len()).rev() {
        let mut bytes = [0u8; 8];
        rng.fill(&mut bytes)
            .map_err(|_| ApiError::new(ErrorCode::Internal, "no randomness to shuffle with"))?;
        let j = (u64::from_le_bytes(bytes) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    Ok(())
}
