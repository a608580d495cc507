//! Caps applied while reading an archive. The server sets them per tenant.

/// Caps checked before and while inflating. Sizes are bytes.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    /// Size of the zip file itself.
    pub max_archive_bytes: u64,
    /// Sum of every entry's inflated size.
    pub max_total_bytes: u64,
    /// Inflated size of any one entry.
    pub max_entry_bytes: u64,
    /// Entries in the central directory (checked before the directory is parsed).
    pub max_entries: u64,
    /// Largest allowed inflated/compressed ratio of an entry ...
    pub max_ratio: u64,
    /// ... once it has inflated past this many bytes (small text files compress well).
    pub ratio_floor_bytes: u64,
    /// The manifest and the model-config YAML, which are parsed in memory.
    pub max_metadata_bytes: u64,
    /// The handler component, which is held in memory to be compiled.
    pub max_handler_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_archive_bytes: 2 << 30,
            max_total_bytes: 4 << 30,
            max_entry_bytes: 2 << 30,
            max_entries: 10_000,
            max_ratio: 100,
            ratio_floor_bytes: 1 << 20,
            max_metadata_bytes: 1 << 20,
            max_handler_bytes: 64 << 20,
        }
    }
}
