//! Appreciation questionnaires (framework article 2.1.6, Qualiopi's
//! collection of appreciations): the organisation defines them, attaches
//! them to the end of an action or of a session, and each beneficiary is
//! invited, never forced, to answer once with a signed link.
//!
//! Answers are anonymous: they are stored without the person, apart from
//! the invitation (which only says it was answered), and reach the
//! organisation only as aggregates of at least [`MIN_ANSWERS`] answers. The
//! invitation, not the answer, enters the ledger (`questionnaire_invited`).
//! These appreciations serve the improvement of the organisation's
//! practice; they are never an evaluation of the person.

use serde::{Deserialize, Serialize};

/// Fewest answers whose aggregate reaches the organisation: below this, a
/// mean or a free text describes identifiable people (the rule of the
/// sponsor's report).
pub const MIN_ANSWERS: usize = 3;

/// Longest title, in characters.
pub const MAX_TITLE: usize = 120;
/// Most questions in a questionnaire.
pub const MAX_QUESTIONS: usize = 20;
/// Longest question, in characters.
pub const MAX_QUESTION: usize = 300;
/// Longest choice, in characters.
pub const MAX_CHOICE: usize = 120;
/// Fewest and most choices of a choice question.
pub const CHOICES: std::ops::RangeInclusive<usize> = 2..=8;
/// Longest free-text answer, in characters.
pub const MAX_FREE_TEXT: usize = 1000;
/// The scale's answers: 1 (not at all satisfied) to 5 (very satisfied).
pub const SCALE: std::ops::RangeInclusive<u32> = 1..=5;

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// A number from 1 to 5.
    Scale,
    /// One of the `choices`.
    Choice,
    /// Free text, at most [`MAX_FREE_TEXT`] characters.
    Text,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The question.
    pub text: String,
    /// What it asks for.
    pub kind: QuestionKind,
    /// The answers offered (a choice question only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// A questionnaire as the organisation defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewQuestionnaire {
    /// Its title.
    pub title: String,
    /// Its questions, in order.
    pub questions: Vec<Question>,
}

/// A stored questionnaire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionnaireView {
    /// `qn_…`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its questions.
    pub questions: Vec<Question>,
    /// When it was defined (RFC 3339).
    pub created_at: String,
    /// Where it is attached.
    #[serde(default)]
    pub uses: Vec<QuestionnaireUse>,
}

/// When beneficiaries are invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    /// When a facilitator ends a session.
    SessionEnd,
    /// When the action's last session ends.
    ActionEnd,
}

impl Moment {
    /// Its name on the wire and in the catalogue.
    pub fn as_str(self) -> &'static str {
        match self {
            Moment::SessionEnd => "session_end",
            Moment::ActionEnd => "action_end",
        }
    }

    /// The moment named `s`.
    pub fn parse(s: &str) -> Option<Moment> {
        match s {
            "session_end" => Some(Moment::SessionEnd),
            "action_end" => Some(Moment::ActionEnd),
            _ => None,
        }
    }
}

/// A questionnaire attached to an action (`a_…`: at the end of each of its
/// sessions, or of its last) or to one session (`s_…`: at its end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionnaireUse {
    /// The action or session.
    pub target: String,
    /// When its beneficiaries are invited.
    pub at: Moment,
}

/// One answer: a scale's number or a choice's index, or a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    /// A scale's value (1–5) or a choice's index.
    Number(u32),
    /// A free text.
    Text(String),
}

/// A beneficiary's answers: one per question, `null` for a question left
/// blank (nothing is compulsory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    /// Per question.
    pub answers: Vec<Option<Answer>>,
}

/// What an invitation link opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionnaireForm {
    /// The questionnaire's title.
    pub title: String,
    /// Its questions.
    pub questions: Vec<Question>,
    /// What it is about: the session's or the action's title.
    pub about: String,
    /// Already answered with this invitation.
    pub answered: bool,
    /// When the link stops working (RFC 3339).
    pub expires_at: String,
}

/// An invitation not answered yet, for the person invited
/// (`GET /api/invitations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationLink {
    /// The questionnaire's title.
    pub title: String,
    /// What it is about: the session's or the action's title.
    pub about: String,
    /// `{public_url}/q/{token}`.
    pub url: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// One question's aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionResult {
    /// The question.
    pub text: String,
    /// Its kind.
    pub kind: QuestionKind,
    /// The answers offered (a choice question).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// How many answered it.
    pub answered: usize,
    /// A scale: how many chose 1, 2, 3, 4, 5; a choice: per choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<u32>,
    /// A scale: the mean, to two decimals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Free texts, shuffled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<String>,
}

