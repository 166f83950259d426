//! The recording gate's rules, pure: no clock, no I/O, nothing of the actor
//! but plain data (the model is [`crate::live::quality`]). The actor keeps a
//! [`Decision`] per person, reads a [`Gate`] from its state whenever
//! something the gate depends on changes, and does what [`Gate::change`]
//! answers. `docs/recording.md` states the invariant these rules keep: the
//! gate never opens while the latest recorded decision of anyone connected
//! is not a grant, and a withdrawal counts from the moment it arrives.

use cadre_protocol::SessionState;

/// A person's `recording` decision as the actor knows it, ordered as the
/// ledger orders decisions (by sequence number), whichever tab made them
/// and whenever they were read.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Decision {
    /// Withdrawals being written: each closes the gate already.
    withdrawing: u32,
    /// Grants being written: none counts before it is durable.
    granting: u32,
    /// The latest decision the ledger holds (its seq, and whether it
    /// grants). A withdrawal that could not be written keeps the seq it
    /// followed and counts as a withdrawal until a later grant is durable.
    latest: Option<(u64, bool)>,
}

impl Decision {
    /// The person counts as consenting: their latest decision, as the
    /// ledger orders them, is a grant and no withdrawal is being written.
    pub(super) fn grants(&self) -> bool {
        self.withdrawing == 0 && matches!(self.latest, Some((_, true)))
    }

    /// A decision of theirs is being written.
    pub(super) fn pending(&self) -> bool {
        self.withdrawing + self.granting > 0
    }

    /// A decision read or written at `seq`: the later one wins.
    pub(super) fn learn(&mut self, seq: u64, granted: bool) {
        if self.latest.is_none_or(|(s, _)| seq > s) {
            self.latest = Some((seq, granted));
        }
    }

    /// A decision arrives and is about to be written: a withdrawal counts
    /// at once, a grant only once [`Decision::written`] says it is durable.
    pub(super) fn asked(&mut self, granted: bool) {
        if granted {
            self.granting += 1;
        } else {
            self.withdrawing += 1;
        }
    }

    /// A decision was written at `seq`, or could not be (`None`). A
    /// withdrawal that could not be written is honoured all the same.
    pub(super) fn written(&mut self, granted: bool, seq: Option<u64>) {
        if granted {
            self.granting = self.granting.saturating_sub(1);
        } else {
            self.withdrawing = self.withdrawing.saturating_sub(1);
        }
        match seq {
            Some(seq) => self.learn(seq, granted),
            None if !granted => {
                // Asked, not recorded: still honoured.
                let seq = self.latest.map_or(0, |(s, _)| s);
                self.latest = Some((seq, false));
            }
            None => {}
        }
    }

    /// What the person's tabs show as their decision.
    pub(super) fn shown(&self) -> Option<bool> {
        if self.withdrawing > 0 {
            Some(false)
        } else {
            self.latest.map(|(_, granted)| granted)
        }
    }
}

/// Where the session's recording is, as the gate sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No segment.
    Idle,
    /// A segment's `recording_started` is being written.
    Starting,
    /// A segment accepts media.
    Active,
}

/// What the gate looks at, read from the actor's state.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gate<'a> {
    /// A facilitator asked for recording.
    pub(super) armed: bool,
    /// Why recording stopped on its own, if it did.
    pub(super) failure: Option<&'a str>,
    /// The session's state.
    pub(super) state: SessionState,
    /// How many people are connected.
    pub(super) members: usize,
    /// Whether every one of them [`Decision::grants`].
    pub(super) everyone_grants: bool,
}

/// What to do with the segment.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum GateChange {
    /// Nothing (a segment being started is checked again once durable).
    Keep,
    /// Open a segment.
    Start,
    /// Close the running segment, for this reason.
    Close(String),
}

