//! An archive being kept as it arrives. The request's task only counts bytes against the
//! limit and passes chunks on; a thread of the upload's own, at nice 10, hashes them,
//! writes them and syncs the file. So a tenant's uploads (or junk sent as uploads) yield
//! the cores to inference: a 5 MB upload cost ~8 ms of normal-priority CPU on the runtime
//! and blocking-pool threads (SHA-256, copies, writeback), ~2 ms now (docs/benchmarks.md,
//! "Hostile neighbour"). Not the idle class: under saturation that leaves an upload a
//! sliver of a core (a 500 MB archive would take minutes); at nice 10 it still gets about
//! a tenth of a busy core, and each chunk's work is far shorter than a scheduler slice.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::Error;
use crate::holds::Holds;

/// Chunks queued ahead of the writer: enough to keep it busy, few enough that a slow disk
/// pushes back on the upload's sender instead of filling host memory.
const QUEUED: usize = 4;

enum Piece {
    Chunk(Bytes),
    /// Every byte has arrived: sync the file and say its hash.
    End,
}

/// Which limit an archive's size is held to: the server's (413) or a tenant's quota (429).
#[derive(Clone, Copy)]
pub(crate) enum Limit {
    Server(u64),
    Quota(u64),
}

/// A temporary file being filled and hashed, renamed to its hash when complete.
pub(crate) struct Sink {
    to_writer: Option<mpsc::Sender<Piece>>,
    written: Option<oneshot::Receiver<std::io::Result<String>>>,
    tmp: PathBuf,
    len: u64,
}

impl Sink {
    pub(crate) async fn create(dir: &Path) -> Result<Sink, Error> {
        let io = |e: std::io::Error| {
            Error::ArchiveStore(format!(
                "cannot write to {}: {e}; check --state-dir",
                dir.display()
            ))
        };
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let tmp = dir.join(format!(".upload-{}-{}", std::process::id(), unique()));
        let file = tokio::fs::File::create(&tmp).await.map_err(io)?;
        let file = file.into_std().await;
        let (to_writer, pieces) = mpsc::channel(QUEUED);
        let (done, written) = oneshot::channel();
        let started = std::thread::Builder::new()
            .name("archive-writer".into())
            .spawn(move || {
                let _ = done.send(write_out(file, pieces));
            });
        let sink = Sink {
            to_writer: Some(to_writer),
            written: Some(written),
            tmp,
            len: 0,
        };
        started.map_err(|e| {
            Error::ArchiveStore(format!(
                "cannot start a thread to keep the archive ({e}); the host is out of threads, retry later"
            ))
        })?;
        Ok(sink)
    }

    pub(crate) async fn write(&mut self, chunk: Bytes, limit: Limit) -> Result<(), Error> {
        self.len += chunk.len() as u64;
        if let Limit::Quota(q) = limit
            && self.len > q
        {
            let what = format!("the archive is over {q} bytes");
            return Err(Error::quota("max_archive_bytes", q, what));
        }
        if let Limit::Server(max) = limit
            && self.len > max
        {
            return Err(Error::UploadTooLarge(max));
        }
        let sent = match &self.to_writer {
            Some(tx) => tx.send(Piece::Chunk(chunk)).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The writer stopped: its error says why.
            Err(self.written().await.err().unwrap_or_else(|| {
                Error::ArchiveStore("writing the archive failed: the writer stopped".into())
            }))
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The writer's outcome (once), as the error a client sees.
    async fn written(&mut self) -> Result<String, Error> {
        let failed = |e: String| Error::ArchiveStore(format!("writing the archive failed: {e}"));
        self.to_writer = None;
        match self.written.take() {
            Some(rx) => match rx.await {
                Ok(Ok(sha)) => Ok(sha),
                Ok(Err(e)) => Err(failed(e.to_string())),
                Err(_) => Err(failed("the writer ended without a word".into())),
            },
            None => Err(failed("already finished".into())),
        }
    }

    /// Renames the file to its hash and holds it for the registration that kept it
    /// (released when the registration drops [`crate::ArchiveStore::held`]'s guard), so a
    /// concurrent refusal of the same bytes cannot delete it in between.
    pub(crate) async fn finish(
        mut self,
        dir: &Path,
        holds: &Holds,
    ) -> Result<(PathBuf, String), Error> {
        if self.len == 0 {
            return Err(Error::MissingArchive);
        }
        if let Some(tx) = &self.to_writer {
            let _ = tx.send(Piece::End).await;
        }
        let sha = self.written().await?;
        let path = dir.join(format!("{sha}.mar"));
        holds
            .rename_and_hold(&self.tmp, &path)
            .map_err(|e| Error::ArchiveStore(format!("keeping the archive failed: {e}")))?;
        // A directory sync waits on the disk: not on a runtime thread.
        let synced = dir.to_path_buf();
        let _ = tokio::task::spawn_blocking(move || crate::snapshot::sync_dir(&synced)).await;
        Ok((path, sha))
    }
}

impl Drop for Sink {
    /// A refused or failed upload leaves nothing behind (after `finish` the name is gone;
    /// a writer still running writes to an unlinked file, freed when it stops).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// The writer thread: nice 10, then every chunk hashed and written until the end (or
/// until the request is dropped, which closes the channel without an end).
fn write_out(
    mut file: std::fs::File,
    mut pieces: mpsc::Receiver<Piece>,
) -> std::io::Result<String> {
    demote_current_thread();
    let mut hash = Sha256::new();
    while let Some(piece) = pieces.blocking_recv() {
        match piece {
            Piece::Chunk(chunk) => {
                hash.update(&chunk);
                file.write_all(&chunk)?;
            }
            Piece::End => {
                file.sync_all()?;
                return Ok(hex::encode(hash.finalize()));
            }
        }
    }
    Err(std::io::Error::other(
        "the upload ended before its last byte",
    ))
}

/// Nice 10 for this thread's whole (short) life (raising one's nice needs no privilege;
/// the thread ends with its upload, so nothing has to lower it again). It holds no lock
/// another thread waits for, so the lower priority stalls no one else.
fn demote_current_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: a scheduler call on this thread's own id (Linux's nice is per thread).
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, NICE);
    }
}

