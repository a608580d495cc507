//! Reading and validating an archive: metadata checks on every entry first (no inflating),
//! then one streaming pass that hashes each entry under the caps and keeps only what must
//! be parsed (manifest, config, handler) plus the serialized file's tail.

use std::collections::HashMap;
use std::io::{Read, Seek};

use zip::{CompressionMethod, ZipArchive};

use crate::manifest::{MANIFEST_PATH, Manifest};
use crate::stream::{Declared, Keep, TailBuffer, read_capped};
use crate::{ArchiveError, ArchiveInfo, Check, EntryInfo, HandlerCheck, ModelConfig, ReadLimits};

fn zip_err(e: zip::result::ZipError) -> ArchiveError {
    match e {
        zip::result::ZipError::Io(io) => {
            ArchiveError::CorruptZip(format!("it is truncated or unreadable: {io}"))
        }
        other => ArchiveError::CorruptZip(other.to_string()),
    }
}

/// Pass 1: every entry's metadata, without inflating anything.
fn check_entries<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    limits: &ReadLimits,
) -> Result<Vec<EntryInfo>, ArchiveError> {
    let mut entries = Vec::with_capacity(zip.len());
    let mut declared_total = 0u64;
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(zip_err)?;
        let name = std::str::from_utf8(f.name_raw())
            .map_err(|_| ArchiveError::UnsafePath {
                name: String::from_utf8_lossy(f.name_raw()).into(),
                reason: "it is not UTF-8",
            })?
            .to_string();
        crate::names::check_name(&name)?;
        if let Some(mode) = f.unix_mode() {
            match mode & 0o170000 {
                0o120000 => return Err(ArchiveError::SymlinkEntry { name }),
                0 | 0o100000 | 0o040000 => {}
                _ => return Err(ArchiveError::SpecialFileEntry { name, mode }),
            }
        }
        if f.encrypted() {
            return Err(ArchiveError::EncryptedEntry { name });
        }
        if !matches!(
            f.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(ArchiveError::UnsupportedCompression {
                name,
                method: format!("{:?}", f.compression()),
            });
        }
        let (size, compressed) = (f.size(), f.compressed_size());
        if size > limits.max_entry_bytes {
            return Err(ArchiveError::EntryTooLarge {
                name,
                limit: limits.max_entry_bytes,
            });
        }
        declared_total = declared_total.saturating_add(size);
        if declared_total > limits.max_total_bytes {
            return Err(ArchiveError::TotalTooLarge {
                limit: limits.max_total_bytes,
            });
        }
        if size > limits.ratio_floor_bytes && size > compressed.saturating_mul(limits.max_ratio) {
            return Err(ArchiveError::CompressionRatio {
                name,
                compressed,
                limit: limits.max_ratio,
            });
        }
        let is_dir = name.ends_with('/');
        entries.push(EntryInfo {
            name,
            size,
            compressed_size: compressed,
            sha256: String::new(),
            is_dir,
        });
    }
    Ok(entries)
}

/// Read and validate an archive from any seekable source.
pub fn read_archive_from<R: Read + Seek>(
    source: R,
    limits: &ReadLimits,
    handler_check: &dyn HandlerCheck,
) -> Result<ArchiveInfo, ArchiveError> {
    let mut checks = Vec::new();
    let mut info = read_inner(source, limits, handler_check, &mut checks)?;
    info.checks = checks;
    Ok(info)
}

/// Like [`read_archive_from`], but also returns the checks that passed before a failure
/// (for `ferroserve archive inspect`).
pub fn inspect_from<R: Read + Seek>(
    source: R,
    limits: &ReadLimits,
    handler_check: &dyn HandlerCheck,
) -> (Vec<Check>, Result<ArchiveInfo, ArchiveError>) {
    let mut checks = Vec::new();
    let result = read_inner(source, limits, handler_check, &mut checks);
    (checks, result)
}

