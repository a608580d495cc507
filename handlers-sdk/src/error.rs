//! Constructors for [`HandlerError`], so handlers read `HandlerError::bad_input("...")`.
//! (`Display` and `Error` come from the generated bindings.)

use crate::HandlerError;

impl HandlerError {
    /// The client sent something this handler cannot use (HTTP 400). Say what to send instead.
    pub fn bad_input(message: impl Into<String>) -> Self {
        HandlerError::BadInput(message.into())
    }

    /// The handler itself failed (HTTP 500).
    pub fn internal(message: impl Into<String>) -> Self {
        HandlerError::Internal(message.into())
    }
}