impl Gate<'_> {
    /// Open: armed, no failure, the session in progress, someone here, and
    /// everyone here grants `recording`.
    pub(super) fn open(&self) -> bool {
        self.armed
            && self.failure.is_none()
            && in_progress(self.state)
            && self.members > 0
            && self.everyone_grants
    }

    /// What the gate does now, in `phase`. `trigger` is why the caller
    /// looked (e.g. `consent_withdrawn`); a segment that closes says the
    /// most telling reason: the room emptied (unless the server is
    /// stopping), recording was disarmed, a failure, the session's new
    /// state, and only then the trigger.
    pub(super) fn change(&self, phase: Phase, trigger: &str) -> GateChange {
        let open = self.open();
        match phase {
            Phase::Idle if open => GateChange::Start,
            Phase::Active if !open => {
                let reason = if self.members == 0 && trigger != "shutdown" {
                    "everyone_left"
                } else if !self.armed {
                    "disarmed"
                } else if let Some(failure) = self.failure {
                    failure
                } else if !in_progress(self.state) {
                    self.state.as_str()
                } else {
                    trigger
                };
                GateChange::Close(reason.to_owned())
            }
            _ => GateChange::Keep,
        }
    }

    /// Why a segment whose start was being written closes empty, the gate
    /// having closed meanwhile.
    pub(super) fn abandon_reason(&self) -> &'static str {
        if self.members == 0 {
            "everyone_left"
        } else if !self.armed {
            "disarmed"
        } else {
            "consent_withdrawn"
        }
    }
}

