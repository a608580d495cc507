//! A model version's private directory of extracted files, removed with the model.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::Error;

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

pub struct ModelDir(PathBuf);

impl ModelDir {
    /// `work_dir/<stem>-<version>-<pid>-<n>`: never reused, even by the same name.
    pub fn create(work_dir: &Path, stem: &str, version: &str) -> Result<ModelDir, Error> {
        let n = NEXT_DIR.fetch_add(1, Relaxed);
        let dir = work_dir.join(format!("{stem}-{version}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::ModelStore(format!(
                "cannot create {}: {e}; check the server's --state-dir",
                dir.display()
            ))
        })?;
        Ok(ModelDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ModelDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
