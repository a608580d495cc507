//! The tar.gz container: what `torch-model-archiver --archive-format tgz` writes. Every
//! file sits under one folder named after the model (`<model>/MAR-INF/MANIFEST.json`,
//! `<model>/model.pt`, ..., the manifest last), with no directory entries; that folder is
//! stripped, so the entries are the same as in the model's `.mar`. A tar with
//! `MAR-INF/MANIFEST.json` at its root (`tar czf x.tar.gz -C dir .`) is read as it is.
//!
//! A tar has no central directory, so listing means inflating the whole stream once
//! (headers checked by the shared entry checks *before* the data they declare is skipped),
//! and each later pass inflates it again. Every pass reads through a guard that stops the
//! stream past the total cap or past the compression-ratio cap measured on the whole
//! stream (a tar's entries are not compressed one by one). Extension headers (pax, GNU
//! long names) are read by this module under a small cap, never by the tar crate, which
//! would hold any size in memory.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom};
use std::rc::Rc;

use flate2::read::GzDecoder;

use crate::entries::{Checker, Kind, Raw};
use crate::manifest::MANIFEST_PATH;
use crate::{ArchiveError, Check, EntryInfo, ReadLimits};

/// Largest pax or GNU long-name header read into memory.
const MAX_EXTENSION_BYTES: u64 = 64 << 10;
/// Most inflated bytes accepted after the tar's end-of-archive marker (zero padding).
const MAX_TRAILER_BYTES: u64 = 1 << 20;

/// An opened, validated `.tar.gz`, ready for more passes.
pub(crate) struct Tgz<R> {
    source: R,
    /// The folder stripped from every name (`<model>/`); `None`: entries at the root.
    root: Option<String>,
    limits: ReadLimits,
}

/// The error an inflating pass stopped with, carried through `io::Error` by the guard.
pub(crate) fn unwrap_io(
    e: io::Error,
    other: impl FnOnce(io::Error) -> ArchiveError,
) -> ArchiveError {
    if e.get_ref().is_some_and(|inner| inner.is::<ArchiveError>()) {
        let inner = e.into_inner().expect("checked above");
        return *inner.downcast::<ArchiveError>().expect("checked above");
    }
    other(e)
}

fn corrupt(what: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::CorruptTgz(what.to_string())
}

fn not_tar(e: io::Error) -> ArchiveError {
    unwrap_io(e, |e| {
        corrupt(format!("it is not a readable tar archive: {e}"))
    })
}

/// Counts the compressed bytes the decoder has taken.
struct Counted<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// The inflated stream, stopped past the caps.
struct Guard<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    inflated: u64,
    /// The total cap plus room for tar headers and padding.
    cap: u64,
    limits: ReadLimits,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            io::Error::other(corrupt(format!(
                "the gzip stream is truncated or does not inflate: {e}"
            )))
        })?;
        self.inflated += n as u64;
        let l = &self.limits;
        if self.inflated > self.cap {
            return Err(io::Error::other(ArchiveError::TotalTooLarge {
                limit: l.max_total_bytes,
            }));
        }
        let compressed = self.compressed.get();
        if self.inflated > l.ratio_floor_bytes
            && self.inflated > compressed.saturating_mul(l.max_ratio)
        {
            return Err(io::Error::other(ArchiveError::StreamRatio {
                inflated: self.inflated,
                compressed,
                limit: l.max_ratio,
            }));
        }
        Ok(n)
    }
}

type TarStream<'s, R> = tar::Archive<Guard<GzDecoder<Counted<&'s mut R>>>>;

/// A fresh pass over the whole stream.
fn stream<'s, R: Read + Seek>(
    source: &'s mut R,
    limits: &ReadLimits,
) -> Result<TarStream<'s, R>, ArchiveError> {
    source.seek(SeekFrom::Start(0))?;
    let compressed = Rc::new(Cell::new(0));
    let gz = GzDecoder::new(Counted {
        inner: source,
        read: compressed.clone(),
    });
    let headers = limits.max_entries.saturating_add(1).saturating_mul(4 << 10);
    Ok(tar::Archive::new(Guard {
        inner: gz,
        compressed,
        inflated: 0,
        cap: limits
            .max_total_bytes
            .saturating_add(headers)
            .saturating_add(MAX_TRAILER_BYTES),
        limits: limits.clone(),
    }))
}

