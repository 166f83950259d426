//! The class around the pictures: the chat, raised hands and reactions.
//!
//! None of it is evidence: nothing here is written to the ledger. The chat
//! lives in memory: the actor holds it while people are connected and
//! hands it to the registry when the last one leaves, so that a class back
//! from its lunch break finds it again; it is dropped when the session
//! ends (the facilitator's end), a day after its planned end, or when the
//! server stops.

use super::actor::SessionActor;
use crate::live::outbound::{Outbound, encode};
use cadre_protocol::classroom::{
    ChatLine, HandChange, MAX_CHAT_CHARS, MAX_CHAT_LINES, MAX_POLL_CHOICE, MAX_POLL_QUESTION,
    POLL_CHOICES, Poll, RaisedHand, Reaction,
};
use cadre_protocol::evidence::ACTOR_SERVER;
use cadre_protocol::signalling::ServerMessage;
use cadre_protocol::{ErrorCode, Role, SessionState};
use std::collections::HashSet;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Chat messages, hand changes and reactions per person: one a second,
/// five at once.
const RATE_PER_SECOND: f64 = 1.0;
const BURST: f64 = 5.0;

/// A session's chat is kept this long after its planned end when nobody
/// ended it.
pub(super) const CHAT_KEPT_AFTER_END_MS: i64 = 24 * 3_600_000;

/// The session's chat.
#[derive(Debug, Default)]
pub(crate) struct ChatLog {
    lines: VecDeque<ChatLine>,
    next_seq: u64,
}

impl ChatLog {
    fn push(&mut self, mut line: ChatLine) -> ChatLine {
        self.next_seq += 1;
        line.seq = self.next_seq;
        if self.lines.len() >= MAX_CHAT_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.clone());
        line
    }

    /// What `id` may read: everyone's messages and their own private ones.
    fn for_person(&self, id: &str) -> Vec<ChatLine> {
        self.lines
            .iter()
            .filter(|l| l.to.as_deref().is_none_or(|to| to == id || l.from == id))
            .cloned()
            .collect()
    }
}

/// One person's allowance of chat messages, hand changes and reactions.
#[derive(Debug)]
struct Allowance {
    tokens: f64,
    last: Instant,
}

