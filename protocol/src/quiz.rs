//! Short quizzes a facilitator launches during a session.
//!
//! A quiz's completion is evidence of participation in distance training
//! (Code du travail R6313-3 names evaluations among the elements that
//! prove it), so two facts enter the ledger: that a quiz was opened
//! (`quiz_opened`: its id, title and number of questions) and that a
//! person completed it (`quiz_completed`: the quiz id, actor the person).
//! The answers and the scores do not: they are shown to the person and to
//! the facilitators during the session and held in the server's memory
//! only, like the chat (evidence, not surveillance; `docs/evidence.md`).
//!
//! The right answers are known to the server and the facilitators: a
//! participant's page receives them, with their own score, only once the
//! quiz is closed.

use crate::evidence::{Entry, kind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Longest quiz title, in characters.
pub const MAX_QUIZ_TITLE: usize = 120;

/// Most questions in a quiz: a short check of understanding, not an exam.
pub const MAX_QUIZ_QUESTIONS: usize = 10;

/// Longest question, in characters.
pub const MAX_QUIZ_QUESTION: usize = 300;

/// Longest choice, in characters.
pub const MAX_QUIZ_CHOICE: usize = 120;

/// Fewest and most choices a question offers.
pub const QUIZ_CHOICES: std::ops::RangeInclusive<usize> = 2..=6;

/// A question as the facilitator writes it, with its right answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewQuizQuestion {
    /// The question.
    pub text: String,
    /// The answers offered.
    pub choices: Vec<String>,
    /// Several answers may be chosen (otherwise exactly one).
    #[serde(default)]
    pub multiple: bool,
    /// The indexes of the right answers (exactly one unless `multiple`).
    pub correct: Vec<usize>,
}

/// A question as a participant sees it: no right answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuizQuestion {
    /// The question.
    pub text: String,
    /// The answers offered.
    pub choices: Vec<String>,
    /// Several answers may be chosen.
    pub multiple: bool,
}

/// Your own submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuizMine {
    /// Per question, the indexes chosen.
    pub answers: Vec<Vec<usize>>,
    /// Questions answered exactly right: once the quiz is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u32>,
}

/// One person's submission, as facilitators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuizResult {
    /// Participant id.
    pub id: String,
    /// Their name.
    pub name: String,
    /// Per question, the indexes chosen.
    pub answers: Vec<Vec<usize>>,
    /// Questions answered exactly right.
    pub score: u32,
}

/// The group's results, for facilitators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuizResults {
    /// Each submission, in the order they came.
    pub people: Vec<QuizResult>,
    /// Per question, how many answered it exactly right.
    pub right: Vec<u32>,
    /// The mean score (none before the first submission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
}

/// A quiz as one person may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quiz {
    /// Its id in the session (`q_…`), as the ledger names it.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The questions.
    pub questions: Vec<QuizQuestion>,
    /// Who launched it.
    pub by: String,
    /// Still open to submissions.
    pub open: bool,
    /// How many have submitted.
    pub submitted: u32,
    /// Your submission, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mine: Option<QuizMine>,
    /// Per question, the right answers: to facilitators, and to everyone
    /// once the quiz is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<Vec<Vec<usize>>>,
    /// Everyone's submissions and the totals: facilitators only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<QuizResults>,
}

/// Why a quiz is refused, if it is.
pub fn quiz_refusal(title: &str, questions: &[NewQuizQuestion]) -> Option<String> {
    if title.trim().is_empty() || title.chars().count() > MAX_QUIZ_TITLE {
        return Some(format!("title: 1 to {MAX_QUIZ_TITLE} characters"));
    }
    if questions.is_empty() || questions.len() > MAX_QUIZ_QUESTIONS {
        return Some(format!("questions: 1 to {MAX_QUIZ_QUESTIONS}"));
    }
    for (n, q) in questions.iter().enumerate() {
        let n = n + 1;
        if q.text.trim().is_empty() || q.text.chars().count() > MAX_QUIZ_QUESTION {
            return Some(format!("question {n}: 1 to {MAX_QUIZ_QUESTION} characters"));
        }
        if !QUIZ_CHOICES.contains(&q.choices.len()) {
            return Some(format!(
                "question {n}: {} to {} choices",
                QUIZ_CHOICES.start(),
                QUIZ_CHOICES.end()
            ));
        }
        if q.choices
            .iter()
            .any(|c| c.trim().is_empty() || c.chars().count() > MAX_QUIZ_CHOICE)
        {
            return Some(format!(
                "question {n}: each choice 1 to {MAX_QUIZ_CHOICE} characters"
            ));
        }
        if let Some(why) = selection_refusal(&q.correct, q.choices.len(), q.multiple) {
            return Some(format!("question {n}: right answers: {why}"));
        }
    }
    let texts = std::iter::once(title).chain(questions.iter().flat_map(|q| {
        std::iter::once(q.text.as_str()).chain(q.choices.iter().map(String::as_str))
    }));
    texts.map(control_refusal).find(Option::is_some).flatten()
}

