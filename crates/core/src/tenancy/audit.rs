//! The audit log: one JSON line per management operation (who, what, on what, when, and
//! the outcome: its class and type, not a protocol's status, since the operation may have
//! come over any edge), appended to `<state>/audit.log` and also emitted as a tracing event at
//! target `ferroserve::audit`. Lines are written whole with one `write` on an append-only
//! file, so concurrent operations never interleave within a line. The file is bounded: past
//! its size cap it becomes `audit.log.1` (replacing the previous one) and a new file starts,
//! so a tenant looping register/unregister costs at most twice the cap of disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::json;

use super::Principal;
use crate::Error;

#[derive(Default)]
pub struct Audit {
    file: Option<Mutex<Open>>,
}

/// The file being appended to, its size, and where it rotates.
struct Open {
    file: std::fs::File,
    len: u64,
    path: PathBuf,
    max_bytes: u64,
}

impl Open {
    fn new(path: &Path, max_bytes: u64) -> std::io::Result<Open> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Open {
            len: file.metadata()?.len(),
            file,
            path: path.to_owned(),
            max_bytes,
        })
    }

    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.len > 0 && self.len + bytes.len() as u64 > self.max_bytes {
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            std::fs::rename(&self.path, old)?;
            *self = Open::new(&self.path, self.max_bytes)?;
        }
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }
}

impl Audit {
    /// Appends to `path` (created when missing), rotating past `max_bytes`.
    pub fn open(path: &Path, max_bytes: u64) -> std::io::Result<Audit> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Audit {
            file: Some(Mutex::new(Open::new(path, max_bytes)?)),
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
            if let Err(e) = file.lock().unwrap().append(&bytes) {
                tracing::error!(error = %e, "could not append to the audit log");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_its_cap_the_log_rotates_once_and_keeps_two_files_at_most() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let audit = Audit::open(&path, 2000).unwrap();
        for i in 0..1000 {
            audit.record(&Principal::Open, "register", &format!("m{i}"), Ok(()));
        }
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let old = dir.path().join("audit.log.1");
        assert!(size(&path) <= 2000 && size(&path) > 0, "{}", size(&path));
        assert!(size(&old) <= 2000 && size(&old) > 0, "{}", size(&old));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        // The newest operation is in the current file, whole lines in both.
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.lines().last().unwrap().contains("\"m999\""));
        for line in current
            .lines()
            .chain(std::fs::read_to_string(&old).unwrap().lines())
        {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        // Reopened, it goes on from the size it finds.
        drop(audit);
        let audit = Audit::open(&path, 2000).unwrap();
        audit.record(&Principal::Open, "unregister", "m0", Ok(()));
        assert!(size(&path) <= 2000);
    }
}
