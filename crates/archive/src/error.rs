//! The one error type of the crate. Every variant says what is wrong and what to do.

use thiserror::Error;

/// Why an archive was refused (or could not be written). [`ArchiveError::kind`] is a
/// stable name for logs, tests and the server's error mapping.
#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("cannot read the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "the archive is {size} bytes, over the limit of {limit}; make it smaller or ask for a higher archive-size quota"
    )]
    ArchiveTooLarge { size: u64, limit: u64 },
    #[error(
        "not a model archive ({0}); a model archive is a zip file (.mar) or a gzip-compressed tar (.tar.gz) with MAR-INF/MANIFEST.json, made by `ferroserve archive` or torch-model-archiver"
    )]
    NotAZip(String),
    #[error("the zip archive is damaged ({0}); build it again")]
    CorruptZip(String),
    #[error("the .tar.gz archive is damaged ({0}); build it again")]
    CorruptTgz(String),
    #[error("the archive has {count} entries, over the limit of {limit}; ship fewer, larger files")]
    TooManyEntries { count: u64, limit: u64 },
    #[error("the archive has more than {limit} entries (the limit); ship fewer, larger files")]
    TarTooManyEntries { limit: u64 },
    #[error(
        "the .tar.gz has entries under more than one top-level name ({tops}) and no MAR-INF/MANIFEST.json at its root; put every file under one folder (as torch-model-archiver --archive-format tgz does) or at the root"
    )]
    TarLayout { tops: String },
    #[error(
        "entry name {name:?} is not allowed: {reason}; entry names must be relative paths inside the archive"
    )]
    UnsafePath { name: String, reason: &'static str },
    #[error(
        "entry {name:?} is a symbolic link; archives may hold only regular files and directories"
    )]
    SymlinkEntry { name: String },
    #[error("entry {name:?} is a hard link; archives may hold only regular files and directories")]
    HardlinkEntry { name: String },
    #[error(
        "entry {name:?} is a special file (unix mode {mode:o}); archives may hold only regular files and directories"
    )]
    SpecialFileEntry { name: String, mode: u32 },
    #[error(
        "entry {name:?} is a tar entry of type {entry_type}; archives may hold only regular files and directories"
    )]
    UnsupportedEntryType { name: String, entry_type: String },
    #[error("entry {name:?} appears more than once; every name in an archive must be unique")]
    DuplicateEntry { name: String },
    #[error("entry {name:?} is encrypted; ferroserve reads only unencrypted archives")]
    EncryptedEntry { name: String },
    #[error("entry {name:?} uses compression method {method}; use stored or deflate")]
    UnsupportedCompression { name: String, method: String },
    #[error(
        "entry {name:?} inflates past {limit} bytes (the per-entry limit); split the file or ask for a higher limit"
    )]
    EntryTooLarge { name: String, limit: u64 },
    #[error("the archive inflates past {limit} bytes in total (the limit); ship smaller files")]
    TotalTooLarge { limit: u64 },
    #[error(
        "entry {name:?} inflates more than {limit}x its compressed size of {compressed} bytes, which is what a zip bomb does; store such data uncompressed"
    )]
    CompressionRatio {
        name: String,
        compressed: u64,
        limit: u64,
    },
    #[error(
        "the .tar.gz inflates to more than {limit}x its compressed size ({inflated} bytes from {compressed}), which is what a gzip bomb does; ship such data in a zip .mar with that file stored uncompressed"
    )]
    StreamRatio {
        inflated: u64,
        compressed: u64,
        limit: u64,
    },
    #[error(
        "entry {name:?} does not inflate to the {declared} bytes its header declares (stopped after {actual}); the archive is damaged or forged, build it again"
    )]
    SizeMismatch {
        name: String,
        declared: u64,
        actual: u64,
    },
    #[error(
        "entries overlap inside the zip (one stored byte belongs to two entries); build the archive again with a normal zip tool"
    )]
    OverlappingEntries,
    #[error(
        "MAR-INF/MANIFEST.json is missing; build the archive with `ferroserve archive` or torch-model-archiver"
    )]
    MissingManifest,
    #[error("MAR-INF/MANIFEST.json is not valid JSON: {0}")]
    ManifestJson(String),
    #[error("MAR-INF/MANIFEST.json: field `{field}` {problem}")]
    ManifestField { field: String, problem: String },
    #[error("model config {file:?} is not valid YAML: {message}")]
    ConfigYaml { file: String, message: String },
    #[error("model config {file:?}: key `{field}` {problem}")]
    ConfigField {
        file: String,
        field: String,
        problem: String,
    },
    #[error(
        "the manifest names {role} {name:?} but the archive has no such entry; add the file or fix `{field}`"
    )]
    MissingFile {
        role: &'static str,
        name: String,
        field: &'static str,
    },
    #[error(
        "serialized file {name:?} is not a TorchScript archive ({reason}); save the model with torch.jit.save"
    )]
    NotTorchScript { name: String, reason: String },
    #[error(
        "handler {name:?} is not WebAssembly (no \\0asm header); build it with `cargo build --target wasm32-wasip2`"
    )]
    HandlerNotWasm { name: String },
    #[error(
        "handler {name:?} is a core wasm module, not a component; build it for wasm32-wasip2 (or run `wasm-tools component new`)"
    )]
    HandlerNotAComponent { name: String },
    #[error("handler {name:?} was refused ({kind}): {message}")]
    HandlerRejected {
        name: String,
        kind: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Output { path: String, message: String },
}