/// Why a submission to `questions` is refused, if it is: one selection per
/// question, each within the question's choices.
pub fn answers_refusal(questions: &[QuizQuestion], answers: &[Vec<usize>]) -> Option<String> {
    if answers.len() != questions.len() {
        return Some(format!(
            "answers: one per question ({}), not {}",
            questions.len(),
            answers.len()
        ));
    }
    questions
        .iter()
        .zip(answers)
        .enumerate()
        .find_map(|(n, (q, a))| {
            selection_refusal(a, q.choices.len(), q.multiple)
                .map(|why| format!("question {}: {why}", n + 1))
        })
}

/// A selection: distinct indexes below `choices`, exactly one unless
/// `multiple`, at least one.
fn selection_refusal(chosen: &[usize], choices: usize, multiple: bool) -> Option<String> {
    if let Some(bad) = chosen.iter().find(|&&c| c >= choices) {
        return Some(format!(
            "choice {bad} is not one of its {choices} choices (0 to {})",
            choices - 1
        ));
    }
    let distinct: BTreeSet<usize> = chosen.iter().copied().collect();
    if distinct.len() != chosen.len() {
        return Some("a choice is given twice".to_owned());
    }
    match (multiple, chosen.len()) {
        (_, 0) => Some("choose at least one answer".to_owned()),
        (false, n) if n > 1 => Some("one answer only".to_owned()),
        _ => None,
    }
}

/// Control characters other than line breaks and tabs are not text.
fn control_refusal(text: &str) -> Option<String> {
    let c = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')?;
    Some(format!(
        "text: must not contain the control character U+{:04X}",
        c as u32
    ))
}

/// Questions answered exactly right (the same set of choices as the right
/// one's, in any order).
pub fn score(correct: &[Vec<usize>], answers: &[Vec<usize>]) -> u32 {
    let set = |v: &Vec<usize>| v.iter().copied().collect::<BTreeSet<usize>>();
    let right = correct
        .iter()
        .zip(answers)
        .filter(|(c, a)| set(c) == set(a))
        .count();
    u32::try_from(right).unwrap_or(u32::MAX)
}

/// A person's quizzes in one session, from the ledger: the quizzes opened
/// while they were connected (or that they completed, having joined while
/// it was open), and those they completed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuizTally {
    /// Quizzes put to the person.
    pub opened: u32,
    /// Of those, how many they completed.
    pub completed: u32,
}