/// A questionnaire's answers for one action or session, aggregated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionnaireResults {
    /// The questionnaire.
    pub questionnaire: String,
    /// Its title.
    pub title: String,
    /// The action or session.
    pub scope: String,
    /// People invited.
    pub invited: usize,
    /// Answers received.
    pub answers: usize,
    /// Why nothing else is shown, when fewer than [`MIN_ANSWERS`] answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
    /// Per question (empty when withheld).
    pub questions: Vec<QuestionResult>,
}

/// Why a questionnaire is refused, if it is.
pub fn questionnaire_refusal(q: &NewQuestionnaire) -> Option<String> {
    if q.title.trim().is_empty() || q.title.chars().count() > MAX_TITLE {
        return Some(format!("title: 1 to {MAX_TITLE} characters"));
    }
    if q.questions.is_empty() || q.questions.len() > MAX_QUESTIONS {
        return Some(format!("questions: 1 to {MAX_QUESTIONS}"));
    }
    for (n, question) in q.questions.iter().enumerate() {
        let n = n + 1;
        if question.text.trim().is_empty() || question.text.chars().count() > MAX_QUESTION {
            return Some(format!("question {n}: 1 to {MAX_QUESTION} characters"));
        }
        match question.kind {
            QuestionKind::Choice if !CHOICES.contains(&question.choices.len()) => {
                return Some(format!(
                    "question {n}: a choice question offers {} to {} choices",
                    CHOICES.start(),
                    CHOICES.end()
                ));
            }
            QuestionKind::Scale | QuestionKind::Text if !question.choices.is_empty() => {
                return Some(format!("question {n}: only a choice question has choices"));
            }
            _ => {}
        }
        if question
            .choices
            .iter()
            .any(|c| c.trim().is_empty() || c.chars().count() > MAX_CHOICE)
        {
            return Some(format!(
                "question {n}: each choice 1 to {MAX_CHOICE} characters"
            ));
        }
    }
    let texts = std::iter::once(q.title.as_str()).chain(q.questions.iter().flat_map(|x| {
        std::iter::once(x.text.as_str()).chain(x.choices.iter().map(String::as_str))
    }));
    texts.map(text_refusal).find(Option::is_some).flatten()
}

/// Why answers to `questions` are refused, if they are.
pub fn answers_refusal(questions: &[Question], answers: &[Option<Answer>]) -> Option<String> {
    if answers.len() != questions.len() {
        return Some(format!(
            "answers: one per question ({}, null for a question left blank), not {}",
            questions.len(),
            answers.len()
        ));
    }
    for (n, (q, a)) in questions.iter().zip(answers).enumerate() {
        let n = n + 1;
        let Some(a) = a else { continue };
        let why = match (q.kind, a) {
            (QuestionKind::Scale, Answer::Number(v)) if !SCALE.contains(v) => Some(format!(
                "a number from {} to {}",
                SCALE.start(),
                SCALE.end()
            )),
            (QuestionKind::Choice, Answer::Number(i)) if *i as usize >= q.choices.len() => Some(
                format!("a choice from 0 to {}", q.choices.len().saturating_sub(1)),
            ),
            (QuestionKind::Text, Answer::Text(t)) if t.chars().count() > MAX_FREE_TEXT => {
                Some(format!("at most {MAX_FREE_TEXT} characters"))
            }
            (QuestionKind::Text, Answer::Text(t)) => text_refusal(t),
            (QuestionKind::Scale | QuestionKind::Choice, Answer::Number(_)) => None,
            (QuestionKind::Text, Answer::Number(_)) => Some("a text".to_owned()),
            (_, Answer::Text(_)) => Some("a number".to_owned()),
        };
        if let Some(why) = why {
            return Some(format!("answers: question {n}: {why}"));
        }
    }
    None
}

/// Control characters (but line breaks and tabs) and bidirectional
/// controls are not text.
fn text_refusal(text: &str) -> Option<String> {
    if let Some(c) = crate::bidi_control(text) {
        return Some(crate::bidi_control_refusal("text", c));
    }
    let c = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')?;
    Some(format!(
        "text: must not contain the control character U+{:04X}",
        c as u32
    ))
}

