//! Extraction of an archive's extra files into a directory the caller owns: created fresh
//! here (it must not exist), entries re-validated and re-hashed as they are written (in
//! one pass over the archive, zip or `.tar.gz`), files opened with `create_new` so nothing
//! is followed or overwritten.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::source::Source;
use crate::stream::{Declared, Keep, read_capped};
use crate::{ArchiveError, ArchiveInfo, ReadLimits};

fn out_err(path: &Path, message: impl Into<String>) -> ArchiveError {
    ArchiveError::Output {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Write `info.extra_files` from the archive at `archive` under `dest`, which must not
/// exist yet (its parent must). On any error `dest` is removed again.
pub fn extract_extra_files(
    archive: &Path,
    info: &ArchiveInfo,
    dest: &Path,
    limits: &ReadLimits,
) -> Result<(), ArchiveError> {
    fs::create_dir(dest).map_err(|e| {
        out_err(
            dest,
            format!("cannot create the extraction directory (it must not exist yet): {e}"),
        )
    })?;
    let result = extract_into(archive, info, dest, limits);
    if result.is_err() {
        let _ = fs::remove_dir_all(dest);
    }
    result
}

fn extract_into(
    archive: &Path,
    info: &ArchiveInfo,
    dest: &Path,
    limits: &ReadLimits,
) -> Result<(), ArchiveError> {
    for name in &info.extra_files {
        // Names were checked by the reader; check again, as this is where it matters.
        crate::names::check_name(name)?;
        let mut dir = dest.to_path_buf();
        let parts: Vec<&str> = name.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(out_err(&dir, "exists and is not a directory")),
                Err(_) => fs::create_dir(&dir).map_err(|e| out_err(&dir, e.to_string()))?,
            }
        }
    }
    let wanted: HashSet<&str> = info.extra_files.iter().map(String::as_str).collect();
    write_entries(archive, info, &wanted, limits, &|name| dest.join(name))
}

/// Write the archive's serialized model to `target` (a new file; its directory must exist),
/// re-hashed as it is written, for libtorch to load from a path.
pub fn extract_model_file(
    archive: &Path,
    info: &ArchiveInfo,
    target: &Path,
    limits: &ReadLimits,
) -> Result<(), ArchiveError> {
    let wanted = HashSet::from([info.manifest.model.serialized_file.as_str()]);
    let result = write_entries(archive, info, &wanted, limits, &|_| target.to_path_buf());
    if result.is_err() {
        let _ = fs::remove_file(target);
    }
    result
}

/// Streams the archive once, writing each entry of `wanted` to `target(name)` (a new
/// file), checked against what the reader saw.
fn write_entries(
    archive: &Path,
    info: &ArchiveInfo,
    wanted: &HashSet<&str>,
    limits: &ReadLimits,
    target: &dyn Fn(&str) -> PathBuf,
) -> Result<(), ArchiveError> {
    let file = BufReader::new(fs::File::open(archive)?);
    let mut source = Source::reopen(file, &info.container, limits)?;
    let mut total = 0u64;
    let mut written = HashSet::new();
    source.each(&|name| wanted.contains(name), &mut |name, reader| {
        let entry = info.entry(name).ok_or_else(|| changed(name))?;
        let target = target(name);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| out_err(&target, e.to_string()))?;
        let d = Declared {
            name,
            size: entry.size,
            compressed: entry.compressed_size,
        };
        let (sha, _) = read_capped(reader, &d, limits, &mut total, Keep::Write(&mut out))?;
        if sha != entry.sha256 {
            return Err(changed(name));
        }
        written.insert(name.to_owned());
        Ok(())
    })?;
    match wanted.iter().find(|name| !written.contains(**name)) {
        Some(missing) => Err(changed(missing)),
        None => Ok(()),
    }
}

fn changed(name: &str) -> ArchiveError {
    ArchiveError::CorruptZip(format!(
        "entry {name:?} changed since it was validated; upload it again"
    ))
}
