//! Quizzes: a facilitator launches one, each participant submits once, the
//! facilitator closes it.
//!
//! Two facts are evidence and are made durable before anyone is told:
//! the opening (`quiz_opened`, before the quiz is shown to anyone) and each
//! completion (`quiz_completed`, before the person's submission is
//! acknowledged). The questions' text, the right answers, the answers and
//! the scores stay in this actor's memory and are gone when it ends, like
//! the poll (`docs/evidence.md`, "Quizzes").

use super::actor::SessionActor;
use super::commands::Command;
use crate::evidence::ledger::NewEvent;
use crate::live::outbound::{Outbound, encode};
use cadre_protocol::evidence::kind;
use cadre_protocol::quiz::{
    NewQuizQuestion, Quiz, QuizMine, QuizQuestion, QuizResult, QuizResults, answers_refusal,
    quiz_refusal, score,
};
use cadre_protocol::signalling::ServerMessage;
use cadre_protocol::{ErrorCode, Role};
use std::collections::HashSet;

/// What a connection, or the task recording an entry, asks of the quiz.
pub(crate) enum QuizCommand {
    Open {
        id: String,
        connection_id: String,
        title: String,
        questions: Vec<NewQuizQuestion>,
    },
    /// The opening's entry was written (or not).
    Opened { quiz: String, written: bool },
    Submit {
        id: String,
        connection_id: String,
        quiz: String,
        answers: Vec<Vec<usize>>,
    },
    /// `id`'s completion entry was written (or not).
    Submitted {
        id: String,
        quiz: String,
        answers: Vec<Vec<usize>>,
        written: bool,
    },
    Close {
        id: String,
        connection_id: String,
        quiz: String,
    },
}

/// The latest quiz of this actor.
#[derive(Debug)]
pub(super) struct CurrentQuiz {
    id: String,
    title: String,
    questions: Vec<QuizQuestion>,
    correct: Vec<Vec<usize>>,
    by: String,
    /// False while its opening is being recorded: nobody sees it yet.
    shown: bool,
    open: bool,
    /// Submissions, in the order they were recorded.
    results: Vec<QuizResult>,
    /// Submissions being recorded (a second one is refused meanwhile).
    pending: HashSet<String>,
}

impl CurrentQuiz {
    fn view_for(&self, person: &str, role: Role) -> Quiz {
        let facilitator = role == Role::Facilitator;
        let mine = self
            .results
            .iter()
            .find(|r| r.id == person)
            .filter(|_| !facilitator)
            .map(|r| QuizMine {
                answers: r.answers.clone(),
                score: (!self.open).then_some(r.score),
            });
        let results = facilitator.then(|| {
            let right = (0..self.questions.len())
                .map(|q| {
                    let n = self
                        .results
                        .iter()
                        .filter(|r| {
                            r.answers.get(q).is_some_and(|a| {
                                score(&self.correct[q..=q], std::slice::from_ref(a)) == 1
                            })
                        })
                        .count();
                    u32::try_from(n).unwrap_or(u32::MAX)
                })
                .collect();
            let total: u32 = self.results.iter().map(|r| r.score).sum();
            QuizResults {
                people: self.results.clone(),
                right,
                mean: (!self.results.is_empty())
                    .then(|| f64::from(total) / self.results.len() as f64),
            }
        });
        Quiz {
            id: self.id.clone(),
            title: self.title.clone(),
            questions: self.questions.clone(),
            by: self.by.clone(),
            open: self.open,
            submitted: u32::try_from(self.results.len()).unwrap_or(u32::MAX),
            mine,
            correct: (facilitator || !self.open).then(|| self.correct.clone()),
            results,
        }
    }
}

impl SessionActor {
    pub(super) fn on_quiz(&mut self, cmd: QuizCommand) {
        match cmd {
            QuizCommand::Open {
                id,
                connection_id,
                title,
                questions,
            } => self.open_quiz(&id, &connection_id, title, questions),
            QuizCommand::Opened { quiz, written } => self.quiz_opened(&quiz, written),
            QuizCommand::Submit {
                id,
                connection_id,
                quiz,
                answers,
            } => self.submit_quiz(&id, &connection_id, &quiz, answers),
            QuizCommand::Submitted {
                id,
                quiz,
                answers,
                written,
            } => self.quiz_submitted(&id, &quiz, answers, written),
            QuizCommand::Close {
                id,
                connection_id,
                quiz,
            } => self.close_quiz(&id, &connection_id, &quiz),
        }
    }

    /// The latest quiz as `id` (of `role`) may see it, once shown.
    pub(super) fn quiz_for(&self, id: &str, role: Role) -> Option<Quiz> {
        let q = self.classroom.quiz.as_ref().filter(|q| q.shown)?;
        Some(q.view_for(id, role))
    }

