//! The audit log: one JSON line per management operation (who, what, on what, when, and
//! the outcome: its class and type, not a protocol's status, since the operation may have
//! come over any edge), appended to `<state>/audit.log` and also emitted as a tracing event at
//! target `ferroserve::audit`. Lines are written whole with one `write` on an append-only
//! file, so concurrent operations never interleave within a line.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::json;

use super::Principal;
use crate::Error;

#[derive(Default)]
pub struct Audit {
    file: Option<Mutex<std::fs::File>>,
}

impl Audit {
    /// Appends to `path` (created when missing).
    pub fn open(path: &Path) -> std::io::Result<Audit> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Audit {
            file: Some(Mutex::new(file)),
        })
    }

    pub fn record(&self, who: &Principal, action: &str, target: &str, outcome: Result<(), &Error>) {
        let (result, class, kind) = match outcome {
            Ok(()) => ("ok", None, None),
            Err(e) => ("error", Some(e.class().name()), Some(e.kind())),
        };
        let line = json!({
            "time": crate::rfc3339(std::time::SystemTime::now()),
            "who": who.describe(),
            "action": action,
            "target": target,
            "result": result,
            "class": class,
            "type": kind,
        });
        tracing::info!(target: "ferroserve::audit", who = %who.describe(), action, target, result, class, "management operation");
        if let Some(file) = &self.file {
            let mut bytes = serde_json::to_vec(&line).expect("serializable");
            bytes.push(b'\n');
            if let Err(e) = file.lock().unwrap().write_all(&bytes) {
                tracing::error!(error = %e, "could not append to the audit log");
            }
        }
    }
}
