//! Reading and validating an archive, zip or `.tar.gz` alike ([`Source`]): metadata checks
//! on every entry first (no inflating), then the manifest, then one streaming pass that
//! hashes each entry under the caps and keeps only what must be parsed (config, handler)
//! plus the serialized file's tail.

use std::collections::HashMap;
use std::io::{Read, Seek};

use crate::manifest::{MANIFEST_PATH, Manifest};
use crate::source::Source;
use crate::stream::{Declared, Keep, TailBuffer, read_capped};
use crate::{ArchiveError, ArchiveInfo, Check, EntryInfo, HandlerCheck, ModelConfig, ReadLimits};

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

/// Which entries pass 2 keeps, by index.
#[derive(Default)]
struct Roles {
    manifest: Option<usize>,
    handler: Option<usize>,
    config: Option<usize>,
    serialized: Option<usize>,
}

/// What pass 2 keeps of the entries streaming past.
struct Kept {
    manifest: Vec<u8>,
    handler: Vec<u8>,
    config: Vec<u8>,
    /// The serialized file's tail, for the TorchScript check.
    tail: TailBuffer,
}

/// Streams the entries `want` accepts under the caps, hashing each and keeping what
/// `roles` names.
#[allow(clippy::too_many_arguments)]
fn stream_entries<R: Read + Seek>(
    source: &mut Source<R>,
    entries: &mut [EntryInfo],
    index: &HashMap<String, usize>,
    limits: &ReadLimits,
    total: &mut u64,
    want: &dyn Fn(&str) -> bool,
    roles: &Roles,
    kept: &mut Kept,
) -> Result<(), ArchiveError> {
    source.each(want, &mut |name, reader| {
        let &i = index.get(name).ok_or_else(|| changed(name))?;
        let e = &entries[i];
        let d = Declared {
            name: &e.name,
            size: e.size,
            compressed: e.compressed_size,
        };
        let keep = if Some(i) == roles.manifest {
            Keep::All(&mut kept.manifest, limits.max_metadata_bytes)
        } else if Some(i) == roles.handler {
            Keep::All(&mut kept.handler, limits.max_handler_bytes)
        } else if Some(i) == roles.config {
            Keep::All(&mut kept.config, limits.max_metadata_bytes)
        } else if Some(i) == roles.serialized {
            Keep::Tail(&mut kept.tail)
        } else {
            Keep::Nothing
        };
        let (sha, _) = read_capped(reader, &d, limits, total, keep)?;
        entries[i].sha256 = sha;
        Ok(())
    })
}

fn changed(name: &str) -> ArchiveError {
    ArchiveError::Io(std::io::Error::other(format!(
        "entry {name:?} was not in the archive when it was listed; the file changed while it was read"
    )))
}

fn read_inner<R: Read + Seek>(
    source: R,
    limits: &ReadLimits,
    handler_check: &dyn HandlerCheck,
    checks: &mut Vec<Check>,
) -> Result<ArchiveInfo, ArchiveError> {
    let (mut source, mut entries) = Source::open(source, limits, &mut |c| checks.push(c))?;
    let mut check = |name: &'static str, detail: String| checks.push(Check { name, detail });
    let index: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.clone(), i))
        .collect();
    let mut total = 0u64;
    let mut kept = Kept {
        manifest: Vec::new(),
        handler: Vec::new(),
        config: Vec::new(),
        tail: TailBuffer::new(4 << 20),
    };
    let &mi = index
        .get(MANIFEST_PATH)
        .filter(|&&i| !entries[i].is_dir)
        .ok_or(ArchiveError::MissingManifest)?;
    let roles = Roles {
        manifest: Some(mi),
        ..Roles::default()
    };
    stream_entries(
        &mut source,
        &mut entries,
        &index,
        limits,
        &mut total,
        &|n| n == MANIFEST_PATH,
        &roles,
        &mut kept,
    )?;
    let manifest = Manifest::parse(&kept.manifest)?;
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
    let roles = Roles {
        manifest: None,
        handler: Some(hi),
        config: ci,
        serialized: Some(si),
    };
    stream_entries(
        &mut source,
        &mut entries,
        &index,
        limits,
        &mut total,
        &|n| n != MANIFEST_PATH && !n.ends_with('/'),
        &roles,
        &mut kept,
    )?;
    if let Some(missing) = entries.iter().find(|e| !e.is_dir && e.sha256.is_empty()) {
        return Err(changed(&missing.name));
    }
    let Kept {
        handler,
        config: config_bytes,
        tail,
        ..
    } = kept;
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
        container: source.container(),
        manifest,
        config,
        entries,
        checks: Vec::new(),
        handler_entry: hname,
        handler_wasm: handler,
        extra_files,
    })
}
