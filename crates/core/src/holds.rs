//! Which kept archives registrations in flight are using. Kept archives are named by their
//! hash, so two uploads of the same bytes share one file: without this, a refused one
//! deleted the file while the other was still reading it (a 500 `ArchiveIo`, found by
//! four junk-upload loops at once), or after the other had loaded it but before it was
//! registered (a model whose archive is gone at the next restart). Taking a hold happens
//! with the rename that creates the file, and deleting happens only when no hold is left,
//! both under one lock, so neither can fall between the other's check and act.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Holds(Mutex<HashMap<PathBuf, usize>>);

impl Holds {
    /// Moves `from` to `to` (replacing a file of the same bytes) and holds `to`.
    pub(crate) fn rename_and_hold(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        let mut holds = self.0.lock().unwrap();
        std::fs::rename(from, to)?;
        *holds.entry(to.to_path_buf()).or_default() += 1;
        Ok(())
    }

    pub(crate) fn release(&self, path: &Path) {
        let mut holds = self.0.lock().unwrap();
        if let Some(n) = holds.get_mut(path) {
            *n -= 1;
            if *n == 0 {
                holds.remove(path);
            }
        }
    }

    /// Deletes `path` unless a registration holds it; whether it did.
    pub(crate) fn remove_unheld(&self, path: &Path) -> bool {
        let holds = self.0.lock().unwrap();
        !holds.contains_key(path) && std::fs::remove_file(path).is_ok()
    }

    #[cfg(test)]
    fn held(&self, path: &Path) -> usize {
        self.0.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_archive_outlives_a_refusal_of_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let holds = Holds::default();
        let kept = dir.path().join("abc.mar");
        for i in 0..2 {
            let tmp = dir.path().join(format!(".upload-{i}"));
            std::fs::write(&tmp, b"same bytes").unwrap();
            holds.rename_and_hold(&tmp, &kept).unwrap();
        }
        assert_eq!(holds.held(&kept), 2);
        // The first registration is refused: the second still holds the file.
        holds.release(&kept);
        assert!(!holds.remove_unheld(&kept));
        assert_eq!(std::fs::read(&kept).unwrap(), b"same bytes");
        // The second is refused too: now it goes.
        holds.release(&kept);
        assert!(holds.remove_unheld(&kept));
        assert!(!kept.exists());
        assert_eq!(holds.held(&kept), 0);
        // Releasing what is not held (a model-store path) changes nothing.
        holds.release(Path::new("/store/mlp.mar"));
        assert_eq!(holds.held(Path::new("/store/mlp.mar")), 0);
    }

    #[test]
    fn a_failed_rename_holds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let holds = Holds::default();
        let to = dir.path().join("x.mar");
        assert!(
            holds
                .rename_and_hold(&dir.path().join("missing"), &to)
                .is_err()
        );
        assert_eq!(holds.held(&to), 0);
    }
}