/// Counts `person`'s quizzes from `entries` (a whole log or a proof's
/// entries: `quiz_opened` entries are in every proof, `quiz_completed`
/// entries in their author's) and their connection `intervals` (start, end,
/// ms). A quiz counts as put to them when it opened while they were
/// connected, or when they completed it.
pub fn tally(entries: &[Entry], person: &str, intervals: &[(i64, i64)]) -> QuizTally {
    let quiz_of = |e: &Entry| {
        e.payload_value()
            .get("quiz")
            .and_then(|q| q.as_str())
            .map(str::to_owned)
    };
    let completed: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.kind == kind::QUIZ_COMPLETED && e.actor == person)
        .filter_map(quiz_of)
        .collect();
    let mut opened = BTreeSet::new();
    let mut done = 0u32;
    for e in entries.iter().filter(|e| e.kind == kind::QUIZ_OPENED) {
        let Some(quiz) = quiz_of(e) else { continue };
        let present = intervals.iter().any(|&(s, t)| s <= e.ts && e.ts <= t);
        let finished = completed.contains(&quiz);
        if !(present || finished) || !opened.insert(quiz) {
            continue;
        }
        if finished {
            done += 1;
        }
    }
    QuizTally {
        opened: u32::try_from(opened.len()).unwrap_or(u32::MAX),
        completed: done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(multiple: bool, correct: Vec<usize>) -> NewQuizQuestion {
        NewQuizQuestion {
            text: "Quelle est la capitale ?".into(),
            choices: vec!["Paris".into(), "Lyon".into(), "Lille".into()],
            multiple,
            correct,
        }
    }

    #[test]
    fn a_quiz_is_refused_when_out_of_bounds_or_its_right_answers_are_not_choices() {
        assert_eq!(quiz_refusal("Module 2", &[question(false, vec![0])]), None);
        assert!(quiz_refusal("", &[question(false, vec![0])]).is_some());
        assert!(quiz_refusal("Module 2", &[]).is_some());
        let many = vec![question(false, vec![0]); MAX_QUIZ_QUESTIONS + 1];
        assert!(quiz_refusal("Module 2", &many).is_some());
        let why = quiz_refusal("Module 2", &[question(false, vec![3])]).expect("refused");
        assert!(
            why.contains("question 1") && why.contains("choice 3"),
            "{why}"
        );
        assert!(quiz_refusal("Module 2", &[question(false, vec![0, 1])]).is_some());
        assert!(quiz_refusal("Module 2", &[question(true, vec![0, 1])]).is_none());
        assert!(quiz_refusal("Module 2", &[question(true, vec![])]).is_some());
        let mut long = question(false, vec![0]);
        long.choices[1] = "x".repeat(MAX_QUIZ_CHOICE + 1);
        assert!(quiz_refusal("Module 2", &[long]).is_some());
        assert!(quiz_refusal("Mod\u{7}ule", &[question(false, vec![0])]).is_some());
    }

    #[test]
    fn answers_are_one_selection_per_question_within_its_choices() {
        let qs = vec![
            QuizQuestion {
                text: "a".into(),
                choices: vec!["x".into(), "y".into()],
                multiple: false,
            },
            QuizQuestion {
                text: "b".into(),
                choices: vec!["x".into(), "y".into(), "z".into()],
                multiple: true,
            },
        ];
        assert_eq!(answers_refusal(&qs, &[vec![1], vec![0, 2]]), None);
        assert!(answers_refusal(&qs, &[vec![1]]).is_some());
        assert!(answers_refusal(&qs, &[vec![2], vec![0]]).is_some());
        assert!(answers_refusal(&qs, &[vec![0, 1], vec![0]]).is_some());
        assert!(answers_refusal(&qs, &[vec![0], vec![1, 1]]).is_some());
        assert_eq!(score(&[vec![0], vec![2, 0]], &[vec![0], vec![0, 2]]), 2);
        assert_eq!(score(&[vec![0], vec![2, 0]], &[vec![0], vec![0]]), 1);
    }

    #[test]
    fn a_tally_counts_the_quizzes_opened_while_connected_and_those_completed() {
        use crate::testing::event;
        let opened = |seq, ts, q: &str| {
            let payload = serde_json::json!({"quiz": q, "title": "t", "questions": 2});
            event("s_1", seq, ts, kind::QUIZ_OPENED, "p_f", &payload)
        };
        let done = |seq, ts, q: &str, who: &str| {
            let payload = serde_json::json!({"quiz": q});
            event("s_1", seq, ts, kind::QUIZ_COMPLETED, who, &payload)
        };
        let log = vec![
            opened(0, 1_000, "q_a"),
            done(1, 1_500, "q_a", "p_k"),
            opened(2, 5_000, "q_b"),
            opened(3, 9_000, "q_c"),
            done(4, 9_500, "q_c", "p_k"),
            done(5, 9_600, "q_c", "p_s"),
        ];
        let k = tally(&log, "p_k", &[(500, 6_000)]);
        assert_eq!(
            k,
            QuizTally {
                opened: 3,
                completed: 2
            }
        );
        let s = tally(&log, "p_s", &[(9_100, 9_700)]);
        assert_eq!(
            s,
            QuizTally {
                opened: 1,
                completed: 1
            }
        );
        assert_eq!(tally(&log, "p_x", &[]), QuizTally::default());
    }
}