/// One tar member with its extension headers applied.
struct Member {
    name: Vec<u8>,
    kind: Kind,
    size: u64,
}

fn kind_of(header: &tar::Header) -> Kind {
    use tar::EntryType as T;
    let perm = header.mode().unwrap_or(0) & 0o7777;
    match header.entry_type() {
        T::Regular | T::Continuous => Kind::File,
        T::Directory => Kind::Dir,
        T::Symlink => Kind::Symlink,
        T::Link => Kind::Hardlink,
        T::Char => Kind::Special(0o020000 | perm),
        T::Block => Kind::Special(0o060000 | perm),
        T::Fifo => Kind::Special(0o010000 | perm),
        T::GNUSparse => Kind::Unsupported("'S' (a GNU sparse file)".into()),
        other => Kind::Unsupported(format!("{:?}", other.as_byte() as char)),
    }
}

/// Calls `visit` with every member, in order, extension headers applied and checked.
fn walk<R: Read>(
    archive: &mut tar::Archive<R>,
    visit: &mut dyn FnMut(Member, &mut dyn Read) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let (mut long_name, mut pax_path, mut pax_size, mut pax_seen) = (None, None, None, false);
    for entry in archive.entries().map_err(not_tar)?.raw(true) {
        let mut entry = entry.map_err(not_tar)?;
        let t = entry.header().entry_type();
        let size = entry.size();
        let extension = t.is_gnu_longname()
            || t.is_gnu_longlink()
            || t.is_pax_local_extensions()
            || t.is_pax_global_extensions();
        if extension {
            if size > MAX_EXTENSION_BYTES {
                return Err(corrupt(format!(
                    "it has an extension header (type {:?}) of {size} bytes; at most {MAX_EXTENSION_BYTES} are read",
                    t.as_byte() as char
                )));
            }
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(not_tar)?;
            if t.is_gnu_longname() {
                if long_name.is_some() {
                    return Err(corrupt("two GNU long names describe one entry"));
                }
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                data.truncate(end);
                long_name = Some(data);
            } else if t.is_pax_local_extensions() {
                if pax_seen {
                    return Err(corrupt("two pax headers describe one entry"));
                }
                pax_seen = true;
                for record in tar::PaxExtensions::new(&data) {
                    let record = record.map_err(not_tar)?;
                    match record.key() {
                        Ok("path") => pax_path = Some(record.value_bytes().to_vec()),
                        Ok("size") => {
                            let v = std::str::from_utf8(record.value_bytes())
                                .ok()
                                .and_then(|v| v.parse::<u64>().ok())
                                .ok_or_else(|| corrupt("a pax size is not a number"))?;
                            pax_size = Some(v);
                        }
                        _ => {}
                    }
                }
            }
            // GNU long link names and pax global records carry nothing ferroserve uses
            // (links are refused by their type).
            continue;
        }
        let name = pax_path
            .take()
            .or(long_name.take())
            .unwrap_or_else(|| entry.path_bytes().into_owned());
        pax_seen = false;
        if let Some(declared) = pax_size.take()
            && declared != size
        {
            // The header's size is what the stream is cut by; two sizes that disagree are
            // how one archive reads as two different ones.
            return Err(corrupt(format!(
                "entry {:?} has a pax size of {declared} bytes but a header size of {size}",
                String::from_utf8_lossy(&name)
            )));
        }
        let kind = kind_of(entry.header());
        visit(Member { name, kind, size }, &mut entry)?;
    }
    if long_name.is_some() || pax_seen {
        return Err(corrupt(
            "it ends with an extension header that describes no entry",
        ));
    }
    Ok(())
}

