//! The sponsor's view (framework articles 5, 2.2.4, 2.3.2): aggregate
//! attendance, and names only for participants whose latest recorded
//! decision grants `sponsor_share`. What a sponsor can see is computed here
//! from the ledger, at each request; there is no display switch to forget.

use crate::app::App;
use crate::directory::keys::random_id;
use crate::directory::links::{ISSUER, SPONSOR_AUDIENCE, SponsorClaims};
use crate::error::ApiError;
use cadre_protocol::api::{
    CourseEvent, NamedAttendance, NamedHalfDay, SponsorHalfDay, SponsorLink, SponsorSession,
    SponsorTotals, SponsorView,
};
use cadre_protocol::attendance::{self, Schedule};
use cadre_protocol::evidence::consent;
use cadre_protocol::{ErrorCode, Role};

/// Default validity of a sponsor link.
pub const DEFAULT_VALID_DAYS: u32 = 30;
/// Longest validity of a sponsor link.
pub const MAX_VALID_DAYS: u32 = 366;
/// Fewest unnamed participants whose figures may be aggregated: below this,
/// an average describes identifiable people (one unnamed participant's
/// "average" is their own figure).
pub const MIN_ANONYMOUS_GROUP: usize = 3;

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        (sum / n as f64 * 10_000.0).round() / 10_000.0
    }
}

impl App {
    /// Mints a read-only report link for a session's sponsor.
    pub async fn sponsor_link(
        &self,
        sid: &str,
        valid_days: Option<u32>,
    ) -> Result<SponsorLink, ApiError> {
        let days = valid_days.unwrap_or(DEFAULT_VALID_DAYS);
        if !(1..=MAX_VALID_DAYS).contains(&days) {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("valid_days: between 1 and {MAX_VALID_DAYS}"),
            ));
        }
        let s = sid.to_owned();
        self.catalog().run(move |c| c.session(&s)).await?;
        let now = chrono::Utc::now();
        let expires = now + chrono::Duration::days(i64::from(days));
        let claims = SponsorClaims {
            iss: ISSUER.to_owned(),
            aud: SPONSOR_AUDIENCE.to_owned(),
            sub: sid.to_owned(),
            nbf: now.timestamp(),
            exp: expires.timestamp(),
            iat: now.timestamp(),
            jti: format!(
                "r_{}",
                random_id(12).map_err(|e| ApiError::internal("randomness", e))?
            ),
        };
        let token = self.signer().mint_sponsor(&claims)?;
        Ok(SponsorLink {
            url: format!("{}/r/{}", self.public_url(), token),
            token,
            expires_at: expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    /// The report a sponsor link opens.
    pub async fn sponsor_report(&self, token: &str) -> Result<SponsorView, ApiError> {
        let claims = self.signer().verify_sponsor(token)?;
        let sid = claims.sub.clone();
        let detail = self.catalog().run(move |c| c.session_detail(&sid)).await?;
        let entries = self.log(&claims.sub, u64::MAX).await?;
        let s = &detail.session;
        let schedule = Schedule {
            planned_start: s.planned_start.timestamp_millis(),
            planned_end: s.planned_end.timestamp_millis(),
            time_zone: s.time_zone.name().to_owned(),
        };
        let now = chrono::Utc::now().timestamp_millis();
        let participants: Vec<_> = detail
            .people
            .iter()
            .map(|(p, _)| p)
            .filter(|p| p.role == Role::Participant)
            .map(|p| {
                let a = attendance::derive(&schedule, &entries, &p.id, now);
                let named = consent::granted(&entries, &p.id, consent::SPONSOR_SHARE);
                (p, a, named)
            })
            .collect();
        let anonymous_count = participants.iter().filter(|(_, _, n)| !n).count();
        let withheld = (anonymous_count > 0 && anonymous_count < MIN_ANONYMOUS_GROUP).then(|| {
            format!(
                "aggregates are withheld: fewer than {MIN_ANONYMOUS_GROUP} participants declined to be named, so an average would describe them individually"
            )
        });
        let half_days = if withheld.is_some() {
            Vec::new()
        } else {
            // The half-days held before a postponement too.
            attendance::slots_in_force(&schedule, &entries)
                .into_iter()
                .map(|(slot, start, end)| {
                    let of_slot = || {
                        participants
                            .iter()
                            .filter_map(|(_, a, _)| a.half_days.iter().find(|h| h.slot == slot))
                    };
                    SponsorHalfDay {
                        planned_start: start,
                        planned_end: end,
                        expected: participants.len(),
                        present: of_slot().filter(|h| !h.intervals.is_empty()).count(),
                        signed: of_slot().filter(|h| h.signed_in_at.is_some()).count(),
                        average_completion: mean(participants.iter().map(|(_, a, _)| {
                            a.half_days
                                .iter()
                                .find(|h| h.slot == slot)
                                .map_or(0.0, |h| h.completion)
                        })),
                        slot,
                    }
                })
                .collect()
        };
        let named = participants
            .iter()
            .filter(|(_, _, n)| *n)
            .map(|(p, a, _)| NamedAttendance {
                name: p.name.clone(),
                role: p.role,
                half_days: a
                    .half_days
                    .iter()
                    .map(|h| NamedHalfDay {
                        slot: h.slot.clone(),
                        present_seconds: h.present_seconds,
                        completion: h.completion,
                        signed: h.signed_in_at.is_some(),
                    })
                    .collect(),
                completion: a.totals.completion,
            })
            .collect();
        let average_completion = if withheld.is_some() {
            0.0
        } else {
            mean(participants.iter().map(|(_, a, _)| a.totals.completion))
        };
        Ok(SponsorView {
            session: SponsorSession {
                title: s.title.clone(),
                kind: s.kind,
                organisation: s.organisation.clone(),
                sponsor: s.sponsor.clone(),
                planned_start: s
                    .planned_start
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                planned_end: s
                    .planned_end
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                time_zone: s.time_zone.name().to_owned(),
            },
            generated_at: now,
            expires_at: claims.exp * 1000,
            half_days,
            totals: SponsorTotals {
                expected: participants.len(),
                average_completion,
            },
            named,
            anonymous_count,
            withheld,
            course: super::proofs::neutral_course(&entries)
                .into_iter()
                .filter_map(|e| {
                    let action = e
                        .action
                        .as_deref()
                        .and_then(|a| serde_json::from_value(serde_json::json!(a)).ok())?;
                    Some(CourseEvent {
                        action,
                        at: e.ts,
                        planned_start: e.planned_start,
                        planned_end: e.planned_end,
                    })
                })
                .collect(),
        })
    }
}
