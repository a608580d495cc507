//! Compiled components, cached on disk by the sha256 of the component bytes and the
//! engine's compatibility hash, and counted: each loaded handler holds an [`Entry`] for its
//! file, and when the last one goes the file is deleted, so an artefact no registered model
//! uses is not kept (DESIGN.md: "evicted when unused"). Once the server is stopping
//! ([`CompileCache::keep_entries`]) files stay, so a restart restores its snapshot without
//! recompiling. The size bound (`trim`) never deletes an entry in use. A cache entry is
//! native code: the directory must be owned by the server and writable by nothing else.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::SandboxError;
use crate::compile::{self, Compiler};

pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    engine_tag: String,
    max_bytes: u64,
    compiler: Compiler,
    users: Arc<Users>,
}

/// How many loaded handlers use each entry file.
#[derive(Default)]
struct Users {
    counts: Mutex<HashMap<PathBuf, usize>>,
    keep: AtomicBool,
}

impl Users {
    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One user of a cache entry; the file goes with the last one.
pub(crate) struct Entry {
    path: PathBuf,
    users: Arc<Users>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut counts = self.users.counts();
        let Some(n) = counts.get_mut(&self.path) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            counts.remove(&self.path);
            // Under the lock, so a load of the same component either counted itself
            // before this (and the file stays) or looks after it (and compiles afresh).
            if !self.users.keep.load(Relaxed) {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl CompileCache {
    pub(crate) fn new(
        engine: &Engine,
        dir: Option<PathBuf>,
        max_bytes: u64,
        compiler: Compiler,
    ) -> Result<CompileCache, SandboxError> {
        if let Some(d) = &dir {
            std::fs::create_dir_all(d).map_err(|e| {
                SandboxError::Engine(format!(
                    "cannot create the compile cache {}: {e}",
                    d.display()
                ))
            })?;
            remove_temp_files(d);
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(CompileCache {
            dir,
            engine_tag: format!("{:016x}", h.finish()),
            max_bytes,
            compiler,
            users: Default::default(),
        })
    }

    /// The compiled component for `wasm`, from the cache when present, and the caller's
    /// hold on its entry (none without a cache directory). The static checks run first,
    /// even for a cached entry: they are cheap, and the limits may have been lowered.
    pub(crate) fn get(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> Result<(Component, Option<Entry>), SandboxError> {
        check_is_component(wasm)?;
        self.compiler.check(wasm)?;
        let Some(dir) = &self.dir else {
            return Ok((self.compiler.compile(engine, wasm, None)?, None));
        };
        let path = dir.join(format!(
            "{}-{}.cwasm",
            hex::encode(Sha256::digest(wasm)),
            self.engine_tag
        ));
        // Counted before the file is looked at: a last user leaving now cannot delete it
        // between the look and the load. On an error below, dropping it cleans up.
        let entry = self.enter(&path);
        if path.exists() {
            match compile::load(engine, &path) {
                Ok(c) => return Ok((c, Some(entry))),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding an unusable compile-cache entry");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = self.compiler.compile(engine, wasm, Some(&path))?;
        let in_use: HashSet<PathBuf> = self.users.counts().keys().cloned().collect();
        trim(dir, self.max_bytes, &in_use);
        Ok((component, Some(entry)))
    }

    fn enter(&self, path: &Path) -> Entry {
        *self.users.counts().entry(path.to_owned()).or_default() += 1;
        Entry {
            path: path.to_owned(),
            users: self.users.clone(),
        }
    }

    /// From now on entries outlive their last user (the server is stopping).
    pub(crate) fn keep_entries(&self) {
        self.users.keep.store(true, Relaxed);
    }
}

/// Half-written files of compiles that a crash or kill interrupted.
fn remove_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if compile::is_temp(&e.path()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Deletes the oldest entries until the cache holds at most `max` bytes, never one in
/// `in_use` nor a compile's temporary file (its compile removes it).
fn trim(dir: &Path, max: u64, in_use: &HashSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let meta = e.metadata().ok()?;
            if !meta.is_file() {
                return None;
            }
            Some((meta.modified().ok()?, meta.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    for (_, len, path) in files {
        if total <= max {
            break;
        }
        if !in_use.contains(&path)
            && !compile::is_temp(&path)
            && std::fs::remove_file(&path).is_ok()
        {
            total -= len;
        }
    }
}

/// A component's preamble is `\0asm`, then version 0x0d and layer 1; a core module has
/// layer 0. Checked first so the error says what was uploaded.
fn check_is_component(wasm: &[u8]) -> Result<(), SandboxError> {
    if wasm.len() < 8 || &wasm[0..4] != b"\0asm" {
        return Err(SandboxError::NotAComponent(
            "the file does not start with the wasm magic bytes".into(),
        ));
    }
    if wasm[6..8] != [1, 0] {
        return Err(SandboxError::NotAComponent(
            "it is a core wasm module, not a component".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_trimmed_oldest_first_to_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            std::fs::write(dir.path().join(name), vec![0u8; 100]).unwrap();
            let t =
                std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(i as u64 + 1);
            std::fs::File::options()
                .write(true)
                .open(dir.path().join(name))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let in_use = HashSet::from([dir.path().join("a")]);
        trim(dir.path(), 150, &in_use);
        let left: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .filter(|n| dir.path().join(n).exists())
            .collect();
        assert_eq!(
            left,
            ["a"],
            "the kept one stays, the oldest others go first"
        );
    }

    #[test]
    fn recognises_modules_and_junk() {
        let module = [0, b'a', b's', b'm', 1, 0, 0, 0];
        let err = check_is_component(&module).unwrap_err();
        assert!(err.to_string().contains("core wasm module"), "{err}");
        let err = check_is_component(b"PK\x03\x04 zip file").unwrap_err();
        assert!(err.to_string().contains("magic bytes"), "{err}");
        assert!(check_is_component(&[0, b'a', b's', b'm', 0x0d, 0, 1, 0]).is_ok());
    }
}