/// The writer's nice value.
const NICE: libc::c_int = 10;

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn chunks_end_up_in_a_file_named_by_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let holds = Holds::default();
        let mut sink = Sink::create(dir.path()).await.unwrap();
        let mut all = Vec::new();
        // More chunks than the queue holds, so the request side waits on the writer.
        for i in 0..(QUEUED * 8) {
            let chunk = Bytes::from(vec![i as u8; 10_000 + i]);
            all.extend_from_slice(&chunk);
            sink.write(chunk, Limit::Server(u64::MAX)).await.unwrap();
        }
        let (path, sha) = sink.finish(dir.path(), &holds).await.unwrap();
        assert_eq!(sha, hex::encode(Sha256::digest(&all)));
        assert_eq!(std::fs::read(&path).unwrap(), all);
        assert_eq!(names(dir.path()), vec![format!("{sha}.mar")]);
    }

    #[tokio::test]
    async fn a_refused_or_dropped_upload_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::create(dir.path()).await.unwrap();
        sink.write(Bytes::from_static(b"12345"), Limit::Quota(8))
            .await
            .unwrap();
        let e = sink
            .write(Bytes::from_static(b"6789"), Limit::Quota(8))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("max_archive_bytes"), "{e}");
        drop(sink);
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));

        let mut sink = Sink::create(dir.path()).await.unwrap();
        let e = sink
            .write(Bytes::from(vec![0; 11]), Limit::Server(10))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::UploadTooLarge(10)), "{e}");
        drop(sink);
        let empty = Sink::create(dir.path()).await.unwrap();
        let e = empty
            .finish(dir.path(), &Holds::default())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::MissingArchive), "{e}");
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
    }

    /// Archive writer threads of this process: id and nice value (`/proc` stat field 19).
    fn writers() -> Vec<(String, String)> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| {
                let t = t.unwrap().path();
                let comm = std::fs::read_to_string(t.join("comm")).ok()?;
                let stat = std::fs::read_to_string(t.join("stat")).ok()?;
                let nice = stat.rsplit(')').next()?.split_whitespace().nth(16)?;
                let tid = t.file_name()?.to_string_lossy().into_owned();
                (comm.trim() == "archive-writer").then(|| (tid, nice.to_owned()))
            })
            .collect()
    }

    #[tokio::test]
    async fn the_writer_runs_at_nice_10_and_leaves_with_the_request() {
        let dir = tempfile::tempdir().unwrap();
        let before = writers();
        let mut sink = Sink::create(dir.path()).await.unwrap();
        sink.write(Bytes::from_static(b"x"), Limit::Server(100))
            .await
            .unwrap();
        // Other tests in this process keep archives too: only new writers count, and a
        // new one demotes itself as it starts, which may be after the first chunk is queued.
        let mut mine = Vec::new();
        for _ in 0..500 {
            mine = writers()
                .into_iter()
                .filter(|w| !before.iter().any(|b| b.0 == w.0))
                .collect();
            if mine.iter().any(|(_, nice)| *nice == NICE.to_string()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let demoted = mine.iter().any(|(_, nice)| *nice == NICE.to_string());
        assert!(demoted, "no writer at nice {NICE}: {mine:?}");
        drop(sink);
        for _ in 0..500 {
            let now = writers();
            if !mine.iter().any(|w| now.iter().any(|n| n.0 == w.0)) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the dropped upload's writer is still running: {mine:?}");
    }
}
