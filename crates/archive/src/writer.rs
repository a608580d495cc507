//! Writing an archive: the flags of torch-model-archiver, a manifest in TorchServe's
//! schema, files at the archive's root. Written to a temporary file and renamed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::manifest::{MANIFEST_PATH, Manifest, ModelSection};
use crate::{ArchiveError, ModelConfig};

/// `default` is a `.mar` zip; `no-archive` a directory with the same layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    Default,
    NoArchive,
}

/// What `ferroserve archive` was asked to build.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub model_name: String,
    pub version: String,
    pub serialized_file: PathBuf,
    pub handler: PathBuf,
    pub extra_files: Vec<PathBuf>,
    pub config_file: Option<PathBuf>,
    pub export_path: PathBuf,
    pub force: bool,
    pub format: ArchiveFormat,
}

fn base(p: &Path) -> Result<String, ArchiveError> {
    p.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| ArchiveError::Output {
            path: p.display().to_string(),
            message: "has no usable file name".into(),
        })
}

fn read(p: &Path) -> Result<Vec<u8>, ArchiveError> {
    fs::read(p).map_err(|e| ArchiveError::Output {
        path: p.display().to_string(),
        message: format!("cannot read: {e}"),
    })
}

/// `dd/mm/YYYY HH:MM:SS` in UTC, the form torch-model-archiver writes to `createdOn`.
fn created_on() -> String {
    let format = time::format_description::parse_borrowed::<2>(
        "[day]/[month]/[year] [hour]:[minute]:[second]",
    )
    .expect("a valid format description");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("the current time formats")
}

/// Build the archive; returns its path (`<export>/<name>.mar` or `<export>/<name>/`).
pub fn write_archive(o: &WriteOptions) -> Result<(PathBuf, Manifest), ArchiveError> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let serialized = base(&o.serialized_file)?;
    files.push((serialized.clone(), read(&o.serialized_file)?));
    let handler = base(&o.handler)?;
    files.push((handler.clone(), read(&o.handler)?));
    let config_file = match &o.config_file {
        Some(p) => {
            let name = base(p)?;
            let bytes = read(p)?;
            ModelConfig::parse(&name, &bytes)?;
            files.push((name.clone(), bytes));
            Some(name)
        }
        None => None,
    };
    for p in &o.extra_files {
        files.push((base(p)?, read(p)?));
    }
    for (i, (name, _)) in files.iter().enumerate() {
        crate::names::check_name(name)?;
        if files[..i].iter().any(|(n, _)| n == name) || name == "MAR-INF" {
            return Err(ArchiveError::DuplicateEntry { name: name.clone() });
        }
    }
    let manifest = Manifest {
        created_on: Some(created_on()),
        runtime: "python".into(),
        model: ModelSection {
            model_name: o.model_name.clone(),
            model_version: o.version.clone(),
            serialized_file: serialized,
            handler,
            config_file,
            extra: Default::default(),
        },
        archiver_version: format!("ferroserve-{}", env!("CARGO_PKG_VERSION")),
        extra: Default::default(),
    };
    // Check the manifest as a reader would before writing anything.
    Manifest::parse(manifest.to_json().as_bytes())?;
    let json = manifest.to_json();
    let target = match o.format {
        ArchiveFormat::Default => o.export_path.join(format!("{}.mar", o.model_name)),
        ArchiveFormat::NoArchive => o.export_path.join(&o.model_name),
    };
    if target.exists() && !o.force {
        return Err(ArchiveError::Output {
            path: target.display().to_string(),
            message: "already exists; pass --force to overwrite it".into(),
        });
    }
    let out = |e: std::io::Error| ArchiveError::Output {
        path: target.display().to_string(),
        message: e.to_string(),
    };
    match o.format {
        ArchiveFormat::Default => {
            let tmp =
                o.export_path
                    .join(format!(".{}.mar.tmp-{}", o.model_name, std::process::id()));
            let mut zip = ZipWriter::new(fs::File::create(&tmp).map_err(out)?);
            let deflate = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .unix_permissions(0o644);
            let zerr = |e: zip::result::ZipError| ArchiveError::Output {
                path: tmp.display().to_string(),
                message: e.to_string(),
            };
            zip.start_file(MANIFEST_PATH, deflate).map_err(zerr)?;
            zip.write_all(json.as_bytes()).map_err(out)?;
            for (name, bytes) in &files {
                let large = bytes.len() > (1 << 30);
                zip.start_file(name.as_str(), deflate.large_file(large))
                    .map_err(zerr)?;
                zip.write_all(bytes).map_err(out)?;
            }
            zip.finish().map_err(zerr)?.sync_all().map_err(out)?;
            fs::rename(&tmp, &target).map_err(out)?;
        }
        ArchiveFormat::NoArchive => {
            if target.exists() {
                fs::remove_dir_all(&target).map_err(out)?;
            }
            fs::create_dir_all(target.join("MAR-INF")).map_err(out)?;
            fs::write(target.join(MANIFEST_PATH), json.as_bytes()).map_err(out)?;
            for (name, bytes) in &files {
                fs::write(target.join(name), bytes).map_err(out)?;
            }
        }
    }
    Ok((target, manifest))
}
