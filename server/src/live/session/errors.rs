//! The error bodies the actor answers a refused request with (sign-in
//! refusals convert from [`crate::live::signin::SigninError`]).

use cadre_protocol::{ErrorBody, ErrorCode};

pub(super) fn conflict(message: &str) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::Conflict,
        message: message.to_owned(),
    }
}

pub(super) fn invalid(message: &str) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::InvalidInput,
        message: message.to_owned(),
    }
}

pub(super) fn forbidden(message: &str) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::Forbidden,
        message: message.to_owned(),
    }
}