/// Aggregates `answers` to `questions`: counts per scale value or choice,
/// the scale's mean, the free texts (in the order given: the caller
/// shuffles them). Withheld, with its reason, under [`MIN_ANSWERS`].
pub fn aggregate(
    questions: &[Question],
    answers: &[Vec<Option<Answer>>],
) -> (Option<String>, Vec<QuestionResult>) {
    if answers.len() < MIN_ANSWERS {
        return (
            Some(format!(
                "withheld: {} answer(s), fewer than {MIN_ANSWERS}; an aggregate of fewer answers would describe the people who gave them",
                answers.len()
            )),
            Vec::new(),
        );
    }
    let results = questions
        .iter()
        .enumerate()
        .map(|(n, q)| {
            let given: Vec<&Answer> = answers.iter().filter_map(|a| a.get(n)?.as_ref()).collect();
            let mut result = QuestionResult {
                text: q.text.clone(),
                kind: q.kind,
                choices: q.choices.clone(),
                answered: given.len(),
                counts: Vec::new(),
                mean: None,
                texts: Vec::new(),
            };
            match q.kind {
                QuestionKind::Scale | QuestionKind::Choice => {
                    let (first, slots) = match q.kind {
                        QuestionKind::Scale => {
                            (*SCALE.start(), (SCALE.end() - SCALE.start() + 1) as usize)
                        }
                        _ => (0, q.choices.len()),
                    };
                    let mut counts = vec![0u32; slots];
                    for a in &given {
                        if let Answer::Number(v) = a
                            && let Some(slot) = v
                                .checked_sub(first)
                                .and_then(|i| counts.get_mut(i as usize))
                        {
                            *slot += 1;
                        }
                    }
                    if q.kind == QuestionKind::Scale && !given.is_empty() {
                        let sum: u32 = given
                            .iter()
                            .filter_map(|a| match a {
                                Answer::Number(v) => Some(*v),
                                Answer::Text(_) => None,
                            })
                            .sum();
                        let mean = f64::from(sum) / given.len() as f64;
                        result.mean = Some((mean * 100.0).round() / 100.0);
                    }
                    result.counts = counts;
                }
                QuestionKind::Text => {
                    result.texts = given
                        .iter()
                        .filter_map(|a| match a {
                            Answer::Text(t) if !t.trim().is_empty() => Some(t.clone()),
                            _ => None,
                        })
                        .collect();
                }
            }
            result
        })
        .collect();
    (None, results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn questionnaire() -> NewQuestionnaire {
        NewQuestionnaire {
            title: "Votre avis sur la formation".into(),
            questions: vec![
                Question {
                    text: "Satisfaction générale".into(),
                    kind: QuestionKind::Scale,
                    choices: vec![],
                },
                Question {
                    text: "Le rythme était".into(),
                    kind: QuestionKind::Choice,
                    choices: vec!["trop lent".into(), "adapté".into(), "trop rapide".into()],
                },
                Question {
                    text: "Une remarque ?".into(),
                    kind: QuestionKind::Text,
                    choices: vec![],
                },
            ],
        }
    }

    #[test]
    fn a_questionnaire_is_refused_out_of_bounds() {
        assert_eq!(questionnaire_refusal(&questionnaire()), None);
        let mut q = questionnaire();
        q.questions[1].choices.truncate(1);
        assert!(questionnaire_refusal(&q).is_some_and(|w| w.contains("question 2")));
        let mut q = questionnaire();
        q.questions[0].choices = vec!["a".into(), "b".into()];
        assert!(questionnaire_refusal(&q).is_some());
        let mut q = questionnaire();
        q.title = "x".repeat(MAX_TITLE + 1);
        assert!(questionnaire_refusal(&q).is_some());
        let mut q = questionnaire();
        q.questions = vec![q.questions[0].clone(); MAX_QUESTIONS + 1];
        assert!(questionnaire_refusal(&q).is_some());
    }

    #[test]
    fn answers_match_their_questions_and_may_be_left_blank() {
        let q = questionnaire().questions;
        let ok = [
            Some(Answer::Number(4)),
            None,
            Some(Answer::Text("Bien".into())),
        ];
        assert_eq!(answers_refusal(&q, &ok), None);
        assert!(answers_refusal(&q, &[None, None]).is_some());
        assert!(answers_refusal(&q, &[Some(Answer::Number(6)), None, None]).is_some());
        assert!(answers_refusal(&q, &[None, Some(Answer::Number(3)), None]).is_some());
        assert!(answers_refusal(&q, &[None, None, Some(Answer::Number(1))]).is_some());
        let long = Answer::Text("é".repeat(MAX_FREE_TEXT + 1));
        assert!(answers_refusal(&q, &[None, None, Some(long)]).is_some());
    }

    #[test]
    fn aggregates_need_three_answers() {
        let q = questionnaire().questions;
        let one = vec![
            Some(Answer::Number(4)),
            Some(Answer::Number(1)),
            Some(Answer::Text("Très bien".into())),
        ];
        let (withheld, results) = aggregate(&q, &[one.clone(), one.clone()]);
        assert!(withheld.is_some_and(|w| w.contains("fewer than 3")) && results.is_empty());
        let other = vec![Some(Answer::Number(5)), None, None];
        let (withheld, results) = aggregate(&q, &[one.clone(), one, other]);
        assert_eq!(withheld, None);
        assert_eq!(results[0].counts, vec![0, 0, 0, 2, 1]);
        assert_eq!(results[0].mean, Some(4.33));
        assert_eq!(results[1].counts, vec![0, 2, 0]);
        assert_eq!(results[1].answered, 2);
        assert_eq!(results[2].texts.len(), 2);
    }
}
