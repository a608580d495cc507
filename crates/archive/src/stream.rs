//! Reading one entry under the caps: inflate in 64 KiB chunks, count, hash, and stop the
//! moment a cap or the declared size is passed, so a bomb is never inflated in full.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::{ArchiveError, ReadLimits};

/// What the caller wants kept of an entry while it streams past.
pub(crate) enum Keep<'a> {
    Nothing,
    /// All of it, up to `limit` bytes (beyond that, `EntryTooLarge`).
    All(&'a mut Vec<u8>, u64),
    /// The last bytes, for a look at a nested zip's central directory.
    Tail(&'a mut TailBuffer),
    /// Written out as it streams (extraction).
    Write(&'a mut dyn std::io::Write),
}

/// Facts about an entry from the central directory.
pub(crate) struct Declared<'a> {
    pub name: &'a str,
    pub size: u64,
    pub compressed: u64,
}

/// Stream `reader` to its end under `limits`; returns (sha256 hex, inflated size).
pub(crate) fn read_capped(
    reader: &mut dyn Read,
    d: &Declared<'_>,
    limits: &ReadLimits,
    total: &mut u64,
    mut keep: Keep<'_>,
) -> Result<(String, u64), ArchiveError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(entry_io_error(d, size, e)),
        };
        size += n as u64;
        *total += n as u64;
        if size > d.size {
            return Err(ArchiveError::SizeMismatch {
                name: d.name.into(),
                declared: d.size,
                actual: size,
            });
        }
        if size > limits.max_entry_bytes {
            return Err(ArchiveError::EntryTooLarge {
                name: d.name.into(),
                limit: limits.max_entry_bytes,
            });
        }
        if *total > limits.max_total_bytes {
            return Err(ArchiveError::TotalTooLarge {
                limit: limits.max_total_bytes,
            });
        }
        if size > limits.ratio_floor_bytes && size > d.compressed.saturating_mul(limits.max_ratio) {
            return Err(ArchiveError::CompressionRatio {
                name: d.name.into(),
                compressed: d.compressed,
                limit: limits.max_ratio,
            });
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        match &mut keep {
            Keep::Nothing => {}
            Keep::All(v, limit) => {
                if size > *limit {
                    return Err(ArchiveError::EntryTooLarge {
                        name: d.name.into(),
                        limit: *limit,
                    });
                }
                v.extend_from_slice(chunk);
            }
            Keep::Tail(t) => t.push(chunk),
            Keep::Write(w) => w.write_all(chunk)?,
        }
    }
    if size != d.size {
        return Err(ArchiveError::SizeMismatch {
            name: d.name.into(),
            declared: d.size,
            actual: size,
        });
    }
    Ok((hex::encode(hasher.finalize()), size))
}

fn entry_io_error(d: &Declared<'_>, at: u64, e: std::io::Error) -> ArchiveError {
    // A `.tar.gz` pass stopped by its guard (a cap, a damaged stream) says why itself.
    let e = match crate::tgz::unwrap_io(e, ArchiveError::Io) {
        ArchiveError::Io(e) => e,
        stopped => return stopped,
    };
    // The zip crate also stops at the declared size; same failure, same error.
    if e.to_string().contains("larger than its declared") {
        return ArchiveError::SizeMismatch {
            name: d.name.into(),
            declared: d.size,
            actual: at,
        };
    }
    ArchiveError::CorruptZip(format!(
        "entry {:?} fails to inflate after {at} bytes: {e}",
        d.name
    ))
}

/// Keeps the last `cap` bytes of a stream, and how long the stream was.
pub(crate) struct TailBuffer {
    buf: Vec<u8>,
    head: Vec<u8>,
    cap: usize,
    pub total: u64,
}

impl TailBuffer {
    pub fn new(cap: usize) -> TailBuffer {
        TailBuffer {
            buf: Vec::new(),
            head: Vec::new(),
            cap,
            total: 0,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let want = 8usize.saturating_sub(self.head.len()).min(chunk.len());
        self.head.extend_from_slice(&chunk[..want]);
        self.buf.extend_from_slice(chunk);
        if self.buf.len() > 2 * self.cap {
            let cut = self.buf.len() - self.cap;
            self.buf.drain(..cut);
        }
    }

    /// The first (up to 8) bytes of the stream.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The kept bytes and the stream offset of their first byte.
    pub fn tail(&self) -> (&[u8], u64) {
        let start = self.buf.len().saturating_sub(self.cap);
        (
            &self.buf[start..],
            self.total - (self.buf.len() - start) as u64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_bytes_and_their_offset() {
        let mut t = TailBuffer::new(4);
        for i in 0..10u8 {
            t.push(&[i, i]);
        }
        assert_eq!(t.tail(), (&[8u8, 8, 9, 9][..], 16));
    }

    #[test]
    fn stops_at_the_declared_size_without_reading_on() {
        let mut endless = std::io::repeat(0);
        let d = Declared {
            name: "x",
            size: 1024,
            compressed: 10,
        };
        let mut total = 0;
        let e = read_capped(
            &mut endless,
            &d,
            &ReadLimits::default(),
            &mut total,
            Keep::Nothing,
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                ArchiveError::SizeMismatch {
                    declared: 1024,
                    actual: 65536,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn stops_at_the_entry_cap_and_the_ratio() {
        let limits = ReadLimits {
            max_entry_bytes: 100_000,
            ..ReadLimits::default()
        };
        let d = Declared {
            name: "x",
            size: u64::MAX,
            compressed: u64::MAX,
        };
        let e =
            read_capped(&mut std::io::repeat(0), &d, &limits, &mut 0, Keep::Nothing).unwrap_err();
        assert!(
            matches!(e, ArchiveError::EntryTooLarge { limit: 100_000, .. }),
            "{e:?}"
        );
        let d = Declared {
            name: "x",
            size: u64::MAX,
            compressed: 1000,
        };
        let e = read_capped(
            &mut std::io::repeat(0),
            &d,
            &ReadLimits::default(),
            &mut 0,
            Keep::Nothing,
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                ArchiveError::CompressionRatio {
                    compressed: 1000,
                    limit: 100,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
