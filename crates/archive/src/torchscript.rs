//! A cheap structural check that a serialized file is a TorchScript archive: it is itself
//! a zip, and its central directory (read from the tail kept while hashing the entry, so
//! the model is never held in memory) lists `<root>/data.pkl`, `<root>/constants.pkl`
//! and `<root>/code/...` under one root folder, as `torch.jit.save` writes them.

use crate::stream::TailBuffer;

fn u16_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?) as u64)
}
fn u32_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?) as u64)
}
fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

/// The names in the nested zip's central directory, or why they cannot be read.
fn central_names(tail: &[u8], base: u64) -> Result<Vec<String>, String> {
    let search_from = tail.len().saturating_sub(22 + 65535);
    let eocd = (search_from..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
        .ok_or("it is not a zip (no end-of-central-directory record)")?;
    let short = || "its end-of-central-directory record is truncated".to_string();
    let (mut count, mut offset) = (
        u16_at(tail, eocd + 10).ok_or_else(short)?,
        u32_at(tail, eocd + 16).ok_or_else(short)?,
    );
    if (count == 0xFFFF || offset == 0xFFFF_FFFF)
        && eocd >= 20
        && tail[eocd - 20..].starts_with(b"PK\x06\x07")
    {
        let z64 = u64_at(tail, eocd - 20 + 8).ok_or_else(short)?;
        let at = z64
            .checked_sub(base)
            .ok_or("its zip64 directory is beyond the part inspected")? as usize;
        if !tail.get(at..).is_some_and(|t| t.starts_with(b"PK\x06\x06")) {
            return Err("its zip64 end-of-central-directory record is missing".into());
        }
        count = u64_at(tail, at + 32).ok_or_else(short)?;
        offset = u64_at(tail, at + 48).ok_or_else(short)?;
    }
    let mut pos = offset
        .checked_sub(base)
        .ok_or("its central directory is larger than the 4 MiB inspected")?
        as usize;
    let mut names = Vec::new();
    for _ in 0..count.min(1_000_000) {
        let entry = tail
            .get(pos..)
            .filter(|t| t.starts_with(b"PK\x01\x02"))
            .ok_or("its central directory is damaged")?;
        let (n, x, c) = (u16_at(entry, 28), u16_at(entry, 30), u16_at(entry, 32));
        let (Some(n), Some(x), Some(c)) = (n, x, c) else {
            return Err("its central directory is truncated".into());
        };
        let name = entry
            .get(46..46 + n as usize)
            .ok_or("its central directory is truncated")?;
        names.push(String::from_utf8_lossy(name).into_owned());
        pos += 46 + (n + x + c) as usize;
    }
    Ok(names)
}

/// Check the tail of a serialized file; `Err` says what is missing.
pub(crate) fn check(tail: &TailBuffer, head: &[u8]) -> Result<(), String> {
    if !head.starts_with(b"PK\x03\x04") {
        return Err("it does not start with a zip header".into());
    }
    let (bytes, base) = tail.tail();
    let names = central_names(bytes, base)?;
    let root = names
        .first()
        .and_then(|n| n.split('/').next())
        .ok_or("it is an empty zip")?;
    if names.iter().any(|n| n.split('/').next() != Some(root)) {
        return Err("its entries are not under one root folder".into());
    }
    for want in ["data.pkl", "constants.pkl"] {
        let full = format!("{root}/{want}");
        if !names.contains(&full) {
            return Err(format!("it has no {full}"));
        }
    }
    let code = format!("{root}/code/");
    if !names.iter().any(|n| n.starts_with(&code)) {
        return Err(format!(
            "it has no {code} (an eager pickle, not TorchScript?)"
        ));
    }
    Ok(())
}
