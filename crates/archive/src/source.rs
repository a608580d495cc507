//! Either container as one stream of validated entries: [`Source::open`] tells a zip from
//! a `.tar.gz` by its first bytes (never by the file name), lists it through the shared
//! entry checks, and [`Source::each`] then streams entries by name, so the reader and the
//! extractor never ask which container they read.

use std::io::{Read, Seek, SeekFrom};

use zip::ZipArchive;

use crate::tgz::Tgz;
use crate::{ArchiveError, Check, Container, EntryInfo, ReadLimits};

pub(crate) enum Source<R> {
    Zip(ZipArchive<R>),
    Tgz(Tgz<R>),
}

/// gzip's magic bytes; a zip starts with `PK`.
fn is_gzip<R: Read + Seek>(r: &mut R) -> std::io::Result<bool> {
    let mut head = [0u8; 2];
    r.seek(SeekFrom::Start(0))?;
    let n = r.read(&mut head)?;
    r.seek(SeekFrom::Start(0))?;
    Ok(n == 2 && head == [0x1f, 0x8b])
}

impl<R: Read + Seek> Source<R> {
    /// Opens and lists an archive of either container; `check` records each check passed.
    pub fn open(
        mut r: R,
        limits: &ReadLimits,
        check: &mut dyn FnMut(Check),
    ) -> Result<(Source<R>, Vec<EntryInfo>), ArchiveError> {
        if is_gzip(&mut r)? {
            let (tgz, entries) = crate::tgz::open(r, limits, check)?;
            Ok((Source::Tgz(tgz), entries))
        } else {
            let (zip, entries) = crate::zipfmt::open(r, limits, check)?;
            Ok((Source::Zip(zip), entries))
        }
    }

    /// An archive validated before, as `container` says it was.
    pub fn reopen(
        r: R,
        container: &Container,
        limits: &ReadLimits,
    ) -> Result<Source<R>, ArchiveError> {
        Ok(match container {
            Container::Zip => Source::Zip(ZipArchive::new(r).map_err(crate::zipfmt::zip_err)?),
            Container::TarGz { root } => Source::Tgz(Tgz::reopen(r, root.clone(), limits)),
        })
    }

    pub fn container(&self) -> Container {
        match self {
            Source::Zip(_) => Container::Zip,
            Source::Tgz(t) => Container::TarGz {
                root: t.root().map(str::to_owned),
            },
        }
    }

    /// Calls `visit` with each file whose name `want` accepts, in archive order.
    pub fn each(
        &mut self,
        want: &dyn Fn(&str) -> bool,
        visit: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), ArchiveError>,
    ) -> Result<(), ArchiveError> {
        match self {
            Source::Zip(zip) => crate::zipfmt::each(zip, want, visit),
            Source::Tgz(tgz) => tgz.each(want, visit),
        }
    }
}
