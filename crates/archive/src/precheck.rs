//! Checks made on the raw bytes before the zip crate parses anything: the archive's size,
//! that it is a zip at all, and its entry count from the end-of-central-directory record,
//! so 100,000 entries are refused before 100,000 headers are parsed.

use std::io::{Read, Seek, SeekFrom};

use crate::{ArchiveError, ReadLimits};

fn u16_at(b: &[u8], i: usize) -> u64 {
    u16::from_le_bytes([b[i], b[i + 1]]) as u64
}

/// Returns the archive's size after checking size, zip-ness and entry count.
pub(crate) fn precheck<R: Read + Seek>(
    r: &mut R,
    limits: &ReadLimits,
) -> Result<u64, ArchiveError> {
    let size = r.seek(SeekFrom::End(0))?;
    if size > limits.max_archive_bytes {
        return Err(ArchiveError::ArchiveTooLarge {
            size,
            limit: limits.max_archive_bytes,
        });
    }
    let mut head = [0u8; 4];
    r.seek(SeekFrom::Start(0))?;
    let head_len = r.read(&mut head)?;
    let looks_zip = head_len == 4 && (head == *b"PK\x03\x04" || head == *b"PK\x05\x06");
    let tail_len = size.min(22 + 65535);
    let mut tail = vec![0u8; tail_len as usize];
    r.seek(SeekFrom::Start(size - tail_len))?;
    r.read_exact(&mut tail)?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"));
    let Some(eocd) = eocd else {
        return Err(if looks_zip {
            ArchiveError::CorruptZip(
                "it is truncated: the end-of-central-directory record is missing".into(),
            )
        } else {
            ArchiveError::NotAZip(if size == 0 {
                "the file is empty".into()
            } else {
                "no zip signature found".into()
            })
        });
    };
    let mut count = u16_at(&tail, eocd + 10);
    if count == 0xFFFF && eocd >= 20 && tail[eocd - 20..].starts_with(b"PK\x06\x07") {
        // zip64: the real count is in the zip64 end-of-central-directory record.
        let at = u64::from_le_bytes(tail[eocd - 12..eocd - 4].try_into().expect("8 bytes"));
        let mut rec = [0u8; 56];
        r.seek(SeekFrom::Start(at))?;
        if r.read_exact(&mut rec).is_err() || !rec.starts_with(b"PK\x06\x06") {
            return Err(ArchiveError::CorruptZip(
                "its zip64 end-of-central-directory record is missing".into(),
            ));
        }
        count = u64::from_le_bytes(rec[32..40].try_into().expect("8 bytes"));
    }
    if count > limits.max_entries {
        return Err(ArchiveError::TooManyEntries {
            count,
            limit: limits.max_entries,
        });
    }
    r.seek(SeekFrom::Start(0))?;
    Ok(size)
}

/// The first name that occurs twice in the central directory, found from raw bytes
/// (the zip crate keeps one entry per name).
pub(crate) fn first_duplicate<R: Read + Seek>(r: &mut R, dir_start: u64) -> Option<String> {
    let end = r.seek(SeekFrom::End(0)).ok()?;
    let len = end.checked_sub(dir_start)?.min(64 << 20);
    let mut buf = vec![0u8; len as usize];
    r.seek(SeekFrom::Start(dir_start)).ok()?;
    r.read_exact(&mut buf).ok()?;
    let mut seen = std::collections::HashSet::new();
    let mut pos = 0;
    while buf.get(pos..)?.starts_with(b"PK\x01\x02") && pos + 46 <= buf.len() {
        let (n, x, c) = (
            u16_at(&buf, pos + 28),
            u16_at(&buf, pos + 30),
            u16_at(&buf, pos + 32),
        );
        let name = String::from_utf8_lossy(buf.get(pos + 46..pos + 46 + n as usize)?).into_owned();
        if !seen.insert(name.clone()) {
            return Some(name);
        }
        pos += 46 + (n + x + c) as usize;
    }
    None
}
