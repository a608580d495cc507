//! `Target::KserveBinary` (formats and property in crates/fuzz-harness): findings are kept, not
//! fatal, unless FERROSERVE_FUZZ_STRICT=1.
#![no_main]

use ferroserve_fuzz_harness::{Target, Verdict, record, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Verdict::Found(finding) = run(Target::KserveBinary, data) {
        record(Target::KserveBinary.name(), data, &finding);
    }
});
