//! The error bodies the actor answers a refused request with (sign-in
//! refusals convert from [`crate::live::signin::SigninError`]).

use cadre_protocol::{ErrorBody, ErrorCode};

pub(super) fn conflict(message: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::Conflict, message.to_owned())
}

pub(super) fn invalid(message: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidInput, message.to_owned())
}

pub(super) fn forbidden(message: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::Forbidden, message.to_owned())
}