    fn open_quiz(
        &mut self,
        id: &str,
        connection_id: &str,
        title: String,
        questions: Vec<NewQuizQuestion>,
    ) {
        if !self.facilitator_asks(id, connection_id, "quiz") {
            return;
        }
        if let Some(why) = quiz_refusal(&title, &questions) {
            self.refuse(id, ErrorCode::InvalidInput, &why, "quiz");
            return;
        }
        if self
            .classroom
            .quiz
            .as_ref()
            .is_some_and(|q| q.open || !q.shown)
        {
            self.refuse(
                id,
                ErrorCode::Conflict,
                "a quiz is open: close it before launching another",
                "quiz",
            );
            return;
        }
        if !self.allowed(id, "quiz") {
            return;
        }
        let Ok(suffix) = crate::directory::keys::random_id(9) else {
            self.refuse(id, ErrorCode::Internal, "no quiz id could be drawn", "quiz");
            return;
        };
        let quiz = format!("q_{suffix}");
        let event = NewEvent {
            sid: self.info.id.clone(),
            kind: kind::QUIZ_OPENED,
            actor: id.to_owned(),
            payload: serde_json::json!({
                "quiz": quiz,
                "title": title,
                "questions": questions.len(),
            }),
            client_ts: None,
        };
        self.classroom.quiz = Some(CurrentQuiz {
            id: quiz.clone(),
            title,
            correct: questions.iter().map(|q| q.correct.clone()).collect(),
            questions: questions
                .into_iter()
                .map(|q| QuizQuestion {
                    text: q.text,
                    choices: q.choices,
                    multiple: q.multiple,
                })
                .collect(),
            by: id.to_owned(),
            shown: false,
            open: true,
            results: Vec::new(),
            pending: HashSet::new(),
        });
        self.record_then(event, "a quiz's opening", move |written| async move {
            Some(Command::Quiz(Box::new(QuizCommand::Opened {
                quiz,
                written,
            })))
        });
    }

    fn quiz_opened(&mut self, quiz: &str, written: bool) {
        let Some(q) = self.classroom.quiz.as_mut().filter(|q| q.id == quiz) else {
            return;
        };
        if written {
            q.shown = true;
            self.tell_quiz();
            return;
        }
        let by = q.by.clone();
        self.classroom.quiz = None;
        self.refuse(
            &by,
            ErrorCode::Internal,
            "the quiz's opening could not be recorded: it was not launched",
            "quiz",
        );
    }

    fn submit_quiz(&mut self, id: &str, connection_id: &str, quiz: &str, answers: Vec<Vec<usize>>) {
        if !self.is_current(id, connection_id) {
            return;
        }
        let refusal = match self.classroom.quiz.as_ref() {
            Some(q) if q.id != quiz || !q.open || !q.shown => {
                Some((ErrorCode::NotOpen, "this quiz is not open".to_owned()))
            }
            None => Some((ErrorCode::NotOpen, "no quiz is open".to_owned())),
            Some(_) if self.is_facilitator(id) => Some((
                ErrorCode::Forbidden,
                "a facilitator sees the results; the quiz is for the participants".to_owned(),
            )),
            Some(q) if q.pending.contains(id) || q.results.iter().any(|r| r.id == id) => Some((
                ErrorCode::Conflict,
                "you have submitted this quiz already: your answers stay as they were".to_owned(),
            )),
            Some(q) => answers_refusal(&q.questions, &answers)
                .map(|why| (ErrorCode::InvalidInput, format!("answers: {why}"))),
        };
        if let Some((code, why)) = refusal {
            self.refuse(id, code, &why, "submit_quiz");
            return;
        }
        if let Some(q) = self.classroom.quiz.as_mut() {
            q.pending.insert(id.to_owned());
        }
        let event = NewEvent {
            sid: self.info.id.clone(),
            kind: kind::QUIZ_COMPLETED,
            actor: id.to_owned(),
            payload: serde_json::json!({ "quiz": quiz }),
            client_ts: None,
        };
        let (person, quiz) = (id.to_owned(), quiz.to_owned());
        self.record_then(event, "a quiz's completion", move |written| async move {
            Some(Command::Quiz(Box::new(QuizCommand::Submitted {
                id: person,
                quiz,
                answers,
                written,
            })))
        });
    }

    /// A completion is recorded: the submission counts even if the quiz
    /// closed meanwhile (the ledger says it was completed).
    fn quiz_submitted(&mut self, id: &str, quiz: &str, answers: Vec<Vec<usize>>, written: bool) {
        let name = self
            .members
            .get(id)
            .map(|m| m.name.clone())
            .or_else(|| {
                self.roll
                    .iter()
                    .find(|p| p.id == id)
                    .map(|p| p.name.clone())
            })
            .unwrap_or_default();
        let Some(q) = self.classroom.quiz.as_mut().filter(|q| q.id == quiz) else {
            return;
        };
        q.pending.remove(id);
        if !written {
            self.refuse(
                id,
                ErrorCode::Internal,
                "your answers could not be recorded: send them again",
                "submit_quiz",
            );
            return;
        }
        let points = score(&q.correct, &answers);
        q.results.push(QuizResult {
            id: id.to_owned(),
            name,
            answers,
            score: points,
        });
        // Each sees what is theirs: the person their submission, the
        // facilitators everyone's, the others how many have submitted.
        self.tell_quiz();
    }

    fn close_quiz(&mut self, id: &str, connection_id: &str, quiz: &str) {
        if !self.facilitator_asks(id, connection_id, "close_quiz") {
            return;
        }
        match self.classroom.quiz.as_mut() {
            Some(q) if q.id == quiz && q.open && q.shown => q.open = false,
            _ => {
                self.refuse(
                    id,
                    ErrorCode::NotOpen,
                    "this quiz is not open",
                    "close_quiz",
                );
                return;
            }
        }
        self.tell_quiz();
    }

    /// Everyone gets the quiz as they may see it.
    fn tell_quiz(&mut self) {
        let ids: Vec<(String, Role)> = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.role))
            .collect();
        for (id, role) in ids {
            if let Some(view) = self.quiz_for(&id, role) {
                let msg = encode(&ServerMessage::Quiz {
                    quiz: Box::new(view),
                });
                self.send(&id, Outbound::Text(msg));
            }
        }
    }
}
