//! Tests that run the `cadre` binary itself, as a process (CLI, crash and restart).
//! One binary for all of them, so the test build links the server once.

mod crash_recovery;
mod readmit_cli;
mod report_cli;
