//! The integration suite, one binary: every module starts real servers on loopback.
//! One binary instead of one per file: each links webrtc, sqlite and the server, and
//! thirty such links cost minutes and gigabytes of disk for nothing.

mod actions;
mod anchoring;
mod bad_messages;
mod bad_tokens;
mod bidi_input;
mod capacity;
mod classroom;
mod close_handshake;
mod consent;
mod consent_order;
mod consistency;
mod control_proofs;
mod document_privacy;
mod downloads;
mod flood;
mod forwarded_sessions;
mod forwarding;
mod isolation;
mod join_and_roster;
mod ledger_heads;
mod liveness;
mod media_state;
mod no_store;
mod origin;
mod playable;
mod postponement;
mod quality;
mod questionnaires;
mod quizzes;
mod recorder;
mod recording_gate;
mod recording_media;
mod relay;
mod reports;
mod rest_api;
mod revocation;
mod screen_sharing;
mod session_control;
mod shutdown;
mod signin;
mod slow_consumer;
mod sponsor_report;
mod tab_replacement;
mod verify_cli;
mod verify_ledger;
mod verify_tamper;
mod webrtc_peers;
mod wire_types;
// TLS and the reverse proxy.
mod reverse_proxy;
mod tls;
