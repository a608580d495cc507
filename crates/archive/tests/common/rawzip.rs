//! A zip writer that writes whatever it is told, including lies: declared sizes, CRCs,
//! flags, methods, unix modes, and zip64 records when counts or sizes need them.

use std::io::Write;

use flate2::{Compression, write::DeflateEncoder};

pub struct RawEntry {
    pub name: Vec<u8>,
    /// The bytes as stored (already compressed for method 8).
    pub data: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub crc: u32,
    /// The uncompressed size the headers claim.
    pub declared_size: u64,
    /// Unix mode, put in the external attributes with "made by unix".
    pub mode: u32,
}

impl RawEntry {
    pub fn deflated(name: &str, data: &[u8]) -> RawEntry {
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: enc.finish().unwrap(),
            method: 8,
            flags: 0,
            crc: crc32(data),
            declared_size: data.len() as u64,
            mode: 0o100644,
        }
    }
    pub fn stored(name: &str, data: &[u8]) -> RawEntry {
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: 0,
            flags: 0,
            crc: crc32(data),
            declared_size: data.len() as u64,
            mode: 0o100644,
        }
    }
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn zip64_extra(e: &RawEntry) -> Vec<u8> {
    let mut x = Vec::new();
    x.extend_from_slice(&1u16.to_le_bytes());
    x.extend_from_slice(&16u16.to_le_bytes());
    x.extend_from_slice(&e.declared_size.to_le_bytes());
    x.extend_from_slice(&(e.data.len() as u64).to_le_bytes());
    x
}

pub fn raw_zip(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let big = e.declared_size >= 0xFFFF_FFFF;
        let extra = if big { zip64_extra(e) } else { Vec::new() };
        let (csize, usize_) = if big {
            (0xFFFF_FFFFu32, 0xFFFF_FFFFu32)
        } else {
            (e.data.len() as u32, e.declared_size as u32)
        };
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&(if big { 45u16 } else { 20u16 }).to_le_bytes());
            v.extend_from_slice(&e.flags.to_le_bytes());
            v.extend_from_slice(&e.method.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
            v.extend_from_slice(&0x21u16.to_le_bytes());
            v.extend_from_slice(&e.crc.to_le_bytes());
            v.extend_from_slice(&csize.to_le_bytes());
            v.extend_from_slice(&usize_.to_le_bytes());
            v.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            v.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&extra);
        out.extend_from_slice(&e.data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&(0x0300u16 | 45).to_le_bytes());
        common(&mut central);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&(e.mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
        central.extend_from_slice(&extra);
    }
    let (cd_offset, cd_size, n) = (out.len() as u64, central.len() as u64, entries.len() as u64);
    out.extend_from_slice(&central);
    if n > 0xFFFE {
        let z64 = out.len() as u64;
        out.extend_from_slice(b"PK\x06\x06");
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&[45, 3, 45, 0]);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(b"PK\x06\x07");
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&z64.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    let n16 = if n > 0xFFFE { 0xFFFF } else { n as u16 };
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&n16.to_le_bytes());
    out.extend_from_slice(&n16.to_le_bytes());
    out.extend_from_slice(&(cd_size as u32).to_le_bytes());
    out.extend_from_slice(&(cd_offset as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A raw deflate stream that inflates to `mib` MiB of zeros, built from one sync-flushed
/// 1 MiB block repeated (every block only refers back into zeros), so it costs ~1 KiB
/// per MiB to make and nothing is ever inflated here.
pub fn zeros_deflate(mib: u64) -> Vec<u8> {
    use flate2::{Compress, FlushCompress};
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let block = |c: &mut Compress, input: &[u8], flush| {
        let mut out = Vec::with_capacity(1 << 20);
        let before = c.total_in();
        c.compress_vec(input, &mut out, flush).unwrap();
        assert_eq!(c.total_in() - before, input.len() as u64);
        out
    };
    let first = block(&mut c, &zeros, FlushCompress::Sync);
    let repeat = block(&mut c, &zeros, FlushCompress::Sync);
    let end = block(&mut c, &[], FlushCompress::Finish);
    let mut s = Vec::with_capacity(first.len() + repeat.len() * mib as usize + end.len());
    s.extend_from_slice(&first);
    for _ in 1..mib {
        s.extend_from_slice(&repeat);
    }
    s.extend_from_slice(&end);
    s
}

/// A 1 KB-declared entry whose deflate stream inflates to 10 GB of zeros: the header lies.
pub fn lying_bomb() -> RawEntry {
    RawEntry {
        name: b"bomb.bin".to_vec(),
        data: zeros_deflate(10 * 1024),
        method: 8,
        flags: 0,
        crc: 0,
        declared_size: 1024,
        mode: 0o100644,
    }
}
