//! A session while it runs: one actor task per live session owns its
//! roster, sign-in, recording gate, quality and state; connections talk to
//! it through a [`session::SessionHandle`] and it answers through each
//! member's [`outbound`] queue. The rules it applies are pure modules
//! ([`quality`], [`signin`]): no clock, no I/O, the actor passes the time in.

pub mod outbound;
pub mod quality;
pub mod session;
pub mod signin;
