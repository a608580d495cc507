//! Findings as the fuzz binaries keep them: the first input of each signature, and how
//! often each signature came up, under `$FERROSERVE_FUZZ_FINDINGS/<target>/` (default
//! `findings/`). A fuzzer that stopped at the first finding would spend a 10-minute run
//! on one known bug; this way one run surveys them all. With `FERROSERVE_FUZZ_STRICT=1`
//! a finding panics instead, so libFuzzer saves the input as a crash (for `cargo fuzz
//! tmin` and for checking a fix).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::check::Finding;

/// Keeps `finding`, made by `input` on `target`; panics in strict mode.
pub fn record(target: &str, input: &[u8], finding: &Finding) {
    if std::env::var_os("FERROSERVE_FUZZ_STRICT").is_some_and(|v| v == "1") {
        panic!("finding {}\n{}", finding.signature, finding.detail);
    }
    static SEEN: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let counts = seen.get_or_insert_with(HashMap::new);
    let count = counts.entry(finding.signature.clone()).or_insert(0);
    *count += 1;
    let dir = std::env::var_os("FERROSERVE_FUZZ_FINDINGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("findings"))
        .join(target);
    if *count == 1 {
        let name = format!("{:016x}", fnv1a(finding.signature.as_bytes()));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.input")), input);
        let text = format!("{}\n\n{}\n", finding.signature, finding.detail);
        let _ = std::fs::write(dir.join(format!("{name}.txt")), text);
        eprintln!("NEW FINDING [{target}] {}", finding.signature);
    }
    // Rewritten at powers of two and every thousandth: cheap, and close enough for a report.
    if count.is_power_of_two() || count.is_multiple_of(1000) {
        let mut rows: Vec<_> = counts.iter().collect();
        rows.sort();
        if let Ok(mut f) = std::fs::File::create(dir.join("counts.tsv")) {
            for (signature, n) in rows {
                let _ = writeln!(f, "{n}\t{signature}");
            }
        }
    }
}

/// A stable file name for a signature (FNV-1a, 64 bits).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
