//! Any bytes through the validating reader: it must return Ok or a typed error, never
//! panic, hang or allocate without bound. Caps are lowered so each run stays small; the
//! first byte also routes some inputs straight to the manifest and config parsers.
#![no_main]

use std::io::Cursor;

use ferroserve_archive::{Manifest, ModelConfig, PreambleOnly, ReadLimits, read_archive_from};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match data.first() {
        Some(b'{') => {
            let _ = Manifest::parse(data);
        }
        Some(b'#') => {
            let _ = ModelConfig::parse("fuzz.yaml", data);
        }
        _ => {
            let limits = ReadLimits {
                max_archive_bytes: 1 << 20,
                max_total_bytes: 32 << 20,
                max_entry_bytes: 16 << 20,
                max_entries: 2_000,
                ..ReadLimits::default()
            };
            if let Ok(info) = read_archive_from(Cursor::new(data), &limits, &PreambleOnly) {
                // A valid archive's manifest survives a write and a read.
                assert_eq!(
                    Manifest::parse(info.manifest.to_json().as_bytes()).unwrap(),
                    info.manifest
                );
            }
        }
    }
});
