//! The evidence: the append-only, tamper-evident ledger and everything that
//! proves what it says to someone who does not trust the server.
//!
//! - [`ledger`]: group-committed appends, Merkle tree heads, inclusion and
//!   consistency proofs, the export an auditor verifies.
//! - [`jws`]: signing tree heads and proofs with the server's key.
//! - [`anchoring`]: RFC 3161 time-stamps of tree heads, off the append path.
//! - [`render`]: the PDF renderings of proofs and attendance sheets.
//! - [`verify`]: `cadre verify`, the auditor's side, offline.

pub mod anchoring;
pub mod jws;
pub mod ledger;
pub mod render;
pub mod verify;