fn in_progress(state: SessionState) -> bool {
    matches!(state, SessionState::Open | SessionState::Running)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An open gate: armed, running, two people who both consent.
    fn open_gate() -> Gate<'static> {
        Gate {
            armed: true,
            failure: None,
            state: SessionState::Running,
            members: 2,
            everyone_grants: true,
        }
    }

    #[test]
    fn gate_opens_only_when_every_condition_holds() {
        assert!(open_gate().open());
        assert!(
            Gate {
                state: SessionState::Open,
                ..open_gate()
            }
            .open()
        );
        let closed = [
            Gate {
                armed: false,
                ..open_gate()
            },
            Gate {
                failure: Some("storage_full"),
                ..open_gate()
            },
            Gate {
                state: SessionState::Suspended,
                ..open_gate()
            },
            Gate {
                state: SessionState::Ended,
                ..open_gate()
            },
            Gate {
                members: 0,
                ..open_gate()
            },
            Gate {
                everyone_grants: false,
                ..open_gate()
            },
        ];
        for gate in closed {
            assert!(!gate.open(), "{gate:?} should be closed");
        }
    }

    #[test]
    fn idle_gate_starts_a_segment_when_open_and_waits_otherwise() {
        assert_eq!(open_gate().change(Phase::Idle, "x"), GateChange::Start);
        let closed = Gate {
            armed: false,
            ..open_gate()
        };
        assert_eq!(closed.change(Phase::Idle, "x"), GateChange::Keep);
    }

    #[test]
    fn open_gate_keeps_a_running_or_starting_segment() {
        assert_eq!(open_gate().change(Phase::Active, "x"), GateChange::Keep);
        assert_eq!(open_gate().change(Phase::Starting, "x"), GateChange::Keep);
    }

    #[test]
    fn a_segment_being_started_is_left_to_its_own_check() {
        let closed = Gate {
            everyone_grants: false,
            ..open_gate()
        };
        assert_eq!(closed.change(Phase::Starting, "x"), GateChange::Keep);
    }

    fn close(gate: Gate<'_>, trigger: &str) -> String {
        match gate.change(Phase::Active, trigger) {
            GateChange::Close(reason) => reason,
            other => panic!("expected the segment to close, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_room_closes_as_everyone_left_whatever_the_trigger() {
        let empty = Gate {
            members: 0,
            armed: false,
            failure: Some("storage_error"),
            ..open_gate()
        };
        assert_eq!(close(empty, "consent_withdrawn"), "everyone_left");
    }

    #[test]
    fn an_empty_room_at_shutdown_closes_as_shutdown() {
        let empty = Gate {
            members: 0,
            ..open_gate()
        };
        assert_eq!(close(empty, "shutdown"), "shutdown");
        // Disarmed at the same time: disarming is the more telling reason.
        let disarmed = Gate {
            armed: false,
            ..empty
        };
        assert_eq!(close(disarmed, "shutdown"), "disarmed");
    }

    #[test]
    fn disarming_outranks_a_failure_and_the_state() {
        let gate = Gate {
            armed: false,
            failure: Some("storage_full"),
            state: SessionState::Suspended,
            ..open_gate()
        };
        assert_eq!(close(gate, "consent_withdrawn"), "disarmed");
    }

    #[test]
    fn a_failure_closes_with_its_own_name() {
        let gate = Gate {
            failure: Some("storage_full"),
            state: SessionState::Suspended,
            ..open_gate()
        };
        assert_eq!(close(gate, "consent_withdrawn"), "storage_full");
    }

    #[test]
    fn a_session_leaving_progress_closes_with_its_state() {
        for (state, name) in [
            (SessionState::Suspended, "suspended"),
            (SessionState::Postponed, "postponed"),
            (SessionState::Ended, "ended"),
        ] {
            let gate = Gate {
                state,
                ..open_gate()
            };
            assert_eq!(close(gate, "consent_withdrawn"), name);
        }
    }

    #[test]
    fn otherwise_the_trigger_is_the_reason() {
        let gate = Gate {
            everyone_grants: false,
            ..open_gate()
        };
        assert_eq!(close(gate, "consent_withdrawn"), "consent_withdrawn");
        assert_eq!(
            close(gate, "participant_without_consent"),
            "participant_without_consent"
        );
    }

    #[test]
    fn a_start_overtaken_by_the_gate_closing_says_why() {
        let empty = Gate {
            members: 0,
            armed: false,
            ..open_gate()
        };
        assert_eq!(empty.abandon_reason(), "everyone_left");
        let disarmed = Gate {
            armed: false,
            ..open_gate()
        };
        assert_eq!(disarmed.abandon_reason(), "disarmed");
        let refused = Gate {
            everyone_grants: false,
            ..open_gate()
        };
        assert_eq!(refused.abandon_reason(), "consent_withdrawn");
    }

    #[test]
    fn nobody_grants_before_deciding() {
        let d = Decision::default();
        assert!(!d.grants());
        assert!(!d.pending());
        assert_eq!(d.shown(), None);
    }

    #[test]
    fn a_grant_counts_only_once_durable() {
        let mut d = Decision::default();
        d.asked(true);
        assert!(!d.grants());
        assert!(d.pending());
        d.written(true, Some(7));
        assert!(d.grants());
        assert!(!d.pending());
        assert_eq!(d.shown(), Some(true));
    }

    #[test]
    fn a_grant_that_could_not_be_written_does_not_count() {
        let mut d = Decision::default();
        d.asked(true);
        d.written(true, None);
        assert!(!d.grants());
        assert!(!d.pending());
        assert_eq!(d.shown(), None);
    }

    #[test]
    fn a_withdrawal_counts_on_arrival() {
        let mut d = Decision::default();
        d.learn(3, true);
        assert!(d.grants());
        d.asked(false);
        assert!(!d.grants());
        assert_eq!(d.shown(), Some(false));
        d.written(false, Some(4));
        assert!(!d.grants());
        assert_eq!(d.shown(), Some(false));
    }

    #[test]
    fn a_withdrawal_that_could_not_be_written_is_honoured_until_a_later_grant() {
        let mut d = Decision::default();
        d.learn(3, true);
        d.asked(false);
        d.written(false, None);
        assert!(!d.grants());
        assert_eq!(d.shown(), Some(false));
        // A read of the grant it followed does not bring it back...
        d.learn(3, true);
        assert!(!d.grants());
        // ...a later durable grant does.
        d.asked(true);
        d.written(true, Some(5));
        assert!(d.grants());
    }

    #[test]
    fn the_later_decision_wins_whatever_the_order_learnt() {
        let mut d = Decision::default();
        d.learn(9, false);
        d.learn(4, true);
        assert!(!d.grants());
        let mut d = Decision::default();
        d.learn(4, false);
        d.learn(9, true);
        assert!(d.grants());
    }

    #[test]
    fn a_grant_being_written_does_not_hide_a_withdrawal_being_written() {
        let mut d = Decision::default();
        d.learn(1, true);
        d.asked(false);
        d.asked(true);
        d.written(true, Some(2));
        assert!(!d.grants(), "the withdrawal is still being written");
        d.written(false, Some(3));
        assert!(!d.grants());
        assert!(!d.pending());
    }
}
