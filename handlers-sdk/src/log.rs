//! Logging into the server's log (the `log` import), tagged there with the model's name.
//! Anything printed to stdout/stderr is captured too, but bounded and less structured.

use crate::bindings::ferroserve::handler::log::{Level, log};

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}