/// `./a` → `a`; a directory's name ends with `/`; the archive's own `./` is `None`.
fn normalize(member: &mut Member) -> Result<Option<String>, ArchiveError> {
    let name = String::from_utf8(std::mem::take(&mut member.name)).map_err(|e| {
        ArchiveError::UnsafePath {
            name: String::from_utf8_lossy(e.as_bytes()).into(),
            reason: "it is not UTF-8",
        }
    })?;
    let mut n = name.as_str();
    while let Some(rest) = n.strip_prefix("./") {
        n = rest;
    }
    if n.ends_with('/') && member.kind == Kind::File {
        member.kind = Kind::Dir;
    }
    if member.kind == Kind::Dir && (n.is_empty() || n == ".") {
        return Ok(None);
    }
    let mut n = n.to_owned();
    if member.kind == Kind::Dir && !n.ends_with('/') {
        n.push('/');
    }
    Ok(Some(n))
}

/// The folder to strip: the one top-level folder everything sits under, unless the
/// manifest is at the root. Entries under two top-level names (and no manifest at the
/// root) are refused.
fn root_of(names: &[String]) -> Result<Option<String>, ArchiveError> {
    if names.iter().any(|n| n == MANIFEST_PATH) {
        return Ok(None);
    }
    let mut tops: Vec<&str> = names
        .iter()
        .map(|n| n.split('/').next().unwrap_or(""))
        .collect();
    tops.sort_unstable();
    tops.dedup();
    match tops.as_slice() {
        [] => Ok(None),
        [top] => {
            let folder = format!("{top}/");
            Ok(names
                .iter()
                .all(|n| n.starts_with(&folder))
                .then_some(folder))
        }
        many => {
            let mut listed: Vec<String> = many.iter().take(4).map(|t| format!("{t:?}")).collect();
            if many.len() > 4 {
                listed.push(format!("and {} more", many.len() - 4));
            }
            Err(ArchiveError::TarLayout {
                tops: listed.join(", "),
            })
        }
    }
}

/// The name an entry has in the archive once `root` is stripped; `None` for the root itself.
fn strip<'n>(name: &'n str, root: Option<&str>) -> Result<Option<&'n str>, ArchiveError> {
    match root {
        None => Ok(Some(name)),
        Some(root) => match name.strip_prefix(root) {
            Some("") => Ok(None),
            Some(rest) => Ok(Some(rest)),
            None => Err(corrupt(format!(
                "entry {name:?} is outside {root} (the archive changed while it was read)"
            ))),
        },
    }
}

/// Lists and checks a `.tar.gz`: one full pass. `check` records each check that passed.
pub(crate) fn open<R: Read + Seek>(
    mut source: R,
    limits: &ReadLimits,
    check: &mut dyn FnMut(Check),
) -> Result<(Tgz<R>, Vec<EntryInfo>), ArchiveError> {
    let size = source.seek(SeekFrom::End(0))?;
    if size > limits.max_archive_bytes {
        return Err(ArchiveError::ArchiveTooLarge {
            size,
            limit: limits.max_archive_bytes,
        });
    }
    check(Check {
        name: "archive size",
        detail: format!("{size} bytes (limit {})", limits.max_archive_bytes),
    });
    let mut checker = Checker::new(limits);
    let mut raws: Vec<Raw> = Vec::new();
    let mut count = 0u64;
    let mut tar = stream(&mut source, limits)?;
    walk(&mut tar, &mut |mut member, _data| {
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TarTooManyEntries {
                limit: limits.max_entries,
            });
        }
        let Some(name) = normalize(&mut member)? else {
            return Ok(());
        };
        let raw = Raw {
            name,
            kind: member.kind,
            size: member.size,
            compressed: member.size,
        };
        // Before the data is skipped, which inflates it.
        checker.check(&raw)?;
        raws.push(raw);
        Ok(())
    })?;
    // The rest of the stream: the tar's zero padding, then the gzip trailer, whose CRC
    // the decoder checks.
    let mut rest = tar.into_inner().take(MAX_TRAILER_BYTES + 1);
    let trailing = io::copy(&mut rest, &mut io::sink()).map_err(not_tar)?;
    if trailing > MAX_TRAILER_BYTES {
        return Err(corrupt(format!(
            "more than {MAX_TRAILER_BYTES} bytes follow the end of the tar archive"
        )));
    }
    let names: Vec<String> = raws.iter().map(|r| r.name.clone()).collect();
    let root = root_of(&names)?;
    let mut seen = HashSet::new();
    let mut entries = Vec::with_capacity(raws.len());
    for mut raw in raws {
        let Some(name) = strip(&raw.name, root.as_deref())?.map(str::to_owned) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            return Err(ArchiveError::DuplicateEntry { name });
        }
        raw.name = name;
        entries.push(raw.into_info());
    }
    check(Check {
        name: "tar.gz structure",
        detail: format!(
            "{} entries {} (limit {})",
            entries.len(),
            root.as_deref()
                .map_or("at the root".into(), |r| format!("under {r}")),
            limits.max_entries
        ),
    });
    check(Check {
        name: "entry names, types and declared sizes",
        detail: "no absolute paths, `..`, links or duplicates".into(),
    });
    Ok((
        Tgz {
            source,
            root,
            limits: limits.clone(),
        },
        entries,
    ))
}

