//! A cell's stdout and stderr: its own log lines, and whatever a model prints (TorchScript
//! has `print`). Relayed line by line into the server's stderr under a budget per cell, so
//! a model printing in a loop cannot flood the server's log or the disk it is written to:
//! at most [`BUDGET`] bytes a minute, lines cut at [`MAX_LINE`]; past the budget, lines are
//! dropped and counted, and the count is said once the minute is over.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes a cell may write to the server's log in a [`WINDOW`].
pub(crate) const BUDGET: usize = 256 << 10;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// A longer line is cut here (and the rest of it dropped).
pub(crate) const MAX_LINE: usize = 8 << 10;

/// One cell's budget, shared by its two streams.
pub(crate) struct Budget {
    cell: String,
    state: Mutex<(Instant, usize, u64)>,
}

impl Budget {
    pub fn new(cell: &str) -> Arc<Budget> {
        Arc::new(Budget {
            cell: cell.to_owned(),
            state: Mutex::new((Instant::now(), 0, 0)),
        })
    }

    /// Whether `len` more bytes may be written now; says what was dropped when a new
    /// window opens.
    fn take(&self, len: usize, out: &mut impl Write) -> bool {
        let mut s = self.state.lock().unwrap();
        let (start, used, dropped) = &mut *s;
        if start.elapsed() >= WINDOW {
            if *dropped > 0 {
                let _ = writeln!(
                    out,
                    "[cell {}] {dropped} bytes of its output were dropped (over {BUDGET} bytes a minute)",
                    self.cell
                );
            }
            (*start, *used, *dropped) = (Instant::now(), 0, 0);
        }
        if *used + len <= BUDGET {
            *used += len;
            true
        } else {
            *dropped += len as u64;
            false
        }
    }
}

/// Relays `from` into the server's stderr on a thread of its own until the cell closes it.
pub(crate) fn relay(from: impl Read + Send + 'static, budget: Arc<Budget>) {
    let spawned = std::thread::Builder::new()
        .name("cell-output".into())
        .spawn(move || copy(from, &budget, &mut std::io::stderr()));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot relay a cell's output; it is dropped");
    }
}

fn copy(from: impl Read, budget: &Budget, out: &mut impl Write) {
    let mut reader = BufReader::new(from);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        // Read at most MAX_LINE bytes of the line, then skip the rest of it.
        let n = match (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if line.last() != Some(&b'\n') {
            if n == MAX_LINE && skip_line(&mut reader).is_err() {
                return;
            }
            line.push(b'\n');
        }
        if budget.take(line.len(), out) {
            let _ = out.write_all(&line);
        }
    }
}

/// Discards input up to and including the next newline.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = buf.len();
                reader.consume(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_budget_and_long_lines_to_their_cap() {
        let budget = Budget::new("tenant-a");
        let mut flood = Vec::new();
        flood.extend_from_slice(&vec![b'x'; 3 * MAX_LINE]);
        flood.push(b'\n');
        for i in 0..100_000 {
            flood.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let mut out = Vec::new();
        copy(&flood[..], &budget, &mut out);
        assert!(out.len() <= BUDGET, "{} bytes got through", out.len());
        assert!(out.len() > BUDGET - 64, "the budget is used: {}", out.len());
        let first = out.split(|&b| b == b'\n').next().unwrap();
        assert_eq!(
            first.len(),
            MAX_LINE,
            "the long line is cut, its rest dropped"
        );
        assert!(out.starts_with(&[b'x'; 16]) && out[MAX_LINE + 1..].starts_with(b"line 0\n"));
        // Once the window is over, what was dropped is said, and lines pass again.
        budget.state.lock().unwrap().0 -= WINDOW;
        let mut later = Vec::new();
        copy(&b"after\n"[..], &budget, &mut later);
        let text = String::from_utf8(later).unwrap();
        assert!(text.contains("bytes of its output were dropped"), "{text}");
        assert!(text.ends_with("after\n"), "{text}");
    }

    #[test]
    fn a_last_line_without_a_newline_still_passes() {
        let budget = Budget::new("c");
        let mut out = Vec::new();
        copy(&b"one\ntwo"[..], &budget, &mut out);
        assert_eq!(out, b"one\ntwo\n");
    }
}
