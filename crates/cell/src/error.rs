//! [`CellError`]: what can go wrong between the server and a cell.

use crate::Death;

#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// The cell process could not be started (the message says why).
    #[error("cannot start the model process: {0}")]
    Start(String),
    /// The model did not load; the cell's own message (libtorch's, trimmed).
    #[error("{0}")]
    Load(String),
    /// Loading the model killed its cell.
    #[error("loading the model killed its process ({0}); the model was not registered")]
    LoadKilled(Death),
    /// The load did not finish in time; the cell was stopped.
    #[error(
        "loading the model took longer than {0:?}; its process was stopped and the model was not registered"
    )]
    LoadTimeout(std::time::Duration),
    /// A frame on the socket was malformed or too large.
    #[error("the model process sent {0}")]
    Protocol(String),
    #[error("talking to the model process: {0}")]
    Io(#[from] std::io::Error),
}