fn read_inner<R: Read + Seek>(
    mut source: R,
    limits: &ReadLimits,
    handler_check: &dyn HandlerCheck,
    checks: &mut Vec<Check>,
) -> Result<ArchiveInfo, ArchiveError> {
    let mut check = |name: &'static str, detail: String| checks.push(Check { name, detail });
    let size = crate::precheck::precheck(&mut source, limits)?;
    check(
        "archive size and entry count",
        format!("{size} bytes (limit {})", limits.max_archive_bytes),
    );
    let mut zip = ZipArchive::new(source).map_err(zip_err)?;
    check(
        "zip structure",
        format!("{} entries (limit {})", zip.len(), limits.max_entries),
    );
    if zip.has_duplicate_names() {
        let dir_start = zip.central_directory_start();
        let mut inner = zip.into_inner();
        let name = crate::precheck::first_duplicate(&mut inner, dir_start)
            .unwrap_or_else(|| "(unknown)".into());
        return Err(ArchiveError::DuplicateEntry { name });
    }
    let mut entries = check_entries(&mut zip, limits)?;
    check(
        "entry names, types and declared sizes",
        "no absolute paths, `..`, links or duplicates".into(),
    );
    if zip.has_overlapping_files().map_err(zip_err)? {
        return Err(ArchiveError::OverlappingEntries);
    }
    let index: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.clone(), i))
        .collect();
    let mut total = 0u64;
    let mut read_one = |zip: &mut ZipArchive<R>,
                        entries: &mut Vec<EntryInfo>,
                        i: usize,
                        keep: Keep<'_>|
     -> Result<(), ArchiveError> {
        let e = &entries[i];
        let d = Declared {
            name: &e.name,
            size: e.size,
            compressed: e.compressed_size,
        };
        let mut f = zip.by_index(i).map_err(zip_err)?;
        let (sha, _) = read_capped(&mut f, &d, limits, &mut total, keep)?;
        entries[i].sha256 = sha;
        Ok(())
    };
    let &mi = index
        .get(MANIFEST_PATH)
        .ok_or(ArchiveError::MissingManifest)?;
    let mut manifest_bytes = Vec::new();
    read_one(
        &mut zip,
        &mut entries,
        mi,
        Keep::All(&mut manifest_bytes, limits.max_metadata_bytes),
    )?;
    let manifest = Manifest::parse(&manifest_bytes)?;
    check(
        "manifest schema",
        format!(
            "model {} version {}",
            manifest.model.model_name, manifest.model.model_version
        ),
    );
    let m = &manifest.model;
    let find = |name: &str, role: &'static str, field: &'static str| {
        index
            .get(name)
            .copied()
            .filter(|&i| !entries[i].is_dir)
            .ok_or(ArchiveError::MissingFile {
                role,
                name: name.into(),
                field,
            })
    };
    let si = find(
        &m.serialized_file,
        "serialized file",
        "model.serializedFile",
    )?;
    // torch-model-archiver appends `.py` to a handler name without `.py` in it.
    let hi = find(&m.handler, "handler", "model.handler").or_else(|e| {
        find(&format!("{}.py", m.handler), "handler", "model.handler").map_err(|_| e)
    })?;
    let ci = m
        .config_file
        .as_deref()
        .map(|c| find(c, "config file", "model.configFile"))
        .transpose()?;
    check(
        "files named by the manifest are present",
        format!("{}, {}", entries[si].name, entries[hi].name),
    );
    let (mut handler, mut config_bytes, mut tail) =
        (Vec::new(), Vec::new(), TailBuffer::new(4 << 20));
    for i in 0..entries.len() {
        if i == mi || entries[i].is_dir {
            continue;
        }
        let keep = if i == hi {
            Keep::All(&mut handler, limits.max_handler_bytes)
        } else if Some(i) == ci {
            Keep::All(&mut config_bytes, limits.max_metadata_bytes)
        } else if i == si {
            Keep::Tail(&mut tail)
        } else {
            Keep::Nothing
        };
        read_one(&mut zip, &mut entries, i, keep)?;
    }
    check(
        "sizes, totals and ratios while inflating",
        format!(
            "{total} bytes inflated (limits: entry {}, total {}, ratio {}x)",
            limits.max_entry_bytes, limits.max_total_bytes, limits.max_ratio
        ),
    );
    let config = match ci {
        Some(ci) => {
            let c = ModelConfig::parse(&entries[ci].name, &config_bytes)?;
            check(
                "model config",
                format!(
                    "{} (ferroserve section: {})",
                    entries[ci].name,
                    if c.ferroserve.is_some() { "yes" } else { "no" }
                ),
            );
            Some(c)
        }
        None => None,
    };
    crate::torchscript::check(&tail, tail.head()).map_err(|reason| {
        ArchiveError::NotTorchScript {
            name: entries[si].name.clone(),
            reason,
        }
    })?;
    check("serialized file is TorchScript", entries[si].name.clone());
    let hname = entries[hi].name.clone();
    if !handler.starts_with(b"\0asm") || handler.len() < 8 {
        return Err(ArchiveError::HandlerNotWasm { name: hname });
    }
    if handler[6..8] != [1, 0] {
        return Err(ArchiveError::HandlerNotAComponent { name: hname });
    }
    handler_check
        .check(&handler)
        .map_err(|r| ArchiveError::HandlerRejected {
            name: hname.clone(),
            kind: r.kind,
            message: r.message,
        })?;
    check(
        "handler implements the handler world",
        format!("{hname} ({})", handler_check.describe()),
    );
    let special = [mi, si, hi];
    let extra_files = entries
        .iter()
        .enumerate()
        .filter(|(i, e)| !e.is_dir && !special.contains(i) && Some(*i) != ci)
        .map(|(_, e)| e.name.clone())
        .collect();
    Ok(ArchiveInfo {
        manifest,
        config,
        entries,
        checks: Vec::new(),
        handler_entry: hname,
        handler_wasm: handler,
        extra_files,
    })
}
