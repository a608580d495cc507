//! Compiled components, cached on disk by the sha256 of the component bytes and the
//! engine's compatibility hash. A cache entry is native code: the directory must be owned
//! by the server and writable by nothing else.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::SandboxError;

pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    engine_tag: String,
    max_bytes: u64,
}

impl CompileCache {
    pub(crate) fn new(
        engine: &Engine,
        dir: Option<PathBuf>,
        max_bytes: u64,
    ) -> Result<CompileCache, SandboxError> {
        if let Some(d) = &dir {
            std::fs::create_dir_all(d).map_err(|e| {
                SandboxError::Engine(format!(
                    "cannot create the compile cache {}: {e}",
                    d.display()
                ))
            })?;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(CompileCache {
            dir,
            engine_tag: format!("{:016x}", h.finish()),
            max_bytes,
        })
    }

    /// The compiled component for `wasm`, from the cache when present.
    pub(crate) fn get(&self, engine: &Engine, wasm: &[u8]) -> Result<Component, SandboxError> {
        check_is_component(wasm)?;
        let Some(dir) = &self.dir else {
            return compile(engine, wasm);
        };
        let path = dir.join(format!(
            "{}-{}.cwasm",
            hex::encode(Sha256::digest(wasm)),
            self.engine_tag
        ));
        if path.exists() {
            // SAFETY: the file was written by `serialize` below into a directory only this
            // server writes; wasmtime still checks the engine compatibility header.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding an unusable compile-cache entry")
                }
            }
        }
        let component = compile(engine, wasm)?;
        if let Err(e) = store(&path, &component) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the compile cache");
        }
        trim(dir, self.max_bytes, &path);
        Ok(component)
    }
}

fn compile(engine: &Engine, wasm: &[u8]) -> Result<Component, SandboxError> {
    Component::new(engine, wasm).map_err(|e| SandboxError::Compile(format!("{e:#}")))
}

fn store(path: &Path, component: &Component) -> std::io::Result<()> {
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    // Write beside, then rename: a reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Deletes the oldest entries until the cache holds at most `max` bytes, never `keep`
/// (the entry just written).
fn trim(dir: &Path, max: u64, keep: &Path) {
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
        if path != keep && std::fs::remove_file(&path).is_ok() {
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
        trim(dir.path(), 150, &dir.path().join("a"));
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
