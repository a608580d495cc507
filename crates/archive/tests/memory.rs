//! Peak memory while reading the worst of the hostile corpus, measured in a child process
//! (this test binary run again with FERROSERVE_MEM_CHILD) from its VmHWM, so the parent's
//! own allocations for building the corpus do not count.

mod common;

use common::*;
use ferroserve_archive::{PreambleOnly, ReadLimits, read_archive};

const CHILD: &str = "FERROSERVE_MEM_CHILD";

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// In the child: read every file named in the variable and print the kinds and VmHWM.
#[test]
fn child_reads_archives() {
    let Ok(paths) = std::env::var(CHILD) else {
        return;
    };
    for p in paths.split(':') {
        let e = read_archive(p.as_ref(), &ReadLimits::default(), &PreambleOnly).unwrap_err();
        println!("KIND {}", e.kind());
    }
    println!("VMHWM_KIB {}", vm_hwm_kib());
}

#[test]
fn hostile_reads_stay_under_100_mb() {
    let dir = tempfile::tempdir().unwrap();
    let mut entries: Vec<RawEntry> = valid_files()
        .iter()
        .map(|(n, d)| RawEntry::deflated(n, d))
        .collect();
    entries.push(lying_bomb());
    let bomb = dir.path().join("bomb.mar");
    std::fs::write(&bomb, raw_zip(&entries)).unwrap();
    let many = dir.path().join("many.mar");
    let files: Vec<RawEntry> = (0..100_000)
        .map(|i| RawEntry::stored(&format!("f{i}"), b""))
        .collect();
    std::fs::write(&many, raw_zip(&files)).unwrap();
    // Just under the entry cap: 9,999 entries the zip crate does parse.
    let mut near: Vec<RawEntry> = valid_files()
        .iter()
        .map(|(n, d)| RawEntry::deflated(n, d))
        .collect();
    near.extend(
        (0..9_990).map(|i| RawEntry::stored(&format!("extra/{i:05}-{}", "x".repeat(200)), b"")),
    );
    near.push(RawEntry::stored("../escape", b""));
    let near_path = dir.path().join("near.mar");
    std::fs::write(&near_path, raw_zip(&near)).unwrap();
    let arg = [&bomb, &many, &near_path]
        .map(|p| p.display().to_string())
        .join(":");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_reads_archives",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, arg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // libtest prints "test child_reads_archives ... " without a newline before our output.
    let kinds: Vec<_> = stdout
        .lines()
        .filter_map(|l| l.split("KIND ").nth(1))
        .collect();
    assert_eq!(
        kinds,
        [
            "ArchiveSizeMismatch",
            "ArchiveTooManyEntries",
            "ArchiveUnsafePath"
        ]
    );
    let kib: u64 = stdout
        .lines()
        .find_map(|l| l.split("VMHWM_KIB ").nth(1))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    println!("peak RSS of the reading process: {} KiB", kib);
    assert!(kib < 100 * 1024, "peak {kib} KiB");
}
