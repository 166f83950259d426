//! The integration suite, one binary: every module starts real servers on loopback.
//! One binary instead of one per file: each links webrtc, sqlite and the server, and
//! thirty such links cost minutes and gigabytes of disk for nothing.

mod actions;
mod anchoring;
mod backup;
mod bad_messages;
mod bad_tokens;
mod bidi_input;
mod capacity;
mod classroom;
mod close_handshake;
mod config_file;
mod consent;
mod consent_order;
mod consistency;
mod console_session;
mod control_proofs;
mod corrections;
mod document_privacy;
// The dossier d'audit of an action.
mod dossier;
mod downloads;
mod enrolment;
mod equipment;
mod flood;
mod forwarded_sessions;
mod forwarding;
mod health;
mod import;
mod isolation;
mod join_and_roster;
// Signing key rotation: `cadre keys`, links and evidence across it.
mod key_rotation;
mod ledger_heads;
mod liveness;
mod logs;
mod mail;
mod media_state;
mod metrics;
mod no_store;
mod origin;
mod packaging;
mod playable;
mod postgres_catalogue;
mod postgres_ledger;
mod postgres_sql;
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
mod several_nodes;
mod shutdown;
mod signin;
mod slow_consumer;
mod sponsor_report;
mod staff;
mod tab_replacement;
mod turn;
mod verify_cli;
mod verify_ledger;
mod verify_tamper;
mod webrtc_peers;
mod wire_types;
// TLS and the reverse proxy.
mod reverse_proxy;
mod tls;
