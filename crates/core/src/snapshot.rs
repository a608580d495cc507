//! The snapshot: every registration (archive, settings, default version), written
//! atomically on each change (temporary file, fsync, rename, fsync of the directory) so a
//! crash at any instant leaves either the old or the new file, and read at start.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Registry};

pub const FILE_NAME: &str = "snapshot.json";
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub version: u32,
    pub models: Vec<Registration>,
}

/// One model version as registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The owning tenant (absent: the shared namespace); its quotas come from the tenant
    /// store at restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub name: String,
    pub version: String,
    pub url: String,
    pub archive: PathBuf,
    pub batch_size: usize,
    pub max_batch_delay_ms: u64,
    pub min_workers: usize,
    pub max_workers: usize,
    pub response_timeout_s: u64,
    pub is_default: bool,
}

impl Snapshot {
    /// What `registry` holds now.
    pub fn of(registry: &Registry) -> Snapshot {
        let models = registry
            .all()
            .into_iter()
            .map(|(m, is_default)| {
                let stats = m.pipeline.batcher().stats();
                Registration {
                    tenant: m.key.tenant.clone(),
                    name: m.key.name.clone(),
                    version: m.version.clone(),
                    url: m.info.url.clone(),
                    archive: m.info.archive_path.clone(),
                    batch_size: m.info.batch_size,
                    max_batch_delay_ms: m.info.max_batch_delay_ms,
                    min_workers: stats.min_workers,
                    max_workers: stats.max_workers,
                    response_timeout_s: m.info.response_timeout_s,
                    is_default,
                }
            })
            .collect();
        Snapshot {
            version: VERSION,
            models,
        }
    }

    /// Reads `dir/snapshot.json`; `None` when there is none yet.
    pub fn read(dir: &Path) -> Result<Option<Snapshot>, String> {
        let path = dir.join(FILE_NAME);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{} is not a ferroserve snapshot ({e}); move it away to start empty",
                path.display()
            )
        })?;
        if snapshot.version != VERSION {
            return Err(format!(
                "{} has snapshot version {}; this ferroserve reads version {VERSION}",
                path.display(),
                snapshot.version
            ));
        }
        Ok(Some(snapshot))
    }

    /// Replaces `dir/snapshot.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let json = serde_json::to_vec_pretty(self).expect("serializable");
        write_atomically(dir, FILE_NAME, &json)
    }
}

/// Replaces `dir/name` with `bytes` so that a crash leaves the old or the new content: a
/// temporary file in the same directory, fsync, rename (tempfile's `persist`), fsync of
/// the directory.
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::StateWriteFailed {
        path: format!("{}/{name}", dir.display()),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(dir.join(name)).map_err(|e| fail(e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable. Best effort: not every filesystem supports it.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Snapshot::read(dir.path()).unwrap(), None);
        let mut s = Snapshot {
            version: VERSION,
            models: vec![],
        };
        s.write(dir.path()).unwrap();
        s.models.push(Registration {
            tenant: None,
            name: "mlp".into(),
            version: "1.0".into(),
            url: "mlp.mar".into(),
            archive: "/store/mlp.mar".into(),
            batch_size: 4,
            max_batch_delay_ms: 5,
            min_workers: 1,
            max_workers: 2,
            response_timeout_s: 120,
            is_default: true,
        });
        s.write(dir.path()).unwrap();
        assert_eq!(Snapshot::read(dir.path()).unwrap(), Some(s));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(FILE_NAME)],
            "no temporary file left"
        );
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_that_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        let e = Snapshot::read(dir.path()).unwrap_err();
        assert!(e.contains("move it away"), "{e}");
    }
}
