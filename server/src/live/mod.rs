//! A session while it runs: one actor task per live session owns its
//! roster, sign-in, recording gate, quality and state; connections talk to
//! it through a [`session::SessionHandle`] and it answers through each
//! member's [`outbound`] queue. The actor lives in [`session`], one file per
//! responsibility (roster, sign-in, gate, segments, quality, control) around
//! a `handle` that only dispatches. The rules it applies are pure, no clock
//! and no I/O, the actor passing the time in: [`quality`], [`signin`], and
//! the recording gate and session control beside the actor's code.

pub mod outbound;
pub mod quality;
pub mod session;
pub mod signin;