impl ArchiveError {
    /// A stable name for the failure, e.g. `ArchiveZipSlip` or `HandlerWorldMismatch`.
    pub fn kind(&self) -> String {
        use ArchiveError::*;
        let k = match self {
            Io(_) => "ArchiveIo",
            ArchiveTooLarge { .. } => "ArchiveTooLarge",
            NotAZip(_) => "ArchiveNotAZip",
            CorruptZip(_) | CorruptTgz(_) => "ArchiveCorrupt",
            TooManyEntries { .. } | TarTooManyEntries { .. } => "ArchiveTooManyEntries",
            TarLayout { .. } => "ArchiveTarLayout",
            UnsafePath { .. } => "ArchiveUnsafePath",
            SymlinkEntry { .. } => "ArchiveSymlinkEntry",
            HardlinkEntry { .. } => "ArchiveHardlinkEntry",
            SpecialFileEntry { .. } => "ArchiveSpecialFileEntry",
            UnsupportedEntryType { .. } => "ArchiveUnsupportedEntryType",
            DuplicateEntry { .. } => "ArchiveDuplicateEntry",
            EncryptedEntry { .. } => "ArchiveEncryptedEntry",
            UnsupportedCompression { .. } => "ArchiveUnsupportedCompression",
            EntryTooLarge { .. } => "ArchiveEntryTooLarge",
            TotalTooLarge { .. } => "ArchiveTotalTooLarge",
            CompressionRatio { .. } | StreamRatio { .. } => "ArchiveCompressionRatio",
            SizeMismatch { .. } => "ArchiveSizeMismatch",
            OverlappingEntries => "ArchiveOverlappingEntries",
            MissingManifest => "ManifestMissing",
            ManifestJson(_) => "ManifestInvalidJson",
            ManifestField { .. } => "ManifestInvalidField",
            ConfigYaml { .. } => "ConfigInvalidYaml",
            ConfigField { .. } => "ConfigInvalidField",
            MissingFile { role, .. } => match *role {
                "handler" => "HandlerMissing",
                "serialized file" => "ModelMissing",
                _ => "ArchiveMissingFile",
            },
            NotTorchScript { .. } => "ModelNotTorchScript",
            HandlerNotWasm { .. } => "HandlerNotWasm",
            HandlerNotAComponent { .. } => "HandlerNotAComponent",
            HandlerRejected { kind, .. } => return kind.clone(),
            Output { .. } => "ArchiveOutput",
        };
        k.to_string()
    }
}