impl<R: Read + Seek> Tgz<R> {
    /// An archive validated before (extraction), with the root the listing found.
    pub(crate) fn reopen(source: R, root: Option<String>, limits: &ReadLimits) -> Tgz<R> {
        Tgz {
            source,
            root,
            limits: limits.clone(),
        }
    }

    pub(crate) fn root(&self) -> Option<&str> {
        self.root.as_deref()
    }

    /// Calls `visit` with each regular file whose name `want` accepts, in archive order.
    pub(crate) fn each(
        &mut self,
        want: &dyn Fn(&str) -> bool,
        visit: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), ArchiveError>,
    ) -> Result<(), ArchiveError> {
        let root = self.root.clone();
        let mut tar = stream(&mut self.source, &self.limits)?;
        walk(&mut tar, &mut |mut member, data| {
            let Some(full) = normalize(&mut member)? else {
                return Ok(());
            };
            let Some(name) = strip(&full, root.as_deref())? else {
                return Ok(());
            };
            if !want(name) {
                return Ok(());
            }
            if member.kind != Kind::File {
                return Err(corrupt(format!(
                    "entry {name:?} is no longer a regular file (the archive changed while it was read)"
                )));
            }
            visit(name, data)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_one_top_level_folder_is_the_root() {
        let model = names(&["m/model.pt", "m/sub/", "m/MAR-INF/MANIFEST.json"]);
        assert_eq!(root_of(&model).unwrap(), Some("m/".into()));
        let flat = names(&["MAR-INF/MANIFEST.json", "model.pt"]);
        assert_eq!(root_of(&flat).unwrap(), None);
        // One file at the top: nothing to strip (the manifest check says what is wrong).
        assert_eq!(root_of(&names(&["model.mar"])).unwrap(), None);
        let two = names(&["a/MAR-INF/MANIFEST.json", "b/x", "c", "d", "e", "f"]);
        let e = root_of(&two).unwrap_err();
        assert!(
            e.to_string().contains(r#""a", "b", "c", "d", and 2 more"#),
            "{e}"
        );
    }

    #[test]
    fn names_lose_dot_slash_and_directories_get_a_slash() {
        let m = |name: &str, kind| {
            normalize(&mut Member {
                name: name.as_bytes().to_vec(),
                kind,
                size: 0,
            })
            .unwrap()
        };
        assert_eq!(m("./a/b", Kind::File), Some("a/b".into()));
        assert_eq!(m("./", Kind::Dir), None);
        assert_eq!(m(".", Kind::Dir), None);
        assert_eq!(m("m", Kind::Dir), Some("m/".into()));
        assert_eq!(m("m/", Kind::File), Some("m/".into()));
        assert_eq!(m("./../x", Kind::File), Some("../x".into()));
    }

    #[test]
    fn a_stripped_name_outside_the_root_is_an_error() {
        assert_eq!(strip("m/a", Some("m/")).unwrap(), Some("a"));
        assert_eq!(strip("m/", Some("m/")).unwrap(), None);
        assert!(strip("n/a", Some("m/")).is_err());
    }
}