impl Allowance {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * RATE_PER_SECOND)
            .min(BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The class's state in the actor.
#[derive(Debug, Default)]
pub(super) struct Classroom {
    pub(super) chat: ChatLog,
    hands: Vec<RaisedHand>,
    /// Who a facilitator shows large on every page.
    pub(super) spotlight: Option<String>,
    /// The latest poll: the counts, and who answered (never who chose
    /// what).
    poll: Option<(Poll, HashSet<String>)>,
    polls: u64,
    /// The latest quiz (`quiz.rs`).
    pub(super) quiz: Option<super::quiz::CurrentQuiz>,
    allowances: HashMap<String, Allowance>,
}

impl Classroom {
    pub(super) fn chat_for(&self, id: &str) -> Vec<ChatLine> {
        self.chat.for_person(id)
    }

    /// The latest poll as `id` (of `role`) may see it: the counts to
    /// facilitators, and to everyone once closed.
    pub(super) fn poll_for(&self, id: &str, role: Role) -> Option<Poll> {
        let (poll, answered) = self.poll.as_ref()?;
        let mut view = poll.clone();
        view.you_answered = answered.contains(id);
        if poll.open && role != Role::Facilitator {
            view.counts = None;
        }
        Some(view)
    }

    pub(super) fn hands(&self) -> Vec<RaisedHand> {
        self.hands.clone()
    }
}

/// Why a poll is refused, if it is.
fn poll_refusal(question: &str, choices: &[String]) -> Option<String> {
    if question.trim().is_empty() || question.chars().count() > MAX_POLL_QUESTION {
        return Some(format!("question: 1 to {MAX_POLL_QUESTION} characters"));
    }
    if !POLL_CHOICES.contains(&choices.len()) {
        return Some(format!(
            "choices: {} to {} answers",
            POLL_CHOICES.start(),
            POLL_CHOICES.end()
        ));
    }
    if choices
        .iter()
        .any(|c| c.trim().is_empty() || c.chars().count() > MAX_POLL_CHOICE)
    {
        return Some(format!("choices: each 1 to {MAX_POLL_CHOICE} characters"));
    }
    let text = std::iter::once(question).chain(choices.iter().map(String::as_str));
    text.map(refusal_of_controls)
        .find(Option::is_some)
        .flatten()
}

/// Control characters other than line breaks and tabs are not text.
fn refusal_of_controls(text: &str) -> Option<String> {
    let c = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')?;
    Some(format!(
        "text: must not contain the control character U+{:04X}",
        c as u32
    ))
}

/// Why a chat text is refused, if it is.
fn refusal(text: &str) -> Option<String> {
    let chars = text.chars().count();
    if text.trim().is_empty() {
        return Some("text: an empty message".to_owned());
    }
    if chars > MAX_CHAT_CHARS {
        return Some(format!(
            "text: {chars} characters, over the {MAX_CHAT_CHARS} a message may have"
        ));
    }
    refusal_of_controls(text)
}

impl SessionActor {
    /// `id`'s chat message, to everyone or privately to one person.
    pub(super) fn chat(&mut self, id: &str, connection_id: &str, text: String, to: Option<String>) {
        if !self.is_current(id, connection_id) {
            return;
        }
        // A refused message does not spend the person's allowance.
        if let Some(why) = refusal(&text) {
            self.refuse(id, ErrorCode::InvalidInput, &why, "chat");
            return;
        }
        let sender_role = self.members.get(id).map(|m| m.role);
        if let Some(to) = &to {
            let Some(target) = self.roll.iter().find(|p| p.id == *to) else {
                self.refuse(
                    id,
                    ErrorCode::UnknownPeer,
                    &format!("{to} is not a person of this session"),
                    "chat",
                );
                return;
            };
            if to == id {
                self.refuse(id, ErrorCode::InvalidInput, "to: yourself", "chat");
                return;
            }
            if sender_role != Some(Role::Facilitator) && target.role != Role::Facilitator {
                self.refuse(
                    id,
                    ErrorCode::Forbidden,
                    "a participant writes privately only to a facilitator",
                    "chat",
                );
                return;
            }
        }
        if !self.allowed(id, "chat") {
            return;
        }
        let name = self
            .members
            .get(id)
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let line = self.classroom.chat.push(ChatLine {
            seq: 0,
            from: id.to_owned(),
            name,
            text,
            at: super::now_ms(),
            to: to.clone(),
        });
        let msg = ServerMessage::Chat { line };
        match to {
            None => self.broadcast(&msg, None),
            Some(to) => {
                let text = encode(&msg);
                self.send(id, Outbound::Text(text.clone()));
                self.send(&to, Outbound::Text(text));
            }
        }
    }

    /// Raises or lowers a hand: one's own, or (a facilitator) lowers
    /// someone else's.
    pub(super) fn hand(
        &mut self,
        id: &str,
        connection_id: &str,
        raised: bool,
        participant: Option<String>,
    ) {
        if !self.is_current(id, connection_id) || !self.allowed(id, "hand") {
            return;
        }
        let whose = participant.unwrap_or_else(|| id.to_owned());
        if whose != id {
            if !self.is_facilitator(id) {
                self.refuse(
                    id,
                    ErrorCode::Forbidden,
                    "only a facilitator lowers someone else's hand",
                    "hand",
                );
                return;
            }
            if raised {
                self.refuse(
                    id,
                    ErrorCode::Forbidden,
                    "nobody raises a hand for someone else",
                    "hand",
                );
                return;
            }
        }
        self.set_hand(&whose, raised, id);
    }

    /// Applies a hand change and tells everyone; nothing when it changes
    /// nothing.
    fn set_hand(&mut self, whose: &str, raised: bool, by: &str) {
        let up = self.classroom.hands.iter().position(|h| h.id == whose);
        match (raised, up) {
            (true, None) => self.classroom.hands.push(RaisedHand {
                id: whose.to_owned(),
                at: super::now_ms(),
            }),
            (false, Some(i)) => {
                self.classroom.hands.remove(i);
            }
            _ => return,
        }
        let msg = ServerMessage::Hands {
            raised: self.classroom.hands.clone(),
            change: HandChange {
                id: whose.to_owned(),
                raised,
                by: by.to_owned(),
            },
        };
        self.broadcast(&msg, None);
    }

    /// A reaction, shown to everyone.
    pub(super) fn react(&mut self, id: &str, connection_id: &str, reaction: Reaction) {
        if !self.is_current(id, connection_id) || !self.allowed(id, "react") {
            return;
        }
        let msg = ServerMessage::Reaction {
            id: id.to_owned(),
            reaction,
            at: super::now_ms(),
        };
        self.broadcast(&msg, None);
    }

    /// A facilitator mutes one person's microphone, or everyone's but the
    /// facilitators'. Only the people muted are told; their pages turn
    /// the microphone off and they may turn it on again.
    pub(super) fn mute(&mut self, id: &str, connection_id: &str, participant: Option<String>) {
        let everyone = participant.is_none();
        let Some(targets) = self.facilitator_targets(id, connection_id, participant, "mute") else {
            return;
        };
        let msg = encode(&ServerMessage::Muted {
            by: id.to_owned(),
            everyone,
        });
        for target in targets {
            self.send(&target, Outbound::Text(msg.clone()));
        }
    }

    /// A facilitator puts a poll (the open one, if any, closes first).
    pub(super) fn put_poll(
        &mut self,
        id: &str,
        connection_id: &str,
        question: String,
        choices: Vec<String>,
    ) {
        if !self.facilitator_asks(id, connection_id, "poll") {
            return;
        }
        if let Some(why) = poll_refusal(&question, &choices) {
            self.refuse(id, ErrorCode::InvalidInput, &why, "poll");
            return;
        }
        if !self.allowed(id, "poll") {
            return;
        }
        if let Some((open, _)) = &self.classroom.poll
            && open.open
        {
            let previous = open.id;
            self.close_poll_now(previous);
        }
        self.classroom.polls += 1;
        let counts = vec![0; choices.len()];
        let poll = Poll {
            id: self.classroom.polls,
            question,
            choices,
            by: id.to_owned(),
            open: true,
            counts: Some(counts),
            answered: 0,
            you_answered: false,
        };
        self.classroom.poll = Some((poll, HashSet::new()));
        self.tell_poll();
    }

    /// Someone answers the open poll, once.
    pub(super) fn answer_poll(&mut self, id: &str, connection_id: &str, poll: u64, choice: usize) {
        if !self.is_current(id, connection_id) {
            return;
        }
        let refusal = match &self.classroom.poll {
            Some((p, _)) if p.id != poll || !p.open => {
                Some((ErrorCode::NotOpen, "this poll is not open".to_owned()))
            }
            None => Some((ErrorCode::NotOpen, "no poll is open".to_owned())),
            Some((p, answered)) if answered.contains(id) => Some((
                ErrorCode::Conflict,
                "you have answered this poll already".to_owned(),
            )),
            Some((p, _)) if choice >= p.choices.len() => Some((
                ErrorCode::InvalidInput,
                format!("choice: 0 to {}", p.choices.len() - 1),
            )),
            Some(_) => None,
        };
        if let Some((code, why)) = refusal {
            self.refuse(id, code, &why, "answer");
            return;
        }
        if let Some((p, answered)) = &mut self.classroom.poll {
            answered.insert(id.to_owned());
            p.answered += 1;
            if let Some(counts) = &mut p.counts {
                counts[choice] += 1;
            }
        }
        self.tell_poll();
    }

    /// A facilitator closes the open poll: everyone sees its counts.
    pub(super) fn close_poll(&mut self, id: &str, connection_id: &str, poll: u64) {
        if !self.facilitator_asks(id, connection_id, "close_poll") {
            return;
        }
        let open = self
            .classroom
            .poll
            .as_ref()
            .is_some_and(|(p, _)| p.id == poll && p.open);
        if !open {
            self.refuse(
                id,
                ErrorCode::NotOpen,
                "this poll is not open",
                "close_poll",
            );
            return;
        }
        self.close_poll_now(poll);
    }

    fn close_poll_now(&mut self, poll: u64) {
        if let Some((p, _)) = &mut self.classroom.poll
            && p.id == poll
        {
            p.open = false;
        }
        self.tell_poll();
    }

    /// Everyone gets the poll as they may see it.
    fn tell_poll(&mut self) {
        let ids: Vec<(String, Role)> = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.role))
            .collect();
        for (id, role) in ids {
            if let Some(poll) = self.classroom.poll_for(&id, role) {
                let msg = encode(&ServerMessage::Poll { poll });
                self.send(&id, Outbound::Text(msg));
            }
        }
    }

    /// Whether `id` is a facilitator on their current connection (told
    /// why not otherwise).
    pub(super) fn facilitator_asks(&mut self, id: &str, connection_id: &str, about: &str) -> bool {
        if !self.is_current(id, connection_id) {
            return false;
        }
        if !self.is_facilitator(id) {
            self.refuse(
                id,
                ErrorCode::Forbidden,
                "only a facilitator does this",
                about,
            );
            return false;
        }
        true
    }

    /// A facilitator shows someone large on every page, or stops.
    pub(super) fn spotlight(&mut self, id: &str, connection_id: &str, participant: Option<String>) {
        if !self.facilitator_asks(id, connection_id, "spotlight") {
            return;
        }
        if let Some(p) = &participant
            && !self.members.contains_key(p)
        {
            self.refuse(
                id,
                ErrorCode::UnknownPeer,
                &format!("{p} is not connected to this session"),
                "spotlight",
            );
            return;
        }
        if !self.allowed(id, "spotlight") {
            return;
        }
        self.set_spotlight(participant, id);
    }

    fn set_spotlight(&mut self, whom: Option<String>, by: &str) {
        if self.classroom.spotlight == whom {
            return;
        }
        self.classroom.spotlight.clone_from(&whom);
        self.broadcast(
            &ServerMessage::Spotlight {
                id: whom,
                by: by.to_owned(),
            },
            None,
        );
    }

    /// A facilitator asks someone to turn their microphone back on.
    pub(super) fn ask_unmute(&mut self, id: &str, connection_id: &str, participant: String) {
        let Some(targets) =
            self.facilitator_targets(id, connection_id, Some(participant), "ask_unmute")
        else {
            return;
        };
        let msg = encode(&ServerMessage::UnmuteAsked { by: id.to_owned() });
        for target in targets {
            self.send(&target, Outbound::Text(msg.clone()));
        }
    }

    /// Who a facilitator's request about microphones reaches: the one
    /// person named (connected, not the facilitator), or everyone connected
    /// but the facilitators; `None` (and the sender told why) when refused.
    fn facilitator_targets(
        &mut self,
        id: &str,
        connection_id: &str,
        participant: Option<String>,
        about: &str,
    ) -> Option<Vec<String>> {
        if !self.facilitator_asks(id, connection_id, about) {
            return None;
        }
        let targets: Vec<String> = match participant {
            Some(p) if p == id => {
                self.refuse(id, ErrorCode::InvalidInput, "participant: yourself", about);
                return None;
            }
            Some(p) if self.members.contains_key(&p) => vec![p],
            Some(p) => {
                self.refuse(
                    id,
                    ErrorCode::UnknownPeer,
                    &format!("{p} is not connected to this session"),
                    about,
                );
                return None;
            }
            None => self
                .members
                .iter()
                .filter(|(_, m)| m.role != Role::Facilitator)
                .map(|(p, _)| p.clone())
                .collect(),
        };
        self.allowed(id, about).then_some(targets)
    }

    /// Someone left: their hand goes down, and they are no longer shown
    /// to everyone.
    pub(super) fn classroom_left(&mut self, id: &str) {
        self.set_hand(id, false, ACTOR_SERVER);
        if self.classroom.spotlight.as_deref() == Some(id) {
            self.set_spotlight(None, ACTOR_SERVER);
        }
        self.classroom.allowances.remove(id);
    }

    /// The actor ends: the chat goes back to the registry for the next
    /// actor of this session, unless the session is over.
    pub(super) fn keep_chat(&mut self) {
        let chat = std::mem::take(&mut self.classroom.chat);
        let over = self.info.state == SessionState::Ended;
        let expires = self.schedule.planned_end + CHAT_KEPT_AFTER_END_MS;
        if !over && !chat.lines.is_empty() {
            self.registry.keep_chat(&self.info.id, chat, expires);
        }
    }

    pub(super) fn allowed(&mut self, id: &str, about: &str) -> bool {
        let allowance = self
            .classroom
            .allowances
            .entry(id.to_owned())
            .or_insert_with(|| Allowance {
                tokens: BURST,
                last: Instant::now(),
            });
        if allowance.take() {
            return true;
        }
        self.refuse(
            id,
            ErrorCode::RateLimited,
            "one a second at most (five at once): this one was dropped",
            about,
        );
        false
    }

    pub(super) fn refuse(&mut self, id: &str, code: ErrorCode, message: &str, about: &str) {
        let msg = ServerMessage::error_about(code, message, about);
        self.send(id, Outbound::Text(encode(&msg)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(from: &str, to: Option<&str>) -> ChatLine {
        ChatLine {
            seq: 0,
            from: from.to_owned(),
            name: from.to_owned(),
            text: "bonjour".to_owned(),
            at: 0,
            to: to.map(str::to_owned),
        }
    }

    #[test]
    fn a_private_message_is_read_by_its_two_people_only() {
        let mut log = ChatLog::default();
        log.push(line("p_karim", None));
        log.push(line("p_karim", Some("p_claire")));
        log.push(line("p_claire", Some("p_sophie")));
        let seqs = |id: &str| -> Vec<u64> { log.for_person(id).iter().map(|l| l.seq).collect() };
        assert_eq!(seqs("p_karim"), vec![1, 2]);
        assert_eq!(seqs("p_claire"), vec![1, 2, 3]);
        assert_eq!(seqs("p_sophie"), vec![1, 3]);
        assert_eq!(seqs("p_lucas"), vec![1]);
    }

    #[test]
    fn the_chat_keeps_its_last_messages_and_numbers_on() {
        let mut log = ChatLog::default();
        for _ in 0..MAX_CHAT_LINES + 3 {
            log.push(line("p_karim", None));
        }
        let kept = log.for_person("p_karim");
        assert_eq!(kept.len(), MAX_CHAT_LINES);
        assert_eq!(kept[0].seq, 4);
        assert_eq!(kept.last().map(|l| l.seq), Some(MAX_CHAT_LINES as u64 + 3));
    }

    #[test]
    fn a_text_is_refused_only_when_empty_too_long_or_with_control_characters() {
        assert_eq!(refusal("Bonjour à tous\n<b>ok</b> \u{202E}"), None);
        assert!(refusal("   \n").is_some());
        assert!(refusal(&"é".repeat(MAX_CHAT_CHARS)).is_none());
        assert!(refusal(&"é".repeat(MAX_CHAT_CHARS + 1)).is_some());
        assert!(refusal("a\u{0}b").is_some_and(|w| w.contains("U+0000")));
        assert!(refusal("a\u{1b}[31m").is_some());
    }
}
