//! What exists, and who may come: sessions, people and their links.
//!
//! - [`catalog`]: sessions, people and links in the embedded SQLite file.
//! - [`links`]: join links as EdDSA JWTs; minting and strict verification.
//! - [`keys`]: the Ed25519 signing key and the organiser token, generated
//!   into the data directory on first start.
//! - [`calendar`]: a session as an `.ics` event.

pub mod calendar;
pub mod catalog;
pub mod keys;
pub mod links;
