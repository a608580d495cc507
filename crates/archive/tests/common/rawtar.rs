//! `.tar.gz` archives built header by header, so every field a reader trusts (names,
//! types, declared sizes, extension records, checksums) can be forged; the tar crate's
//! builder refuses most of what a hostile archive holds.

use std::io::Write;

use super::*;

/// One tar member as it will be written.
#[derive(Clone)]
pub struct TarEntry {
    pub name: Vec<u8>,
    pub typeflag: u8,
    pub mode: u32,
    /// The bytes written after the header (padded to 512).
    pub data: Vec<u8>,
    /// The size field; `None`: `data.len()`.
    pub declared: Option<u64>,
    pub link: Vec<u8>,
    /// Added to the checksum field (a forged header).
    pub bad_checksum: bool,
}

impl TarEntry {
    pub fn file(name: &str, data: &[u8]) -> TarEntry {
        TarEntry {
            name: name.as_bytes().to_vec(),
            typeflag: b'0',
            mode: 0o644,
            data: data.to_vec(),
            declared: None,
            link: Vec::new(),
            bad_checksum: false,
        }
    }

    pub fn dir(name: &str) -> TarEntry {
        TarEntry {
            typeflag: b'5',
            mode: 0o755,
            ..TarEntry::file(name, b"")
        }
    }

    pub fn typed(name: &str, typeflag: u8) -> TarEntry {
        TarEntry {
            typeflag,
            ..TarEntry::file(name, b"")
        }
    }

    /// A pax extended header (`x`) with `records` for the next member.
    pub fn pax(records: &[(&str, &str)]) -> TarEntry {
        let mut data = Vec::new();
        for (k, v) in records {
            let body = format!(" {k}={v}\n");
            // The length counts its own digits.
            let mut len = body.len() + 1;
            while format!("{len}{body}").len() != len {
                len += 1;
            }
            data.extend_from_slice(format!("{len}{body}").as_bytes());
        }
        TarEntry {
            typeflag: b'x',
            ..TarEntry::file("././@PaxHeader", &data)
        }
    }

    /// A GNU long-name header (`L`) naming the next member.
    pub fn long_name(name: &str) -> TarEntry {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        TarEntry {
            typeflag: b'L',
            ..TarEntry::file("././@LongLink", &data)
        }
    }
}

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

