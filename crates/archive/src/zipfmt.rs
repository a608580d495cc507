//! The zip container (`.mar`): the raw-byte precheck, the central directory listed
//! through the shared entry checks plus what only a zip can get wrong (encryption, an
//! unsupported compression method, duplicate names, overlapping entries), then entries
//! streamed by name.

use std::io::{Read, Seek};

use zip::{CompressionMethod, ZipArchive};

use crate::entries::{Checker, Kind, Raw};
use crate::{ArchiveError, Check, EntryInfo, ReadLimits};

pub(crate) fn zip_err(e: zip::result::ZipError) -> ArchiveError {
    match e {
        zip::result::ZipError::Io(io) => {
            ArchiveError::CorruptZip(format!("it is truncated or unreadable: {io}"))
        }
        other => ArchiveError::CorruptZip(other.to_string()),
    }
}

/// Opens and lists a zip; `check` records each check that passed.
pub(crate) fn open<R: Read + Seek>(
    mut source: R,
    limits: &ReadLimits,
    check: &mut dyn FnMut(Check),
) -> Result<(ZipArchive<R>, Vec<EntryInfo>), ArchiveError> {
    let size = crate::precheck::precheck(&mut source, limits)?;
    check(Check {
        name: "archive size and entry count",
        detail: format!("{size} bytes (limit {})", limits.max_archive_bytes),
    });
    let mut zip = ZipArchive::new(source).map_err(zip_err)?;
    check(Check {
        name: "zip structure",
        detail: format!("{} entries (limit {})", zip.len(), limits.max_entries),
    });
    if zip.has_duplicate_names() {
        let dir_start = zip.central_directory_start();
        let mut inner = zip.into_inner();
        let name = crate::precheck::first_duplicate(&mut inner, dir_start)
            .unwrap_or_else(|| "(unknown)".into());
        return Err(ArchiveError::DuplicateEntry { name });
    }
    let entries = list(&mut zip, limits)?;
    check(Check {
        name: "entry names, types and declared sizes",
        detail: "no absolute paths, `..`, links or duplicates".into(),
    });
    if zip.has_overlapping_files().map_err(zip_err)? {
        return Err(ArchiveError::OverlappingEntries);
    }
    Ok((zip, entries))
}

/// Every entry's metadata, without inflating anything.
fn list<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    limits: &ReadLimits,
) -> Result<Vec<EntryInfo>, ArchiveError> {
    let mut checker = Checker::new(limits);
    let mut entries = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(zip_err)?;
        let name = std::str::from_utf8(f.name_raw())
            .map_err(|_| ArchiveError::UnsafePath {
                name: String::from_utf8_lossy(f.name_raw()).into(),
                reason: "it is not UTF-8",
            })?
            .to_string();
        let kind = match f.unix_mode().map(|mode| (mode, mode & 0o170000)) {
            Some((_, 0o120000)) => Kind::Symlink,
            None | Some((_, 0 | 0o100000 | 0o040000)) => Kind::File,
            Some((mode, _)) => Kind::Special(mode),
        };
        let raw = Raw {
            name,
            kind,
            size: f.size(),
            compressed: f.compressed_size(),
        };
        checker.name_and_kind(&raw)?;
        if f.encrypted() {
            return Err(ArchiveError::EncryptedEntry { name: raw.name });
        }
        if !matches!(
            f.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(ArchiveError::UnsupportedCompression {
                name: raw.name,
                method: format!("{:?}", f.compression()),
            });
        }
        checker.sizes(&raw)?;
        entries.push(raw.into_info());
    }
    Ok(entries)
}

/// Calls `visit` with each entry whose name `want` accepts, in archive order.
pub(crate) fn each<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    want: &dyn Fn(&str) -> bool,
    visit: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    for i in 0..zip.len() {
        let name = {
            let f = zip.by_index_raw(i).map_err(zip_err)?;
            String::from_utf8_lossy(f.name_raw()).into_owned()
        };
        if !want(&name) {
            continue;
        }
        let mut f = zip.by_index(i).map_err(zip_err)?;
        visit(&name, &mut f)?;
    }
    Ok(())
}
