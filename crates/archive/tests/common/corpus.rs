//! The hostile corpus shared by `hostile.rs` (specific errors) and `golden.rs` (texts).

use super::*;

pub fn raw_with(extra: RawEntry) -> Vec<u8> {
    let mut entries: Vec<RawEntry> = valid_files()
        .iter()
        .map(|(n, d)| RawEntry::deflated(n, d))
        .collect();
    entries.push(extra);
    raw_zip(&entries)
}

pub fn manifest(json: &str) -> Vec<u8> {
    zip_of(&with_file(MANIFEST, Some(json.as_bytes())))
}

/// Every case: (label, archive bytes, expected kind, text the message must contain).
pub fn corpus() -> Vec<(&'static str, Vec<u8>, &'static str, String)> {
    let valid = zip_of(&valid_files());
    let mut symlink = RawEntry::stored("labels-link", b"/etc/passwd");
    symlink.mode = 0o120777;
    let mut fifo = RawEntry::stored("fifo", b"");
    fifo.mode = 0o010644;
    let mut encrypted = RawEntry::stored("secret.txt", b"xx");
    encrypted.flags = 1;
    let mut bzip = RawEntry::stored("b.txt", b"xx");
    bzip.method = 12;
    let mut bad_crc = RawEntry::stored("crc.txt", b"hello");
    bad_crc.crc ^= 1;
    let lying = lying_bomb();
    let truthful = RawEntry {
        declared_size: 10 << 30,
        name: b"bomb64.bin".to_vec(),
        ..RawEntry::deflated("x", b"")
    };
    let truthful = RawEntry {
        data: zeros_deflate(10 * 1024),
        ..truthful
    };
    let ratio = RawEntry::deflated("zeros.bin", &vec![0u8; 50 << 20]);
    let many: Vec<RawEntry> = (0..100_000)
        .map(|i| RawEntry::stored(&format!("f{i}"), b""))
        .collect();
    let dir_handler = RawEntry::stored("h.wasm/", b"");
    let s = |x: &str| x.to_string();
    let m = |model: &str, handler: &str| manifest_json(model, handler, None);
    let mut half = valid.clone();
    half.truncate(valid.len() / 2);
    let mut tail_cut = valid.clone();
    tail_cut.truncate(valid.len() - 10);
    vec![
        (
            "not a zip",
            b"#!/bin/sh\nrm -rf /\n".to_vec(),
            "ArchiveNotAZip",
            s("no zip signature"),
        ),
        (
            "empty file",
            Vec::new(),
            "ArchiveNotAZip",
            s("the file is empty"),
        ),
        ("truncated in half", half, "ArchiveCorrupt", s("truncated")),
        (
            "truncated end record",
            tail_cut,
            "ArchiveCorrupt",
            s("truncated"),
        ),
        (
            "zip-slip",
            raw_with(RawEntry::stored("../evil.txt", b"x")),
            "ArchiveUnsafePath",
            s("`..` component"),
        ),
        (
            "nested zip-slip",
            raw_with(RawEntry::stored("vocab/../../evil.txt", b"x")),
            "ArchiveUnsafePath",
            s("`..` component"),
        ),
        (
            "absolute path",
            raw_with(RawEntry::stored("/etc/cron.d/evil", b"x")),
            "ArchiveUnsafePath",
            s("absolute path"),
        ),
        (
            "drive letter",
            raw_with(RawEntry::stored("C:/evil", b"x")),
            "ArchiveUnsafePath",
            s("drive letter"),
        ),
        (
            "backslash slip",
            raw_with(RawEntry::stored("..\\evil", b"x")),
            "ArchiveUnsafePath",
            s("backslash"),
        ),
        (
            "non-utf8 name",
            raw_with(RawEntry {
                name: vec![0xff, 0xfe],
                ..RawEntry::stored("x", b"x")
            }),
            "ArchiveUnsafePath",
            s("not UTF-8"),
        ),
        (
            "symlink entry",
            raw_with(symlink),
            "ArchiveSymlinkEntry",
            s("labels-link"),
        ),
        (
            "fifo entry",
            raw_with(fifo),
            "ArchiveSpecialFileEntry",
            s("unix mode 10644"),
        ),
        (
            "duplicate names",
            raw_with(RawEntry::stored("labels.txt", b"evil")),
            "ArchiveDuplicateEntry",
            s("\"labels.txt\""),
        ),
        (
            "duplicate manifest",
            raw_with(RawEntry::stored(
                MANIFEST,
                m("mlp.pt", "handler.wasm").as_bytes(),
            )),
            "ArchiveDuplicateEntry",
            s(MANIFEST),
        ),
        (
            "encrypted entry",
            raw_with(encrypted),
            "ArchiveEncryptedEntry",
            s("secret.txt"),
        ),
        (
            "bzip2 entry",
            raw_with(bzip),
            "ArchiveUnsupportedCompression",
            s("b.txt"),
        ),
        ("bad crc", raw_with(bad_crc), "ArchiveCorrupt", s("crc.txt")),
        (
            "1 KB header, 10 GB of zeros",
            raw_with(lying),
            "ArchiveSizeMismatch",
            s("the 1024 bytes its header declares"),
        ),
        (
            "10 GB declared (zip64)",
            raw_with(truthful),
            "ArchiveEntryTooLarge",
            s("bomb64.bin"),
        ),
        (
            "50 MB of zeros, ratio 1000x",
            raw_with(ratio),
            "ArchiveCompressionRatio",
            s("zeros.bin"),
        ),
        (
            "100,000 entries",
            raw_zip(&many),
            "ArchiveTooManyEntries",
            s("100000 entries"),
        ),
        (
            "no manifest",
            zip_of(&with_file(MANIFEST, None)),
            "ManifestMissing",
            s("MANIFEST.json is missing"),
        ),
        (
            "manifest not JSON",
            manifest("{runtime: python"),
            "ManifestInvalidJson",
            s("not valid JSON"),
        ),
        (
            "manifest is an array",
            manifest("[]"),
            "ManifestInvalidField",
            s("must be a JSON object"),
        ),
        (
            "manifest wrong type",
            manifest(r#"{"runtime":"python","model":{"modelName":5},"archiverVersion":"1"}"#),
            "ManifestInvalidField",
            s("`model.modelName` is wrong: invalid type: integer `5`, expected a string"),
        ),
        (
            "manifest without model",
            manifest(r#"{"runtime":"python","archiverVersion":"1"}"#),
            "ManifestInvalidField",
            s("`model` is missing"),
        ),
        (
            "manifest without handler",
            manifest(
                r#"{"runtime":"python","archiverVersion":"1","model":{"modelName":"m","modelVersion":"1","serializedFile":"mlp.pt"}}"#,
            ),
            "ManifestInvalidField",
            s("`model.handler` is missing"),
        ),
        (
            "manifest bad model name",
            manifest(
                &manifest_json("mlp.pt", "handler.wasm", None).replace("\"mlp\"", "\"../mlp\""),
            ),
            "ManifestInvalidField",
            s("`model.modelName` is \"../mlp\""),
        ),
        (
            "manifest slip in serializedFile",
            manifest(&m("../../etc/shadow", "handler.wasm")),
            "ManifestInvalidField",
            s("`model.serializedFile`"),
        ),
        (
            "missing model file",
            zip_of(&with_file("mlp.pt", None)),
            "ModelMissing",
            s("serialized file \"mlp.pt\""),
        ),
        (
            "missing handler file",
            zip_of(&with_file("handler.wasm", None)),
            "HandlerMissing",
            s("handler \"handler.wasm\""),
        ),
        (
            "handler is a directory",
            {
                let mut f = with_file(MANIFEST, Some(m("mlp.pt", "h.wasm").as_bytes()));
                f.retain(|(n, _)| n != "model-config.yaml");
                let mut e: Vec<RawEntry> =
                    f.iter().map(|(n, d)| RawEntry::deflated(n, d)).collect();
                e.push(dir_handler);
                raw_zip(&e)
            },
            "HandlerMissing",
            s("\"h.wasm\""),
        ),
        (
            "missing config file",
            zip_of(&with_file("model-config.yaml", None)),
            "ArchiveMissingFile",
            s("config file \"model-config.yaml\""),
        ),
        (
            "model not a zip",
            zip_of(&with_file("mlp.pt", Some(b"\x80\x02pickle"))),
            "ModelNotTorchScript",
            s("does not start with a zip header"),
        ),
        (
            "model without code/",
            zip_of(&with_file("mlp.pt", Some(&fake_torchscript(false)))),
            "ModelNotTorchScript",
            s("has no mlp/code/"),
        ),
        (
            "handler not wasm",
            zip_of(&with_file("handler.wasm", Some(b"#!/bin/sh\necho pwned\n"))),
            "HandlerNotWasm",
            s("not WebAssembly"),
        ),
        (
            "handler a core module",
            zip_of(&with_file("handler.wasm", Some(b"\0asm\x01\0\0\0"))),
            "HandlerNotAComponent",
            s("core wasm module"),
        ),
        (
            "config not YAML",
            zip_of(&with_file("model-config.yaml", Some(b"batchSize: [\n"))),
            "ConfigInvalidYaml",
            s("not valid YAML"),
        ),
        (
            "config wrong type",
            zip_of(&with_file("model-config.yaml", Some(b"batchSize: lots\n"))),
            "ConfigInvalidField",
            s("key `batchSize`"),
        ),
        (
            "config future format",
            zip_of(&with_file(
                "model-config.yaml",
                Some(b"ferroserve:\n  formatVersion: 9\n"),
            )),
            "ConfigInvalidField",
            s("`ferroserve.formatVersion` is 9"),
        ),
    ]
}