pub fn header(e: &TarEntry) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = e.name.len().min(100);
    h[..n].copy_from_slice(&e.name[..n]);
    octal(&mut h[100..108], e.mode as u64);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    let size = e.declared.unwrap_or(e.data.len() as u64);
    if size < 1 << 33 {
        octal(&mut h[124..136], size);
    } else {
        // GNU base-256: the high bit set, the value big-endian in the rest.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = e.typeflag;
    let l = e.link.len().min(100);
    h[157..157 + l].copy_from_slice(&e.link[..l]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let mut sum: u64 = h.iter().map(|&b| b as u64).sum();
    if e.bad_checksum {
        sum += 1;
    }
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    h
}

/// The tar stream: each header and its data padded to 512, then two zero blocks.
pub fn tar(entries: &[TarEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&header(e));
        out.extend_from_slice(&e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

pub fn tgz(entries: &[TarEntry]) -> Vec<u8> {
    gzip(&tar(entries))
}

/// `files` under `root` the way torch-model-archiver 0.12 writes `--archive-format tgz`:
/// files only (no directory entries), the manifest last.
pub fn archiver_entries(root: &str, files: &[(String, Vec<u8>)]) -> Vec<TarEntry> {
    let mut files = files.to_vec();
    files.sort_by_key(|(n, _)| n == MANIFEST);
    files
        .iter()
        .map(|(n, d)| TarEntry::file(&format!("{root}/{n}"), d))
        .collect()
}

/// `valid_files()` as torch-model-archiver's tgz of the model `mlp`, plus `extra` members.
pub fn valid_tgz_with(extra: &[TarEntry]) -> Vec<u8> {
    let mut entries = archiver_entries("mlp", &valid_files());
    let manifest = entries.pop().unwrap();
    entries.extend_from_slice(extra);
    entries.push(manifest);
    tgz(&entries)
}

/// The hostile `.tar.gz` corpus: (label, archive bytes, expected kind, text in the message).
pub fn tgz_corpus() -> Vec<(&'static str, Vec<u8>, &'static str, String)> {
    let s = |x: &str| x.to_string();
    let f = TarEntry::file;
    let valid = valid_tgz_with(&[]);
    let mut half = valid.clone();
    half.truncate(valid.len() / 2);
    let mut no_trailer = valid.clone();
    no_trailer.truncate(valid.len() - 6);
    let mut bad_sum = f("mlp/x.txt", b"x");
    bad_sum.bad_checksum = true;
    let mut symlink = TarEntry::typed("mlp/labels-link", b'2');
    symlink.link = b"/etc/passwd".to_vec();
    let mut hardlink = TarEntry::typed("mlp/hard", b'1');
    hardlink.link = b"mlp/labels.txt".to_vec();
    let huge = TarEntry {
        declared: Some(10 << 30),
        ..f("mlp/huge.bin", b"")
    };
    let many: Vec<TarEntry> = (0..10_001).map(|i| f(&format!("mlp/f{i}"), b"")).collect();
    let mut two_folders = archiver_entries("mlp", &valid_files());
    two_folders.push(f("other/readme.txt", b"hi"));
    let no_manifest = archiver_entries("mlp", &with_file(MANIFEST, None));
    let big_pax = TarEntry {
        typeflag: b'x',
        ..f("././@PaxHeader", &vec![b'a'; 1 << 20])
    };
    let mut trailing = tar(&archiver_entries("mlp", &valid_files()));
    let mut x: u32 = 1;
    trailing.extend((0..(2 << 20)).map(|_| {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (x >> 16) as u8
    }));
    vec![
        (
            "tgz zip-slip",
            valid_tgz_with(&[f("../evil.txt", b"x")]),
            "ArchiveUnsafePath",
            s("`..` component"),
        ),
        (
            "tgz nested slip",
            valid_tgz_with(&[f("mlp/../../evil.txt", b"x")]),
            "ArchiveUnsafePath",
            s("`..` component"),
        ),
        (
            "tgz absolute path",
            valid_tgz_with(&[f("/etc/cron.d/evil", b"x")]),
            "ArchiveUnsafePath",
            s("absolute path"),
        ),
        (
            "tgz non-utf8 name",
            valid_tgz_with(&[TarEntry {
                name: b"mlp/\xff\xfe".to_vec(),
                ..f("x", b"x")
            }]),
            "ArchiveUnsafePath",
            s("not UTF-8"),
        ),
        (
            "tgz pax path slip",
            valid_tgz_with(&[
                TarEntry::pax(&[("path", "mlp/../../evil.txt")]),
                f("mlp/innocent.txt", b"x"),
            ]),
            "ArchiveUnsafePath",
            s("\"mlp/../../evil.txt\""),
        ),
        (
            "tgz gnu long name slip",
            valid_tgz_with(&[
                TarEntry::long_name("/etc/evil"),
                f("mlp/innocent.txt", b"x"),
            ]),
            "ArchiveUnsafePath",
            s("absolute path"),
        ),
        (
            "tgz symlink",
            valid_tgz_with(&[symlink]),
            "ArchiveSymlinkEntry",
            s("mlp/labels-link"),
        ),
        (
            "tgz hardlink",
            valid_tgz_with(&[hardlink]),
            "ArchiveHardlinkEntry",
            s("\"mlp/hard\" is a hard link"),
        ),
        (
            "tgz character device",
            valid_tgz_with(&[TarEntry::typed("mlp/tty", b'3')]),
            "ArchiveSpecialFileEntry",
            s("unix mode 20644"),
        ),
        (
            "tgz fifo",
            valid_tgz_with(&[TarEntry::typed("mlp/fifo", b'6')]),
            "ArchiveSpecialFileEntry",
            s("unix mode 10644"),
        ),
        (
            "tgz sparse file",
            valid_tgz_with(&[TarEntry::typed("mlp/sparse", b'S')]),
            "ArchiveUnsupportedEntryType",
            s("GNU sparse"),
        ),
        (
            "tgz gzip bomb",
            valid_tgz_with(&[f("mlp/zeros.bin", &vec![0u8; 50 << 20])]),
            "ArchiveCompressionRatio",
            s("gzip bomb"),
        ),
        (
            "tgz 10 GB declared",
            tgz(&[huge]),
            "ArchiveEntryTooLarge",
            s("\"mlp/huge.bin\""),
        ),
        (
            "tgz 10001 entries",
            tgz(&many),
            "ArchiveTooManyEntries",
            s("more than 10000 entries"),
        ),
        (
            "tgz truncated in half",
            half,
            "ArchiveCorrupt",
            s("truncated"),
        ),
        (
            "tgz without its gzip trailer",
            no_trailer,
            "ArchiveCorrupt",
            s("gzip stream"),
        ),
        (
            "tgz bad header checksum",
            valid_tgz_with(&[bad_sum]),
            "ArchiveCorrupt",
            s("checksum"),
        ),
        (
            "gzip of something else",
            gzip(b"#!/bin/sh\nrm -rf /\n"),
            "ArchiveCorrupt",
            s("not a readable tar"),
        ),
        (
            "tgz two top-level folders",
            tgz(&two_folders),
            "ArchiveTarLayout",
            s("(\"mlp\", \"other\")"),
        ),
        (
            "tgz missing manifest",
            tgz(&no_manifest),
            "ManifestMissing",
            s("MAR-INF/MANIFEST.json is missing"),
        ),
        (
            "tgz duplicate entry",
            valid_tgz_with(&[f("mlp/labels.txt", b"again")]),
            "ArchiveDuplicateEntry",
            s("labels.txt"),
        ),
        (
            "tgz oversized pax header",
            valid_tgz_with(&[big_pax, f("mlp/x", b"")]),
            "ArchiveCorrupt",
            s("extension header"),
        ),
        (
            "tgz pax size disagrees",
            valid_tgz_with(&[TarEntry::pax(&[("size", "99")]), f("mlp/x", b"abc")]),
            "ArchiveCorrupt",
            s("pax size"),
        ),
        (
            "tgz data after the tar",
            gzip(&trailing),
            "ArchiveCorrupt",
            s("follow the end of the tar"),
        ),
    ]
}
