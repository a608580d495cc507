//! [`TorchError`], the crate's one error type, and trimming libtorch's messages.

use std::path::PathBuf;

use crate::Device;

/// Everything that can go wrong loading or running a model. libtorch's own messages are
/// carried trimmed (see [`trim_libtorch_message`]): no C++ backtrace, no TorchScript
/// traceback, just what the model or the operator said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TorchError {
    #[error(
        "unknown device `{given}`: use `cpu`, `cuda` (= `cuda:0`) or `cuda:N` with N a GPU index"
    )]
    InvalidDevice { given: String },

    #[error(
        "CUDA device {device} requested but this machine has no CUDA device \
         (tch::Cuda::is_available() is false)"
    )]
    CudaUnavailable { device: Device },

    #[error(
        "CUDA device {device} requested but this machine has only {count} CUDA device(s) \
         (cuda:0..cuda:{last})", last = count.saturating_sub(1)
    )]
    CudaIndexOutOfRange { device: Device, count: usize },

    #[error("model file {path} does not exist or is not a file")]
    ModelMissing { path: PathBuf },

    #[error("loading TorchScript model {path}: {message}")]
    Load { path: PathBuf, message: String },

    #[error("warm-up forward of {path} failed (check the warm-up shapes and dtypes): {message}")]
    Warmup { path: PathBuf, message: String },

    #[error("input `{name}`: {reason}")]
    InvalidInput { name: String, reason: String },

    /// The forward pass itself failed: wrong shape, wrong dtype, or the model raised.
    #[error("forward failed: {message}")]
    Forward { message: String },

    #[error("output `{name}` has dtype {kind}, which ferroserve tensors cannot carry")]
    UnsupportedOutputDtype { name: String, kind: String },

    #[error(
        "output `{name}` (shape {shape:?}) takes more than the {limit} bytes a forward may return in all; make the model return less (a view such as expand() is copied in full)"
    )]
    OutputTooLarge {
        name: String,
        shape: Vec<u64>,
        limit: u64,
    },

    #[error(
        "the model returned {found}; expected a tensor, or a tuple, list or string-keyed dict \
         of tensors"
    )]
    UnsupportedOutput { found: String },
}

impl TorchError {
    /// A `forward` failure from a tch error, with libtorch's message trimmed.
    pub(crate) fn forward(err: tch::TchError) -> TorchError {
        TorchError::Forward {
            message: tch_message(err),
        }
    }

    /// An error about one input, found before or while handing it to libtorch.
    pub(crate) fn input(name: &str, reason: impl Into<String>) -> TorchError {
        TorchError::InvalidInput {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported_kind(name: &str, kind: tch::Kind) -> TorchError {
        TorchError::UnsupportedOutputDtype {
            name: name.to_string(),
            kind: format!("{kind:?}"),
        }
    }
}

/// The trimmed text of a tch error: libtorch's message for [`tch::TchError::Torch`], tch's
/// own display for the rest.
pub(crate) fn tch_message(err: tch::TchError) -> String {
    match err {
        tch::TchError::Torch(raw) => trim_libtorch_message(&raw),
        other => trim_libtorch_message(&other.to_string()),
    }
}

/// Longest message kept, in characters; a model may raise with a huge string.
const MAX_CHARS: usize = 1000;
/// Most lines kept from a plain (non-TorchScript) libtorch message.
const MAX_LINES: usize = 6;

/// Keeps the part of a libtorch error message a user can act on.
///
/// libtorch messages come in two shapes:
/// - an operator error: the message, then `Exception raised from <fn> at <file>:<line>`
///   and a C++ backtrace (`frame #0: ...`) — the lines before `Exception raised from` are
///   kept (at most 6);
/// - an error inside a TorchScript interpreter: `The following operation failed in the
///   TorchScript interpreter.`, one or two tracebacks of the model's code, and last the
///   error itself (`RuntimeError: ...`, `builtins.ValueError: ...`) — the error is kept,
///   followed by `(at <file>, line <n>, in <fn>)` naming the innermost frame of the
///   model's original code when there is one.
///
/// The result has no trailing whitespace; past 1000 characters it is cut and ends in `…`.
pub fn trim_libtorch_message(raw: &str) -> String {
    let text = raw.trim();
    let trimmed = if text.contains("Traceback of TorchScript") {
        trim_interpreter_error(text)
    } else {
        trim_operator_error(text)
    };
    let trimmed = if trimmed.is_empty() {
        text.lines().next().unwrap_or("").trim().to_string()
    } else {
        trimmed
    };
    truncate(trimmed)
}

fn trim_operator_error(text: &str) -> String {
    text.lines()
        .take_while(|l| !is_backtrace_start(l))
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .take(MAX_LINES)
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_backtrace_start(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("Exception raised from") || l.starts_with("frame #")
}

fn trim_interpreter_error(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| is_backtrace_start(l))
        .unwrap_or(lines.len());
    let lines = &lines[..end];
    let Some(last_trace) = lines
        .iter()
        .rposition(|l| l.starts_with("Traceback of TorchScript"))
    else {
        return trim_operator_error(text);
    };
    // After the last traceback header come frames (indented code, or `path(line): fn` lines
    // for traced models), then the error: `SomeError: message`, at column 0.
    let rest = &lines[last_trace + 1..];
    let Some(error_at) = rest.iter().position(|l| is_error_header(l)) else {
        return trim_operator_error(text);
    };
    let mut error = rest[error_at..]
        .iter()
        .map(|l| l.trim_end())
        .filter(|l| !l.trim().is_empty())
        .take(MAX_LINES)
        .collect::<Vec<_>>()
        .join("\n");
    if let Some(plain) = error.strip_prefix("builtins.") {
        error = plain.to_string();
    }
    // Scripted models name the innermost frame of their source as `File "…", line N, in f`.
    match rest[..error_at]
        .iter()
        .rev()
        .find_map(|l| frame_location(l))
    {
        Some(at) => format!("{error} (at {at})"),
        None => error,
    }
}

/// `RuntimeError: …`, `builtins.ValueError: …`, `torch.jit.Error: …`: a dotted identifier
/// at column 0 followed by `: `.
fn is_error_header(line: &str) -> bool {
    let Some((head, _)) = line.split_once(": ") else {
        return false;
    };
    !head.is_empty()
        && head.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// `File "x.py", line 7, in forward` → `x.py, line 7, in forward`.
fn frame_location(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("File \"")?;
    let (file, tail) = rest.split_once('"')?;
    Some(format!("{file}{tail}"))
}

fn truncate(s: String) -> String {
    match s.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
