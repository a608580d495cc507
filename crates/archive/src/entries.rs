//! The checks every entry passes, whichever container it came from (a zip's central
//! directory or a tar header): its name, its type and its declared size, in that order,
//! before a byte of it is inflated. Each container's lister describes its entries as
//! [`Raw`] and calls [`Checker`]; what only one container can get wrong (a zip's
//! encryption flag, a tar's layout) stays with that container.

use crate::{ArchiveError, EntryInfo, ReadLimits};

/// What an entry is, as its container says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    /// A device, FIFO or socket, with its unix mode (type bits included).
    Special(u32),
    /// A tar entry type ferroserve does not read (GNU sparse, volume headers, ...).
    Unsupported(String),
}

/// One entry as listed, before any of it is read.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    /// `/`-separated; directories end with `/`.
    pub name: String,
    pub kind: Kind,
    pub size: u64,
    /// The entry's compressed size where the container knows it (zip); the size itself
    /// where only the whole stream is compressed (tar.gz, whose ratio is checked on the
    /// stream instead).
    pub compressed: u64,
}

/// Checks entries one by one and keeps the running total of declared sizes.
pub(crate) struct Checker<'l> {
    limits: &'l ReadLimits,
    declared_total: u64,
}

impl<'l> Checker<'l> {
    pub fn new(limits: &'l ReadLimits) -> Checker<'l> {
        Checker {
            limits,
            declared_total: 0,
        }
    }

    /// The name rules and the entry type: only regular files and directories.
    pub fn name_and_kind(&self, raw: &Raw) -> Result<(), ArchiveError> {
        crate::names::check_name(&raw.name)?;
        let name = || raw.name.clone();
        match &raw.kind {
            Kind::File | Kind::Dir => Ok(()),
            Kind::Symlink => Err(ArchiveError::SymlinkEntry { name: name() }),
            Kind::Hardlink => Err(ArchiveError::HardlinkEntry { name: name() }),
            Kind::Special(mode) => Err(ArchiveError::SpecialFileEntry {
                name: name(),
                mode: *mode,
            }),
            Kind::Unsupported(what) => Err(ArchiveError::UnsupportedEntryType {
                name: name(),
                entry_type: what.clone(),
            }),
        }
    }

    /// The declared size against the per-entry cap, the running total and the ratio.
    pub fn sizes(&mut self, raw: &Raw) -> Result<(), ArchiveError> {
        let l = self.limits;
        if raw.size > l.max_entry_bytes {
            return Err(ArchiveError::EntryTooLarge {
                name: raw.name.clone(),
                limit: l.max_entry_bytes,
            });
        }
        self.declared_total = self.declared_total.saturating_add(raw.size);
        if self.declared_total > l.max_total_bytes {
            return Err(ArchiveError::TotalTooLarge {
                limit: l.max_total_bytes,
            });
        }
        if raw.size > l.ratio_floor_bytes && raw.size > raw.compressed.saturating_mul(l.max_ratio) {
            return Err(ArchiveError::CompressionRatio {
                name: raw.name.clone(),
                compressed: raw.compressed,
                limit: l.max_ratio,
            });
        }
        Ok(())
    }

    /// Both, for containers with nothing of their own to check in between.
    pub fn check(&mut self, raw: &Raw) -> Result<(), ArchiveError> {
        self.name_and_kind(raw)?;
        self.sizes(raw)
    }
}

impl Raw {
    /// The validated entry, not yet hashed.
    pub fn into_info(self) -> EntryInfo {
        EntryInfo {
            is_dir: self.name.ends_with('/'),
            name: self.name,
            size: self.size,
            compressed_size: self.compressed,
            sha256: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, kind: Kind, size: u64) -> Raw {
        Raw {
            name: name.into(),
            kind,
            size,
            compressed: size,
        }
    }

    #[test]
    fn names_then_types_then_sizes() {
        let limits = ReadLimits {
            max_entry_bytes: 10,
            max_total_bytes: 15,
            ..ReadLimits::default()
        };
        let mut c = Checker::new(&limits);
        let e = c.check(&raw("../x", Kind::Symlink, 99)).unwrap_err();
        assert_eq!(e.kind(), "ArchiveUnsafePath");
        let e = c.check(&raw("x", Kind::Hardlink, 99)).unwrap_err();
        assert_eq!(e.kind(), "ArchiveHardlinkEntry");
        let e = c.check(&raw("x", Kind::Special(0o020644), 0)).unwrap_err();
        assert!(e.to_string().contains("unix mode 20644"), "{e}");
        let e = c.check(&raw("x", Kind::File, 11)).unwrap_err();
        assert_eq!(e.kind(), "ArchiveEntryTooLarge");
        c.check(&raw("a", Kind::File, 10)).unwrap();
        let e = c.check(&raw("b", Kind::File, 10)).unwrap_err();
        assert_eq!(e.kind(), "ArchiveTotalTooLarge");
    }
}
