//! The committed fuzz inputs through the fuzz targets' own code, on stable Rust and
//! without a fuzzer: every seed (`fuzz/seeds/<target>/`) and every reproducer of a fixed
//! finding (`fuzz/regressions/<target>/`) must answer with the property, seeds named
//! `ok-*` with 2xx for each of their requests (so a harness that stopped reaching the
//! model, answering 404 to everything, would fail here rather than fuzz nothing).

use std::path::{Path, PathBuf};

use ferroserve_fuzz_harness::{Target, Verdict, run};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("a readable corpus directory").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("a readable corpus file"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn seeds_and_regressions_answer_with_the_property() {
    let mut failures = Vec::new();
    for target in Target::ALL {
        let seeds = inputs(&fuzz_dir().join("seeds").join(target.name()));
        let oks = seeds.iter().filter(|(n, _)| n.starts_with("ok-")).count();
        assert!(
            seeds.len() >= 8 && oks >= 3,
            "{}: {} seeds, {oks} ok-*; run fuzz/make_seeds.py",
            target.name(),
            seeds.len()
        );
        let regressions = inputs(&fuzz_dir().join("regressions").join(target.name()));
        for (kind, (name, data)) in seeds
            .iter()
            .map(|s| ("seed", s))
            .chain(regressions.iter().map(|r| ("regression", r)))
        {
            let verdict = run(target, data);
            let what = format!("{} {kind} {name}", target.name());
            match verdict {
                Verdict::Pass(statuses) if name.starts_with("ok-") => {
                    if statuses.is_empty() || statuses.iter().any(|s| !(200..300).contains(s)) {
                        failures.push(format!("{what}: statuses {statuses:?}, expected 2xx"));
                    }
                }
                Verdict::Pass(_) => {}
                // A seed that sends nothing seeds nothing; a reproducer may be one the
                // harness now refuses to send (kept for the record), so only seeds count.
                Verdict::Skipped(why) if kind == "seed" => {
                    failures.push(format!("{what}: not sent ({why})"));
                }
                Verdict::Skipped(_) => {}
                Verdict::Found(f) => {
                    failures.push(format!("{what}: {}\n{}", f.signature, f.detail))
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
